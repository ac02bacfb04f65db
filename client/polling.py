"""Waiting for a batch to end: poll its status with a growing interval, report each poll.

How often depends on the target (`schedule_for`): the live service runs a batch over minutes to
hours, so the first wait is 30 s, growing by 1.25 to 60 s; a server on this machine (a simulator on
a loopback address) finishes small batches in seconds, so there it is 1 s, growing by 1.2 to 5 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from client.clock import Clock
from client.config import is_loopback
from client.errors import WaitTimeoutError
from client.models import Batch

ProgressCallback = Callable[[Batch], None]


@dataclass(frozen=True)
class PollSchedule:
    """The first wait between polls, the factor each next one grows by, and the longest wait."""

    first: float
    backoff: float = 1.25
    maximum: float = 60.0

    @classmethod
    def fixed(cls, seconds: float) -> PollSchedule:
        return cls(seconds, 1.0, seconds)


LIVE_POLL = PollSchedule(30.0, 1.25, 60.0)
LOCAL_POLL = PollSchedule(1.0, 1.2, 5.0)


def schedule_for(base_url: str) -> PollSchedule:
    """`LOCAL_POLL` for a loopback host (127.0.0.0/8, localhost, ::1), else `LIVE_POLL`."""
    return LOCAL_POLL if is_loopback(base_url) else LIVE_POLL


def wait_for_batch(
    get: Callable[[], Batch], clock: Clock, *, poll_interval: float = 30.0, backoff: float = 1.25,
    max_interval: float = 60.0, timeout: float | None = None, on_progress: ProgressCallback | None = None,
) -> Batch:
    """Poll `get()` until the batch's status is final and return it. The first wait is `poll_interval`
    seconds, each next one `backoff` times longer, up to `max_interval`. `on_progress` sees every poll.
    Raises `WaitTimeoutError` once `timeout` seconds (on `clock`) have passed without an end."""
    if poll_interval <= 0 or backoff < 1:
        raise ValueError("poll_interval must be > 0 and backoff >= 1")
    started = clock.now()
    interval = poll_interval
    while True:
        batch = get()
        if on_progress is not None:
            on_progress(batch)
        if batch.is_final:
            return batch
        if timeout is not None:
            left = timeout - (clock.now() - started)
            if left <= 0:
                raise WaitTimeoutError(f"batch {batch.id} still {batch.status} after {timeout:g} s", batch)
            clock.sleep(min(interval, left))
        else:
            clock.sleep(interval)
        interval = min(interval * backoff, max(max_interval, poll_interval))

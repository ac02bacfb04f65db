"""Waiting for a batch to end: poll its status with a growing interval, report each poll."""

from __future__ import annotations

from collections.abc import Callable

from client.clock import Clock
from client.errors import WaitTimeoutError
from client.models import Batch

ProgressCallback = Callable[[Batch], None]


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

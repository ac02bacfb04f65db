"""When a failed request is tried again, and after how long.

429 and 503 are retried, waiting what `Retry-After` says (or a doubling backoff when it says
nothing), a bounded number of times, and never for longer than `max_wait` per wait: a server that
asks for more is answered with the error instead. Reads are also retried after a dropped connection.
Requests that create something (an upload, a batch) are retried only on 429, which both of the live
service's 429 sources answer before storing anything; a 503, a timeout or a dropped connection may
come after the file or batch was stored, so repeating the request could create a duplicate.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from client.clock import Clock
from client.errors import APIConnectionError, APIStatusError

T = TypeVar("T")


class Kind(enum.Enum):
    """What a request does, which decides what may be retried."""

    READ = "read"  # GET: 429, 503 and connection failures
    CHANGE = "change"  # cancel, delete, retry: 429 and 503 (the server answered, so it did not act)
    CREATE = "create"  # upload, create batch: 429 only


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    max_wait: float = 120.0
    backoff: float = 1.0  # first wait when the server gives no Retry-After; doubles each time

    def delay(self, error: Exception, kind: Kind, retries_done: int) -> float | None:
        """Seconds to wait before trying again, or None to give up and raise `error`."""
        if retries_done >= self.max_retries:
            return None
        fallback: float = self.backoff * 2.0**retries_done
        if isinstance(error, APIStatusError):
            allowed = {429} if kind is Kind.CREATE else {429, 503}
            if error.status_code not in allowed:
                return None
            wait = fallback if error.retry_after is None else error.retry_after
            return wait if wait <= self.max_wait else None
        if isinstance(error, APIConnectionError) and kind is Kind.READ:
            return min(fallback, self.max_wait)
        return None


def with_retries(attempt: Callable[[], T], *, kind: Kind, policy: RetryPolicy, clock: Clock) -> T:
    """Call `attempt` until it returns, retrying what `policy` allows."""
    retries = 0
    while True:
        try:
            return attempt()
        except (APIStatusError, APIConnectionError) as exc:
            wait = policy.delay(exc, kind, retries)
            if wait is None:
                raise
        clock.sleep(wait)
        retries += 1

"""A batch as a precomputed schedule: when each request starts, every attempt and how it ended.

Pure functions, no storage and no clock: given the requests, the time they become runnable, the
timing model and an `attempt` function (the simulated model, or a fault rule), compute each
request's final outcome and when it happened. Everything a client later sees (status, counts, the
output and error files) is a function of this schedule and `now`.

Timing model (each a setting): each model runs at most `concurrency` requests of the batch at once,
in input order; an attempt takes a seeded time between `latency_min` and `latency_max`, longer for
larger bodies. Retry rules are the live daemon's (`fusillade` `default_should_retry`, `can_retry`):
5xx, 429, 408, 404, network errors and timeouts are retried after 1 s doubling up to 10 s, for at
most `max_attempts` attempts and only while the next attempt would start before `expires_at` less
15 minutes; other failures end the request at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

STOP_BEFORE_DEADLINE = 15 * 60
BACKOFF_START = 1.0
BACKOFF_CAP = 10.0
SIZE_FOR_MAX_LATENCY = 16 * 1024


@dataclass(frozen=True)
class Timing:
    latency_min: float = 0.2
    latency_max: float = 2.0
    concurrency: int = 32
    max_attempts: int = 1000


@dataclass(frozen=True)
class Attempt:
    """What one attempt got back: an HTTP answer (`status`, `body`), or a transport failure."""

    status: int  # 0 for a transport failure (see `failure`)
    body: Any
    failure: str | None = None  # "NetworkError" | "Timeout" with `body` as its message
    latency: float | None = None  # overrides the timing model when set


@dataclass(frozen=True)
class Planned:
    index: int
    start: float
    end: float
    attempts: int
    final: Attempt

    @property
    def succeeded(self) -> bool:
        return self.final.failure is None and 200 <= self.final.status < 300


T = TypeVar("T")


def _same(planned: Planned) -> Planned:
    return planned


def is_retriable(attempt: Attempt) -> bool:
    if attempt.failure is not None:
        return True
    return attempt.status >= 500 or attempt.status in (429, 408, 404)


def backoff(retry_number: int) -> float:
    return float(min(BACKOFF_START * 2.0**retry_number, BACKOFF_CAP))


def latency(draw: float, timing: Timing, body_size: int) -> float:
    """An attempt's duration from a uniform `draw` in [0, 1) and the request body's size."""
    spread = timing.latency_max - timing.latency_min
    size_share = min(1.0, body_size / SIZE_FOR_MAX_LATENCY)
    return float(timing.latency_min + spread * (0.7 * draw + 0.3 * size_share))


def plan(
    models: Sequence[str],
    ready_at: float,
    expires_at: float,
    timing: Timing,
    attempt: Callable[[int, int, float], Attempt],
    duration: Callable[[int, int], float],
    indices: Sequence[int] | None = None,
) -> list[Planned]:
    """`plan_each` keeping every request's `Planned` outcome."""
    return plan_each(models, ready_at, expires_at, timing, attempt, duration, _same, indices)


def plan_each(
    models: Sequence[str],
    ready_at: float,
    expires_at: float,
    timing: Timing,
    attempt: Callable[[int, int, float], Attempt],
    duration: Callable[[int, int], float],
    finish: Callable[[Planned], T],
    indices: Sequence[int] | None = None,
) -> list[T]:
    """Schedule the requests `indices` (default: all) of a batch whose models are `models`.

    `attempt(index, attempt_number, start)` answers one attempt; `duration(index, attempt_number)`
    is its latency under the timing model (unless the attempt sets its own). Each request's final
    outcome goes through `finish` as soon as it is known (so a large answer need not be kept), and
    the results come back in index order.
    """
    order = range(len(models)) if indices is None else indices
    ready: list[tuple[float, int, int]] = [(ready_at, i, 0) for i in order]
    heapq.heapify(ready)
    slots: dict[str, list[float]] = {}
    first_start: dict[int, float] = {}
    done: list[tuple[int, T]] = []
    retry_deadline = expires_at - STOP_BEFORE_DEADLINE
    while ready:
        at, i, n = heapq.heappop(ready)
        free = slots.setdefault(models[i], [ready_at] * max(1, timing.concurrency))
        start = max(at, heapq.heappop(free))
        first_start.setdefault(i, start)
        got = attempt(i, n, start)
        end = start + (got.latency if got.latency is not None else duration(i, n))
        heapq.heappush(free, end)
        retry_at = end + backoff(n)
        if is_retriable(got) and n + 1 < timing.max_attempts and retry_at <= retry_deadline:
            heapq.heappush(ready, (retry_at, i, n + 1))
        else:
            done.append((i, finish(Planned(i, first_start[i], end, n + 1, got))))
    done.sort(key=lambda pair: pair[0])
    return [value for _, value in done]

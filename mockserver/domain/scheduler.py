"""The scheduler: when each request of a batch starts, every attempt and how it ended.

No storage and no clock: given the requests, the time they become runnable, the
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
import math
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


class Scheduler:
    """Which attempt of which request runs when: the one home of the timing rules.

    Each model has `concurrency` slots (the time each is next free); a request waits in its model's
    ready queue, ordered by (ready time, index, attempt); an attempt starts at max(its ready time,
    the earliest free slot). `finish` frees the slot at the attempt's end and either queues a retry
    (retriable, under the attempt limit, and starting before the retry deadline) or hands back the
    request's final `Planned` outcome.

    The planner runs it to completion at once (`due()` with no `now`: every attempt can start); the
    upstream driver runs it on the clock (`due(now)`: only attempts that start by `now`).
    """

    def __init__(self, timing: Timing, ready_at: float, expires_at: float) -> None:
        self.timing = timing
        self.ready_at = ready_at
        self.retry_deadline = expires_at - STOP_BEFORE_DEADLINE
        self._ready: dict[str, list[tuple[float, int, int]]] = {}
        self._free: dict[str, list[float]] = {}
        self._model: dict[int, str] = {}
        self._first_start: dict[int, float] = {}

    def add(self, index: int, model: str) -> None:
        """Request `index` (of model `model`) becomes runnable at the batch's ready time."""
        self._model[index] = model
        queue = self._ready.get(model)
        if queue is None:
            queue = self._ready[model] = []
            self._free[model] = [self.ready_at] * max(1, self.timing.concurrency)
        heapq.heappush(queue, (self.ready_at, index, 0))

    @property
    def waiting(self) -> bool:
        """Whether some attempt is still queued."""
        return any(self._ready.values())

    def due(self, now: float = math.inf, keep: Callable[[int], bool] | None = None) -> tuple[int, int, float] | None:
        """The next attempt (index, attempt number, start) that can start by `now`, its slot taken;
        None when none can. Queued attempts of a request `keep` refuses are dropped."""
        for model, queue in self._ready.items():
            free = self._free[model]
            while queue and free:
                at, i, n = queue[0]
                if keep is not None and not keep(i):
                    heapq.heappop(queue)
                    continue
                start = at if at > free[0] else free[0]
                if start > now:
                    break
                heapq.heappop(queue)
                heapq.heappop(free)
                self._first_start.setdefault(i, start)
                return i, n, start
        return None

    def finish(self, index: int, n: int, end: float, got: Attempt) -> Planned | None:
        """Attempt `n` of request `index` ended at `end` with `got`: its slot is free again. A retry is
        queued when the live rules allow one (None is returned); else the request's final outcome."""
        model = self._model[index]
        heapq.heappush(self._free[model], end)
        retry_at = end + backoff(n)
        if is_retriable(got) and n + 1 < self.timing.max_attempts and retry_at <= self.retry_deadline:
            heapq.heappush(self._ready[model], (retry_at, index, n + 1))
            return None
        return Planned(index, self._first_start.pop(index), end, n + 1, got)


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
    """Schedule the requests `indices` (default: all) of a batch whose models are `models`, at once.

    `attempt(index, attempt_number, start)` answers one attempt; `duration(index, attempt_number)`
    is its latency under the timing model (unless the attempt sets its own). Each request's final
    outcome goes through `finish` as soon as it is known (so a large answer need not be kept), and
    the results come back in index order.
    """
    scheduler = Scheduler(timing, ready_at, expires_at)
    for i in range(len(models)) if indices is None else indices:
        scheduler.add(i, models[i])
    done: list[tuple[int, T]] = []
    while (next_up := scheduler.due()) is not None:
        i, n, start = next_up
        got = attempt(i, n, start)
        end = start + (got.latency if got.latency is not None else duration(i, n))
        final = scheduler.finish(i, n, end, got)
        if final is not None:
            done.append((i, finish(final)))
    done.sort(key=lambda pair: pair[0])
    return [value for _, value in done]


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

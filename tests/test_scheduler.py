"""The batch planner: concurrency, the live retry rules, deadlines (fusillade `default_should_retry`,
`can_retry`; research/doubleword-server.md §4 item 3)."""

from __future__ import annotations

import pytest

from mockserver.domain.scheduler import STOP_BEFORE_DEADLINE, Attempt, Scheduler, Timing, backoff, is_retriable, plan

OK = Attempt(200, {"ok": True})
DAY = 86_400.0



def test_concurrency_limits_how_many_run_at_once() -> None:
    timing = Timing(concurrency=2)
    done = plan(["m"] * 5, 10.0, 10.0 + DAY, timing, lambda i, n, s: OK, lambda i, n: 1.0)
    assert [p.start for p in done] == [10.0, 10.0, 11.0, 11.0, 12.0]
    assert [p.end for p in done] == [11.0, 11.0, 12.0, 12.0, 13.0]
    assert all(p.succeeded and p.attempts == 1 for p in done)


def test_models_have_separate_slots() -> None:
    done = plan(["a", "b", "a", "b"], 0.0, DAY, Timing(concurrency=1), lambda i, n, s: OK, lambda i, n: 1.0)
    assert [p.start for p in done] == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408, 404])
def test_retriable_statuses_are_retried_with_backoff_then_succeed(status: int) -> None:
    answers = {0: Attempt(status, "busy"), 1: Attempt(status, "busy"), 2: OK}
    done = plan(["m"], 0.0, DAY, Timing(), lambda i, n, s: answers[n], lambda i, n: 1.0)
    (only,) = done
    assert only.succeeded
    assert only.attempts == 3
    # attempts at 0, 1+1=2 (after 1 s backoff), 3+2=5 (after 2 s); the last ends at 6
    assert only.end == 6.0


@pytest.mark.parametrize("status", [400, 401, 403, 409, 422])
def test_other_client_errors_fail_at_once(status: int) -> None:
    (only,) = plan(["m"], 0.0, DAY, Timing(), lambda i, n, s: Attempt(status, "no"), lambda i, n: 1.0)
    assert not only.succeeded
    assert only.attempts == 1
    assert not is_retriable(only.final)


def test_network_errors_and_timeouts_are_retriable() -> None:
    assert is_retriable(Attempt(0, "reset", failure="NetworkError"))
    assert is_retriable(Attempt(0, "slow", failure="Timeout"))


def test_backoff_doubles_and_caps_at_ten_seconds() -> None:
    assert [backoff(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_retries_stop_at_the_attempt_limit() -> None:
    (only,) = plan(["m"], 0.0, 10 * DAY, Timing(max_attempts=5), lambda i, n, s: Attempt(503, "x"), lambda i, n: 0.5)
    assert only.attempts == 5
    assert not only.succeeded


def test_retries_stop_before_the_deadline() -> None:
    expires = 3600.0
    (only,) = plan(["m"], 0.0, expires, Timing(), lambda i, n, s: Attempt(503, "x"), lambda i, n: 1.0)
    assert not only.succeeded
    # no attempt may start after expires_at - 15 min; the next one would have
    assert only.end - 1.0 <= expires - STOP_BEFORE_DEADLINE
    assert only.end + backoff(only.attempts - 1) > expires - STOP_BEFORE_DEADLINE


def test_a_subset_can_be_replanned_from_a_later_time() -> None:
    done = plan(["m"] * 4, 100.0, 100.0 + DAY, Timing(), lambda i, n, s: OK, lambda i, n: 1.0, indices=[1, 3])
    assert [p.index for p in done] == [1, 3]
    assert all(p.start == 100.0 for p in done)


def test_an_attempt_may_set_its_own_latency() -> None:
    (only,) = plan(["m"], 0.0, DAY, Timing(), lambda i, n, s: Attempt(200, {}, latency=30.0), lambda i, n: 1.0)
    assert only.end == 30.0


def test_on_the_clock_an_attempt_is_due_only_once_its_start_has_come() -> None:
    scheduler = Scheduler(Timing(concurrency=1), 10.0, 10.0 + DAY)
    scheduler.add(0, "m")
    scheduler.add(1, "m")
    assert scheduler.due(9.0) is None
    assert scheduler.due(10.0) == (0, 0, 10.0)
    assert scheduler.due(100.0) is None  # the one slot is taken
    assert scheduler.finish(0, 0, 12.0, Attempt(503, "busy")) is None  # retried after 1 s
    assert scheduler.due(11.9) is None
    assert scheduler.due(12.0) == (1, 0, 12.0)  # the slot freed at 12; request 1 was queued first
    final = scheduler.finish(1, 0, 13.0, OK)
    assert final is not None and (final.index, final.start, final.end, final.attempts) == (1, 12.0, 13.0, 1)
    assert scheduler.due(12.9) is None
    assert scheduler.due(13.0) == (0, 1, 13.0)
    final = scheduler.finish(0, 1, 14.0, OK)
    assert final is not None and (final.start, final.end, final.attempts) == (10.0, 14.0, 2)
    assert not scheduler.waiting


def test_requests_the_driver_no_longer_owns_are_dropped_without_taking_a_slot() -> None:
    scheduler = Scheduler(Timing(concurrency=1), 0.0, DAY)
    for i in range(3):
        scheduler.add(i, "m")
    assert scheduler.due(keep=lambda i: i == 2) == (2, 0, 0.0)
    assert not scheduler.waiting

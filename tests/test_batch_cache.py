"""The cached batch rows and schedules: a save made on another thread (planning, an upstream's
answers) is never hidden by a read the event loop made just before it."""

from __future__ import annotations

from typing import Any

from contract_tests.helpers import chat_line, jsonl, start_batch
from mockserver.store import RequestRow, Store
from mockserver.testing import AsgiTarget


def test_a_row_read_just_before_the_plan_was_saved_is_not_kept() -> None:
    target = AsgiTarget(["--seed", "4"])
    try:
        store: Store = target.backend.store
        real_save = store.save_requests
        saves: list[str] = []

        def save_while_the_loop_reads(batch_id: str, rows: list[RequestRow], mark_scheduled: bool,
                                      **changes: Any) -> None:
            # the interleaving of the race: the loop reads the row (still unscheduled), the planning
            # thread saves and drops the cache, then the loop's read lands in the cache
            stale = store.get_batch(batch_id)
            real_save(batch_id, rows, mark_scheduled, **changes)
            saves.append(batch_id)
            if stale is not None:
                store._batches[batch_id] = stale

        store.save_requests = save_while_the_loop_reads  # type: ignore[method-assign]
        with target.client("cache-user") as api:
            batch = start_batch(api, jsonl(*(chat_line(f"r{i}") for i in range(5))))
            target.advance(3600)
            for _ in range(3):
                got = api.get(f"/batches/{batch['id']}").json()
        assert got["status"] == "completed" and got["request_counts"]["completed"] == 5
        assert saves == [batch["id"]]  # planned once: a stale unscheduled row would plan it again
    finally:
        target.close()

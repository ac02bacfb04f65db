"""The planning runner (`domain/planning.py`): a read inside the validation delay never waits for the
plan; a read past it does; retries and restarts plan what is missing."""

from __future__ import annotations

import threading
from typing import Any

from contract_tests.helpers import chat_line, jsonl, start_batch
from mockserver.domain.planning import Plan, PlanJob
from mockserver.testing import AsgiTarget


def test_a_read_while_validating_does_not_wait_for_the_plan() -> None:
    target = AsgiTarget(["--seed", "2", "--validation-delay", "60"])
    release = threading.Event()
    finished = threading.Event()
    compute = target.backend.planning.compute

    def held(job: PlanJob) -> Plan:
        release.wait(20)  # a read that waited for this plan would wait these 20 s, then find it finished
        try:
            return compute(job)
        finally:
            finished.set()

    target.backend.planning.compute = held  # type: ignore[method-assign]
    try:
        with target.client("reader") as api:
            batch = start_batch(api, jsonl(*(chat_line(f"r{i}") for i in range(3))))
            seen: list[Any] = [api.get(f"/batches/{batch['id']}").json() for _ in range(3)]
            listed = api.get("/batches").json()["data"]
            assert not finished.is_set()  # every read above was answered while the plan was held
            assert [b["status"] for b in seen] == ["validating"] * 3
            assert seen[0]["request_counts"] == {"total": 3, "completed": 0, "failed": 0}
            assert [b["id"] for b in listed] == [batch["id"]] and listed[0]["status"] == "validating"
            release.set()
            target.advance(3600)
            done = api.get(f"/batches/{batch['id']}").json()  # past validation: waits for the plan
            assert finished.is_set()
            assert done["status"] == "completed" and done["request_counts"]["completed"] == 3
    finally:
        release.set()
        target.close()

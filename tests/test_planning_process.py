"""Big plans are made in the planning process (`domain/planning.py`): the same rows as on the planning
thread, polls answered meanwhile, and no process left behind when the server is killed."""

from __future__ import annotations

import os
import select
import signal
from pathlib import Path

import httpx

from contract_tests.helpers import chat_line, custom_ids, jsonl, start_batch
from contract_tests.lifecycle import run_to_end
from mockserver.domain.planning import IN_PROCESS_BELOW, PlanningRunner
from mockserver.testing import AsgiTarget, HttpTarget

LINES = IN_PROCESS_BELOW  # the smallest plan that is made in the planning process


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            found.update(int(child) for child in fh.read().split())
    return found


def planning_processes(pid: int) -> set[int]:
    """The server's children that run the planning process."""
    return {child for child in children(pid)
            if b"mockserver.domain.planning_process" in Path(f"/proc/{child}/cmdline").read_bytes()}


def ended_within(pid: int, seconds: float) -> bool:
    """Whether process `pid` (not a child of ours) ends within `seconds`: waited for on its pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], seconds)
        return bool(readable)
    finally:
        os.close(fd)


def output(api: httpx.Client, batch: dict[str, object]) -> list[bytes]:
    return api.get(f"/files/{batch['output_file_id']}/content").content.splitlines()


def test_a_big_plan_made_in_the_process_is_the_plan_the_thread_makes() -> None:
    content = jsonl(*(chat_line(f"r{i}") for i in range(LINES)))
    outputs = []
    for force_thread in (False, True):
        target = AsgiTarget(["--seed", "11"])
        if force_thread:  # the same plan, made on the planning thread
            runner: PlanningRunner = target.backend.planning
            runner._plan_in_process = lambda job: False  # type: ignore[method-assign]
        try:
            target.control("POST", "/_mock/clock/set", {"now": 4_102_444_800})
            with target.client("same-key") as api:
                batch = start_batch(api, content)
                done = run_to_end(target, api, str(batch["id"]))
                assert done["request_counts"]["completed"] == LINES
                outputs.append(output(api, batch))
                assert (target.backend.planning._process.pid is None) == force_thread
        finally:
            target.close()
    assert len(outputs[0]) == LINES
    assert outputs[0] == outputs[1]


def test_a_killed_server_leaves_no_planning_process_behind() -> None:
    target = HttpTarget(["--seed", "3"])
    try:
        with target.client("k") as api:
            batch = start_batch(api, jsonl(*(chat_line(f"q{i}") for i in range(LINES))))
            done = run_to_end(target, api, str(batch["id"]))
            assert sorted(custom_ids(b"\n".join(output(api, batch)).decode())) == sorted(f"q{i}" for i in range(LINES))
            assert done["status"] == "completed"
        workers = planning_processes(target.proc.pid)
        assert len(workers) == 1, workers
        target.proc.send_signal(signal.SIGKILL)
        target.proc.wait(10)
        assert all(ended_within(w, 10) for w in workers), workers
    finally:
        target.close()

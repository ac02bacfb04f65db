"""State survives a hard stop: a simulator killed with SIGKILL and started again on the same data
folder serves the same files, batches, content and clock, and finishes the batches it had."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contract_tests.helpers import chat_line, jsonl, start_batch
from mockserver.testing import ServerProcess


class Server:
    def __init__(self, data_dir: Path) -> None:
        server = ServerProcess(["--clock", "manual", "--seed", "3", "--data-dir", str(data_dir),
                                "--log-level", "warning"])
        self.proc, self.root = server.proc, server.root
        self.api = httpx.Client(base_url=self.root + "/v1", headers={"Authorization": "Bearer durable"})

    def advance(self, seconds: float) -> None:
        self.api.post(self.root + "/_mock/clock/advance", json={"seconds": seconds}).raise_for_status()

    def kill(self) -> None:
        self.api.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def test_a_killed_simulator_resumes_where_it_stopped(data_dir: Path) -> None:
    first = Server(data_dir)
    lines = jsonl(*(chat_line(f"r{i}", f"q {i}") for i in range(50)), chat_line("bad", temperature=9))
    batch = start_batch(first.api, lines)
    first.advance(2)
    before = first.api.get(f"/batches/{batch['id']}").json()
    assert before["status"] == "in_progress"
    partial = first.api.get(f"/files/{batch['output_file_id']}/content").text
    clock = first.api.get(first.root + "/_mock/clock").json()["now"]
    input_content = first.api.get(f"/files/{batch['input_file_id']}/content").text
    first.kill()

    second = Server(data_dir)
    try:
        assert second.api.get(second.root + "/_mock/clock").json()["now"] == clock
        again = second.api.get(f"/batches/{batch['id']}").json()
        assert again == before
        assert second.api.get(f"/files/{batch['input_file_id']}/content").text == input_content
        assert second.api.get(f"/files/{batch['output_file_id']}/content").text == partial
        second.advance(120)
        done = second.api.get(f"/batches/{batch['id']}").json()
        assert done["status"] == "completed"
        assert done["request_counts"] == {"total": 51, "completed": 50, "failed": 1}
        output = second.api.get(f"/files/{batch['output_file_id']}/content").text
        assert output.startswith(partial)  # lines already served keep their place
    finally:
        second.kill()


def test_a_batch_created_just_before_a_kill_is_planned_after_restart(data_dir: Path) -> None:
    first = Server(data_dir)
    batch = start_batch(first.api, jsonl(*(chat_line(f"r{i}") for i in range(30))))
    first.kill()  # possibly before its plan was stored
    second = Server(data_dir)
    try:
        second.advance(120)
        done = second.api.get(f"/batches/{batch['id']}").json()
        assert done["status"] == "completed"
        assert done["request_counts"]["completed"] == 30
    finally:
        second.kill()

"""`retry-failed` and failures a retry cannot fix (issue #21): they are named (count, a few custom_ids,
the reason) and skipped unless `--all`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from client import DoublewordClient, SimulatorClock
from client.batchfile import chat_request, encode_line
from client.cli import main
from client.retryfile import not_worth_retrying
from contract_tests.targets import HttpTarget


def _doubleword_line(reason: dict[str, Any]) -> dict[str, Any]:
    return {"id": "batch_req_1", "custom_id": "a", "response": None,
            "error": {"code": None, "message": orjson.dumps(reason).decode()}}


def test_which_failures_are_not_worth_retrying() -> None:
    rejected = {"type": "NonRetriableHttpStatus", "details": {"status": 400, "body": "temperature"}}
    assert not_worth_retrying(_doubleword_line(rejected)) == "NonRetriableHttpStatus 400"
    for kind in ("RetriableHttpStatus", "Timeout", "NetworkError", "BatchTerminated"):
        assert not_worth_retrying(_doubleword_line({"type": kind, "details": {"status": 503}})) is None
    assert not_worth_retrying({"custom_id": "a", "error": {"code": "batch_expired", "message": "window"}}) is None
    openai = {"custom_id": "a", "response": {"status_code": 400, "body": {}}, "error": None}
    assert not_worth_retrying(openai) == "HTTP 400"
    for status in (408, 429, 500, 503):
        assert not_worth_retrying({**openai, "response": {"status_code": status, "body": {}}}) is None


@pytest.fixture
def slow_requests_time_out(sim: HttpTarget) -> Iterator[str]:
    """A fault rule on the shared simulator for custom_ids starting `r21-slow-` (no other test's)."""
    sim.control("PUT", "/_mock/faults", {"requests": [{"match": {"custom_id_prefix": "r21-slow-"},
                                                      "outcome": {"timeout": True}}]})
    yield "r21-slow-"
    sim.control("DELETE", "/_mock/faults")


def test_retry_failed_skips_the_hopeless_unless_all(
    sim: HttpTarget, sim_clock: SimulatorClock, tmp_path: Path, slow_requests_time_out: str,
) -> None:
    key = sim.new_key()
    lines = [chat_request("r21-ok-0", "q"), chat_request("r21-bad-1", "q", temperature=9),
             chat_request(f"{slow_requests_time_out}2", "q"), chat_request("r21-bad-3", "q", temperature=9)]
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"".join(encode_line(line) for line in lines))

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--base-url", sim.base_url, "--api-key", key, "--poll-interval", "120", *argv],
                    clock=sim_clock, stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    code, out, err = run("--json", "submit", str(path), "--window", "1h", "--wait")
    batch = orjson.loads(out)
    assert code == 0 and batch["request_counts"] == {"total": 4, "completed": 1, "failed": 3}, err

    code, out, err = run("--json", "retry-failed", batch["id"])
    assert code == 0
    assert "2 failed with NonRetriableHttpStatus 400, which a retry cannot fix: r21-bad-1, r21-bad-3" in err
    assert "skipping those 2" in err
    with DoublewordClient(api_key=key, base_url=sim.base_url, clock=sim_clock) as dw:
        retry = dw.get_batch(orjson.loads(out)["id"])
        assert [line.custom_id for line in dw.iter_file_lines(retry.input_file_id)] == ["r21-slow-2"]

        code, out, err = run("--json", "retry-failed", batch["id"], "--all")
        assert code == 0 and "resubmitting them anyway (--all)" in err
        every = dw.get_batch(orjson.loads(out)["id"])
        assert sorted(str(line.custom_id) for line in dw.iter_file_lines(every.input_file_id)) == [
            "r21-bad-1", "r21-bad-3", "r21-slow-2"]

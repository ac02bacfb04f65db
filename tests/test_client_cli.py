"""`python -m client` against the simulator over real HTTP, in virtual time: each command, its output
(human and --json) and its exit code."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from client import DoublewordClient, SimulatorClock, chat_request
from client.batchfile import encode_line
from client.cli import main
from contract_tests.targets import HttpTarget


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Cli:
    """Runs commands as one user of the simulator, with waits advancing its clock."""

    def __init__(self, sim: HttpTarget, clock: SimulatorClock) -> None:
        self.sim, self.clock, self.key = sim, clock, sim.new_key()
        self.out = ""
        self.err = ""

    def __call__(self, *argv: str, stdout: io.StringIO | None = None, stderr: io.StringIO | None = None) -> int:
        out, err = stdout or io.StringIO(), stderr or io.StringIO()
        code = main(["--base-url", self.sim.base_url, "--api-key", self.key, "--poll-interval", "0.5", *argv],
                     clock=self.clock, stdout=out, stderr=err)
        self.out, self.err = out.getvalue(), err.getvalue()
        return code

    def json(self) -> Any:
        return orjson.loads(self.out)

    def client(self) -> DoublewordClient:
        return DoublewordClient(api_key=self.key, base_url=self.sim.base_url, clock=self.clock)


@pytest.fixture
def cli(sim: HttpTarget, sim_clock: SimulatorClock) -> Cli:
    return Cli(sim, sim_clock)


def write_batch(path: Path, n: int, bad: frozenset[int] = frozenset(), prefix: str = "job") -> Path:
    extra: list[dict[str, Any]] = [{"temperature": 9} if i in bad else {} for i in range(n)]
    path.write_bytes(b"".join(encode_line(chat_request(f"{prefix}-{i}", f"q{i}", **extra[i])) for i in range(n)))
    return path


def test_make_submit_wait_and_download(cli: Cli, tmp_path: Path) -> None:
    prompts = tmp_path / "questions.txt"
    prompts.write_text("".join(f"Question number {i}?\n" for i in range(30)))
    assert cli("make", str(prompts), "--max-tokens", "20", "--max-requests", "12") == 0
    parts = sorted(tmp_path.glob("questions-*.jsonl"))
    assert [p.name for p in parts] == ["questions-001.jsonl", "questions-002.jsonl", "questions-003.jsonl"]
    assert "wrote" in cli.out and "12 requests" in cli.out
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    code = cli("submit", str(parts[0]), "--window", "1h", "--wait", "--output", str(out), "--errors", str(err))
    assert code == 0, cli.err
    assert "completed" in cli.out and "12/12 done" in cli.out
    assert "created batch" in cli.err and "saved 12 lines" in cli.err
    lines = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["custom_id"] for line in lines) == sorted(f"questions-row-{i}" for i in range(1, 13))
    assert err.read_text() == ""


def test_failed_lines_and_retry_failed(cli: Cli, tmp_path: Path) -> None:
    bad = frozenset({2, 3, 9})
    assert cli("submit", str(write_batch(tmp_path / "b.jsonl", 10, bad)), "--wait", "--json") == 0  # completed
    batch = cli.json()
    assert batch["status"] == "completed" and batch["request_counts"] == {"total": 10, "completed": 7, "failed": 3}
    assert cli("errors", batch["id"], "--json") == 0
    assert sorted(orjson.loads(line)["custom_id"] for line in cli.out.splitlines()) == ["job-2", "job-3", "job-9"]
    terminal = Terminal()
    assert cli("errors", batch["id"], stdout=terminal) == 0
    assert "job-2: ERROR NonRetriableHttpStatus 400" in terminal.getvalue()

    assert cli("retry-failed", batch["id"]) == 0  # all three are 400s: not worth retrying, so skipped
    assert cli.out.strip() == f"nothing worth retrying in batch {batch['id']}"
    assert "3 failed with NonRetriableHttpStatus 400, which a retry cannot fix: job-2, job-3, job-9" in cli.err
    assert "skipping those 3" in cli.err and "--all" in cli.err
    assert cli("retry-failed", batch["id"], "--json", "--all") == 0
    assert "3 failed with NonRetriableHttpStatus 400" in cli.err  # said even with --json
    retry = cli.json()
    assert retry["metadata"]["retry_of"] == batch["id"] and retry["request_counts"]["total"] == 3
    with cli.client() as dw:
        resubmitted = [str(line.custom_id) for line in dw.iter_file_lines(retry["input_file_id"])]
    assert sorted(resubmitted) == ["job-2", "job-3", "job-9"]  # exactly the failed requests
    assert cli("watch", retry["id"]) == 3  # they fail again: every request failed, so the batch failed
    assert "\r" not in cli.err and f"{retry['id']} failed: 3/3 done (3 failed)" in cli.err  # log lines, no bar
    assert cli("status", retry["id"]) == 3 and "failed" in cli.out


def test_nothing_to_retry(cli: Cli, tmp_path: Path) -> None:
    assert cli("submit", str(write_batch(tmp_path / "b.jsonl", 2)), "--wait", "--json") == 0
    assert cli("retry-failed", cli.json()["id"]) == 0
    assert "no failed requests" in cli.out


def test_results_to_a_file_resume_where_the_file_ends(cli: Cli, tmp_path: Path) -> None:
    assert cli("submit", str(write_batch(tmp_path / "b.jsonl", 90)), "--json") == 0
    batch_id = cli.json()["id"]
    out = tmp_path / "results.jsonl"
    cli.clock.sleep(2.5)
    assert cli("status", batch_id) == 6 and "in_progress" in cli.out  # still running
    assert cli("results", batch_id, "--output", str(out)) == 0  # what there is so far
    first = out.read_text().splitlines()
    assert 0 < len(first) < 90
    with out.open("a") as handle:
        handle.write('{"id":"batch_req_')  # as if killed mid-line
    assert cli("results", batch_id, "--output", str(out), "--follow") == 0
    every = [orjson.loads(line)["custom_id"] for line in out.read_text().splitlines()]
    assert every[: len(first)] == [orjson.loads(line)["custom_id"] for line in first]
    assert sorted(every) == sorted(f"job-{i}" for i in range(90))  # each exactly once
    assert cli("results", batch_id, "--from", "88") == 0 and len(cli.out.splitlines()) == 2


def test_watch_draws_a_progress_bar_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    assert cli("submit", str(write_batch(tmp_path / "b.jsonl", 40)), "--json") == 0
    batch_id = cli.json()["id"]
    terminal = Terminal()
    assert cli("watch", batch_id, stderr=terminal) == 0
    drawn = terminal.getvalue()
    assert "\r" in drawn and "/40" in drawn and "/s" in drawn and "completed" in drawn


def test_cancel_then_status_exits_cancelled(cli: Cli, tmp_path: Path) -> None:
    assert cli("submit", str(write_batch(tmp_path / "b.jsonl", 50)), "--json") == 0
    batch_id = cli.json()["id"]
    assert cli("cancel", batch_id) == 0 and batch_id in cli.out
    cli.clock.sleep(5)
    assert cli("status", batch_id, "--json") == 4 and cli.json()["status"] == "cancelled"
    assert cli("submit", str(tmp_path / "b.jsonl"), "--wait", "--timeout", "1") == 6  # still running at the timeout


def test_list_and_estimate(cli: Cli, tmp_path: Path) -> None:
    path = write_batch(tmp_path / "b.jsonl", 3)
    ids = []
    for _ in range(3):
        assert cli("submit", str(path), "--json") == 0
        ids.append(cli.json()["id"])
        cli.clock.sleep(1)  # distinct created_at seconds, so the order is defined
    assert cli("list", "--json", "--limit", "0") == 0
    assert [b["id"] for b in cli.json()] == ids[::-1]  # newest first
    assert cli("list", "--limit", "2") == 0 and len(cli.out.splitlines()) == 2
    with cli.client() as dw:
        before = len(list(dw.list_files()))
        assert cli("estimate", str(path)) == 0
        assert "3 requests" in cli.out and "estimated cost (24h)" in cli.out
        assert len(list(dw.list_files())) == before  # the upload made for the estimate was deleted
    assert cli("estimate", str(path), "--json", "--window", "1h", "--keep") == 0
    assert cli.json()["total_requests"] == 3


def test_errors_and_exit_codes(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert cli("status", missing) == 1
    assert cli.err.strip() == f"error: 404 Batch with ID {missing} not found"
    assert cli("status", missing, "--json") == 1
    message = f"Batch with ID {missing} not found"
    assert cli.json() == {"error": {"type": "NotFoundError", "status": 404, "message": message}}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "a", "method": "GET", "url": "/v1/chat/completions", "body": {"model": "m"}}\n')
    assert cli("submit", str(bad)) == 2 and "line 1: unsupported method" in cli.err
    assert cli("submit", str(tmp_path / "nope.jsonl")) == 2
    too_many = write_batch(tmp_path / "big.jsonl", cli.sim.limits.max_requests_per_file + 1)
    assert cli("submit", str(too_many)) == 1 and "error: 400 File contains" in cli.err  # the server's own limit
    monkeypatch.delenv("DOUBLEWORD_API_KEY", raising=False)
    assert main(["--base-url", cli.sim.base_url, "status", missing], stdout=io.StringIO(), stderr=io.StringIO()) == 2

"""`--wait` progress (issue #21): the terminal bar moves as the counts change; without a terminal
(a CI log) whole lines, on each change or every minute, never two within a second."""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

from client import SimulatorClock
from client.batchfile import chat_request, encode_line
from client.cli import main
from client.cli.progress import ProgressLog
from client.models import Batch
from contract_tests.targets import HttpTarget


def write_batch(path: Path, n: int) -> Path:
    path.write_bytes(b"".join(encode_line(chat_request(f"job-{i}", f"q{i}")) for i in range(n)))
    return path


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _submit_wait(sim: HttpTarget, clock: SimulatorClock, path: Path, stderr: io.StringIO, *flags: str) -> int:
    return main(["--base-url", sim.base_url, "--api-key", sim.new_key(), "submit", str(path), "--wait", *flags],
                clock=clock, stdout=io.StringIO(), stderr=stderr)


def test_the_terminal_bar_shows_the_counts_between_start_and_end(
    sim: HttpTarget, sim_clock: SimulatorClock, tmp_path: Path,
) -> None:
    terminal = Terminal()
    assert _submit_wait(sim, sim_clock, write_batch(tmp_path / "b.jsonl", 40), terminal) == 0
    drawn = [frame for frame in terminal.getvalue().split("\r\x1b[K") if frame.startswith("[")]
    done = sorted({int(m.group(1)) for frame in drawn if (m := re.search(r"\] (\d+)/40", frame))})
    assert done[0] == 0 and done[-1] == 40
    assert len([n for n in done if 0 < n < 40]) >= 1, drawn  # not just 0/40 then 40/40


def test_without_a_terminal_wait_logs_progress_lines(sim: HttpTarget, sim_clock: SimulatorClock, tmp_path: Path) -> None:
    log = io.StringIO()
    assert _submit_wait(sim, sim_clock, write_batch(tmp_path / "b.jsonl", 40), log) == 0
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = [line for line in text.splitlines() if " done" in line]
    assert len(lines) >= 3, text
    assert lines[0].endswith(": 0/40 done  0.0/s")
    assert any(re.search(r" in_progress: ([1-9]|[1-3]\d)/40 done", line) for line in lines), text  # one on the way
    assert re.fullmatch(r"\S+ completed: 40/40 done  \d+\.\d/s", lines[-1]), lines[-1]
    quiet = io.StringIO()
    assert _submit_wait(sim, sim_clock, tmp_path / "b.jsonl", quiet, "--json") == 0
    assert " done" not in quiet.getvalue()  # --json keeps stderr to errors and warnings


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def _batch(status: str, completed: int, total: int = 10) -> Batch:
    return Batch.from_json({"id": "b1", "status": status, "request_counts": {
        "total": total, "completed": completed, "failed": 0}})


def test_the_log_rhythm_a_line_per_change_at_most_one_a_second_and_a_heartbeat() -> None:
    clock, out = FakeClock(), io.StringIO()
    log = ProgressLog(out, clock)
    written: list[float] = []

    def poll(at: float, status: str, completed: int) -> None:
        clock.t = at
        before = out.getvalue().count("\n")
        log.update(_batch(status, completed))
        if out.getvalue().count("\n") > before:
            written.append(at)

    poll(0.0, "in_progress", 0)  # the first poll: written
    poll(0.4, "in_progress", 2)  # a change, but within a second of the last line: held
    poll(0.9, "in_progress", 3)  # still held (the newest state replaces it)
    poll(1.5, "in_progress", 3)  # a second later: the held change is written
    for second in range(2, 61):
        poll(float(second), "in_progress", 3)  # nothing changes: quiet ...
    poll(61.6, "in_progress", 3)  # ... until the minute's heartbeat
    poll(62.0, "in_progress", 4)  # a change less than a second after it: held
    log.finish()  # and written at the end
    assert written == [0.0, 1.5, 61.6]
    lines = out.getvalue().splitlines()
    assert [line.split(": ")[1].split("  ")[0] for line in lines] == [
        "0/10 done", "3/10 done", "3/10 done", "4/10 done"]
    assert all(b - a >= 1 for a, b in itertools.pairwise(written))

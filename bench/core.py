"""Core benchmark: planning a big batch, `GET /v1/batches/{id}` during validation and planning, many big
batches on one server.

    python -m bench.core [--lines 50000] [--batches 20] [--runs 3] [--duration 5] [--seed S]

Every item runs against a real `python -m mockserver` (manual clock, `--validation-delay 1`); items 1-3
on one fresh server per run, item 4 once, on two more fresh servers.

1. Planning: create a batch of `--lines` requests, advance the clock past the validation delay
   (`POST /_mock/clock/advance`), and time creation -> the first `GET /v1/batches/{id}` after the
   advance answering (it waits for the plan). Baseline: building and serialising the same number of
   output lines in-process (`bench.batches.baseline_once`). Goal: plan <= 2 x baseline.
2. GET during validation: create a `--lines` batch and at once time its first `GET /v1/batches/{id}`,
   the clock not advanced. Goal: it answers `validating` in < 50 ms.
3. `GET /v1/batches/{id}` of a completed 20-line batch with wrk (`bench.batches.run_wrk`, -t1 -c16):
   idle, then while a `--lines` batch is planned (wrk started, then the batch created and the clock
   advanced past validation; the wrk run lasts 3 x item 1's planning time + 2 s, and a run the
   planning outlasts is flagged). Goal: p99 under planning <= 10 x idle p99.
4. Many batches: the file uploaded once, `--batches` batches created from it back to back, one advance
   of 48 h, then every batch must be planned and `completed` with every request, and its output file
   complete (lines counted while streaming `GET /v1/files/{output_file_id}/content`). Reports the times
   and the server's RSS after all that (its planning process included), against the RSS after the same
   with one batch (a separate fresh server). Goal: RSS after N batches <= 3 x RSS after one.

Needs `wrk` on PATH (apt-get install wrk). A missed goal does not change the exit code; a failed call,
a timeout or a failed check of item 4 makes it 1.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import gen
from bench.batches import (
    ADVANCE_SECONDS,
    LOAD_P99_GOAL_RATIO,
    SMALL_LINES,
    WRK_CONNECTIONS,
    WrkResult,
    _client,
    _create_batch,
    _get_batch,
    _small_file,
    _upload,
    baseline_once,
    run_wrk,
)
from bench.gen import CACHE_DIR, ensure_file
from bench.measure import goal, proc_status, spread, table, tree_rss
from bench.server import BenchFailed, Simulator

VALIDATION_DELAY = 1.0
PLAN_GOAL_RATIO = 2.0
VALIDATING_GOAL_MS = 50.0
MEMORY_GOAL_RATIO = 3.0
LOAD_WRK_FACTOR = 3.0  # planning under wrk takes about twice as long as alone
WRK_LEAD_S = 0.5  # wrk runs alone this long before the big batch is created
MANY_TIMEOUT_S = 3600.0  # item 4 as a whole (each call also has the client's 600 s timeout)
MIB = 1024 * 1024


def _flags(seed: int) -> list[str]:
    return ["--clock", "manual", "--seed", str(seed), "--validation-delay", f"{VALIDATION_DELAY:g}"]


def _advance(client: httpx.Client, sim: Simulator, seconds: float) -> float:
    """Advance the manual clock; the seconds the call took."""
    start = time.perf_counter()
    resp = client.post(f"{sim.root}/_mock/clock/advance", json={"seconds": seconds})
    if resp.status_code // 100 != 2:
        raise BenchFailed(f"clock advance answered {resp.status_code}: {resp.text[:500]}")
    return time.perf_counter() - start


# -- 1. creation -> planned -------------------------------------------------------------------------
@dataclass
class Planned:
    create_s: float  # the POST /v1/batches call
    plan_s: float  # creation -> the first GET after the advance answered
    status: str
    done_at: float  # perf_counter when that GET answered


def plan_once(client: httpx.Client, sim: Simulator, file_id: str) -> Planned:
    start = time.perf_counter()
    batch = _create_batch(client, file_id)
    create_s = time.perf_counter() - start
    _advance(client, sim, VALIDATION_DELAY + 1)
    view = _get_batch(client, batch["id"])
    done = time.perf_counter()
    if view["status"] in ("validating", "failed"):
        raise BenchFailed(f"batch {batch['id']} is {view['status']} past its validation delay")
    return Planned(create_s, done - start, view["status"], done)


# -- 3. wrk alongside -------------------------------------------------------------------------------
class BackgroundWrk:
    """`run_wrk` in a thread, so the benchmark can make the server busy while it runs."""

    def __init__(self, url: str, duration: int) -> None:
        self.duration = duration
        self.result: WrkResult | None = None
        self.error: BaseException | None = None
        self.finished_at = math.inf
        self._thread = threading.Thread(target=self._run, args=(url, duration), daemon=True)
        self._thread.start()

    def _run(self, url: str, duration: int) -> None:
        try:
            self.result = run_wrk(url, duration)
        except BaseException as exc:  # handed to join()
            self.error = exc
        finally:
            self.finished_at = time.perf_counter()

    def join(self) -> WrkResult:
        self._thread.join(self.duration + 90)
        if self._thread.is_alive():
            raise BenchFailed(f"wrk did not end within {self.duration + 90}s")
        if isinstance(self.error, BenchFailed):
            raise self.error
        if self.error is not None or self.result is None:
            raise BenchFailed(f"wrk failed: {self.error!r}")
        return self.result


@dataclass
class RunResult:
    plan: Planned
    idle: WrkResult
    load: WrkResult
    load_plan: Planned
    load_duration: int
    covered: bool  # the planning ended before wrk did
    validating_ms: float
    validating_status: str


def run_once(path: Path, small: Path, work: Path, i: int, duration: int, seed: int) -> RunResult:
    sim = Simulator(work / f"data-{i}", work / f"sim-{i}.log", _flags(seed))
    try:
        with _client(sim) as client:
            client.get("/models").raise_for_status()
            small_id = _create_batch(client, _upload(client, small))["id"]
            big_file = _upload(client, path)

            plan = plan_once(client, sim, big_file)  # 1

            _advance(client, sim, ADVANCE_SECONDS)  # 3: the small batch (and item 1's) completes
            small_view = _get_batch(client, small_id)
            if small_view["status"] != "completed":
                raise BenchFailed(f"the {SMALL_LINES}-line batch is {small_view['status']} after 48 h")
            small_url = f"{sim.base_url}/batches/{small_id}"
            run_wrk(small_url, 1)  # warm-up
            idle = run_wrk(small_url, duration)
            load_duration = max(duration, math.ceil(LOAD_WRK_FACTOR * plan.plan_s + 2))
            wrk = BackgroundWrk(small_url, load_duration)
            time.sleep(WRK_LEAD_S)
            load_plan = plan_once(client, sim, big_file)
            load = wrk.join()
            covered = load_plan.done_at <= wrk.finished_at

            batch = _create_batch(client, big_file)  # 2: the clock is not advanced
            start = time.perf_counter()
            view = _get_batch(client, batch["id"])
            validating_ms = (time.perf_counter() - start) * 1e3
        return RunResult(plan, idle, load, load_plan, load_duration, covered, validating_ms, view["status"])
    finally:
        sim.stop()


# -- 4. many batches --------------------------------------------------------------------------------
@dataclass
class ManyResult:
    batches: int
    idle_rss: int  # before the upload
    create_s: float  # creating every batch, back to back
    advance_s: float
    planned_s: float  # the advance's end -> every batch GET answered
    download_s: float  # every output file streamed and counted
    total_s: float  # the first creation -> the last output line
    rss: int  # after all of it
    hwm: int  # the peak over the server's life
    problems: list[str] = field(default_factory=list)


def _output_lines(client: httpx.Client, file_id: str) -> int:
    lines = 0
    with client.stream("GET", f"/files/{file_id}/content") as stream:
        if stream.status_code != 200:
            raise BenchFailed(f"output content of {file_id} answered {stream.status_code}")
        for chunk in stream.iter_raw():
            lines += chunk.count(b"\n")
    return lines


def many_once(path: Path, lines: int, n: int, work: Path, seed: int) -> ManyResult:
    deadline = time.monotonic() + MANY_TIMEOUT_S

    def check_deadline(what: str) -> None:
        if time.monotonic() > deadline:
            raise BenchFailed(f"{n} batches: timed out after {MANY_TIMEOUT_S:.0f}s while {what}")

    sim = Simulator(work / f"data-many-{n}", work / f"many-{n}.log", _flags(seed))
    try:
        with _client(sim) as client:
            client.get("/models").raise_for_status()
            time.sleep(0.2)
            idle_rss = proc_status(sim.pid)["VmRSS"]
            file_id = _upload(client, path)
            start = time.perf_counter()
            ids: list[str] = []
            for _ in range(n):
                ids.append(_create_batch(client, file_id)["id"])
                check_deadline("creating batches")
            create_s = time.perf_counter() - start
            advance_s = _advance(client, sim, ADVANCE_SECONDS)
            t0 = time.perf_counter()
            views = []
            for batch_id in ids:
                views.append(_get_batch(client, batch_id))
                check_deadline("waiting for the plans")
            planned_s = time.perf_counter() - t0
            problems: list[str] = []
            t0 = time.perf_counter()
            for view in views:
                counts = view["request_counts"]
                if view["status"] != "completed" or counts["total"] != lines or counts["completed"] != lines:
                    problems.append(f"batch {view['id']} is {view['status']}, request_counts {counts}")
                    continue
                got = _output_lines(client, view["output_file_id"])
                if got != lines:
                    problems.append(f"batch {view['id']}: output has {got:,} lines, expected {lines:,}")
                check_deadline("downloading the output files")
            download_s = time.perf_counter() - t0
            total_s = time.perf_counter() - start
            status = proc_status(sim.pid)
        # the server and its planning process (which makes the plans of big batches)
        return ManyResult(n, idle_rss, create_s, advance_s, planned_s, download_s, total_s,
                          tree_rss(sim.pid), status["VmHWM"], problems)
    finally:
        sim.stop()


# -- report -----------------------------------------------------------------------------------------
def report(lines: int, base: list[float], runs: list[RunResult], one: ManyResult | None,
           many: ManyResult | None) -> str:
    rows: list[tuple[str, str, str]] = [("lines / runs", f"{lines:,} / {len(runs)}", "")]
    if runs:
        plan = statistics.median([r.plan.plan_s for r in runs])
        ratio = plan / statistics.median(base)
        idle_p99 = statistics.median([r.idle.p99_ms for r in runs])
        load_p99 = statistics.median([r.load.p99_ms for r in runs])
        load_ratio = load_p99 / idle_p99
        worst_ms = max(r.validating_ms for r in runs)
        statuses = sorted({r.validating_status for r in runs})
        validating_ok = worst_ms < VALIDATING_GOAL_MS and statuses == ["validating"]
        uncovered = sum(not r.covered for r in runs)
        rows += [
            ("1. creation -> planned", "", f"manual clock, advance {VALIDATION_DELAY + 1:g} s"),
            ("  create call s", spread([r.plan.create_s for r in runs]), "median (min-max)"),
            ("  creation -> planned s", spread([r.plan.plan_s for r in runs]),
             f"status then: {', '.join(sorted({r.plan.status for r in runs}))}"),
            ("  baseline build+serialise s", spread(base), "bench.batches.baseline_once"),
            ("  ratio plan/baseline", f"{ratio:.2f}", f"goal <= {PLAN_GOAL_RATIO:g}: {goal(ratio <= PLAN_GOAL_RATIO)}"),
            ("2. first GET while validating", "", "clock not advanced"),
            ("  GET ms", spread([r.validating_ms for r in runs], "{:.1f}"),
             f"status {', '.join(statuses)}; goal `validating` < {VALIDATING_GOAL_MS:g} ms "
             f"(worst run): {goal(validating_ok)}"),
            (f"3. GET {SMALL_LINES}-line batch, wrk -t1 -c{WRK_CONNECTIONS}", "", ""),
            ("  idle req/s", spread([r.idle.rps for r in runs], "{:.0f}"), ""),
            ("  idle p99 ms", spread([r.idle.p99_ms for r in runs]), ""),
            ("  planning req/s", spread([r.load.rps for r in runs], "{:.0f}"),
             f"wrk {spread([float(r.load_duration) for r in runs], '{:.0f}')} s; planning took "
             f"{spread([r.load_plan.plan_s for r in runs])} s"),
            ("  planning p99 ms", spread([r.load.p99_ms for r in runs]),
             "" if not uncovered else f"{uncovered} run(s): planning outlasted wrk"),
            ("  p99 planning / idle", f"{load_ratio:.2f}",
             f"goal <= {LOAD_P99_GOAL_RATIO:g}: {goal(load_ratio <= LOAD_P99_GOAL_RATIO)}"),
        ]
    for result in (one, many) if many is not one else (one,):
        if result is None:
            continue
        rows += [
            (f"4. {result.batches} batch(es), one advance of 48 h", "", "fresh server"),
            ("  create all s", f"{result.create_s:.2f}", "back to back, one file"),
            ("  advance call s", f"{result.advance_s:.2f}", ""),
            ("  advance -> all planned s", f"{result.planned_s:.2f}", "a GET of each batch"),
            ("  check + download all s", f"{result.download_s:.2f}", f"{result.batches * lines:,} output lines"),
            ("  total s", f"{result.total_s:.2f}", "first create -> last output line"),
            ("  server RSS MiB (with its planning process)", f"{result.rss / MIB:.1f}",
             f"idle {result.idle_rss / MIB:.1f}, peak {result.hwm / MIB:.1f}"),
            ("  all planned, completed, complete", "yes" if not result.problems else "NO",
             "; ".join(result.problems[:3]) + (" ..." if len(result.problems) > 3 else "")),
        ]
    if one is not None and many is not None:
        mem_ratio = many.rss / one.rss
        rows.append((f"  RSS {many.batches} / RSS 1", f"{mem_ratio:.2f}",
                     f"goal <= {MEMORY_GOAL_RATIO:g}: {goal(mem_ratio <= MEMORY_GOAL_RATIO)}"))
    return table(rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--lines", type=int, default=50_000, help="request lines of the big batches")
    p.add_argument("--batches", type=int, default=20, help="batches created on one server in item 4")
    p.add_argument("--runs", type=int, default=3, help="runs of items 1-3 (item 4 runs once)")
    p.add_argument("--duration", type=int, default=5, help="seconds of the idle wrk run")
    p.add_argument("--seed", type=int, default=1234, help="generator and simulator seed")
    p.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="where the generated file is kept")
    args = p.parse_args(argv)
    if min(args.lines, args.batches, args.runs, args.duration) < 1:
        p.error("--lines, --batches, --runs and --duration must be >= 1")
    if args.lines < SMALL_LINES:
        p.error(f"--lines must be >= {SMALL_LINES}")
    if shutil.which("wrk") is None:
        print("wrk is not on PATH; install it (apt-get install -y wrk)", file=sys.stderr)
        return 2

    t_start = time.perf_counter()
    path, generated = ensure_file(args.lines, args.seed, args.cache_dir)
    how = f"generated in {time.perf_counter() - t_start:.1f}s" if generated else "cached"
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB, {how})", flush=True)
    custom_ids = gen.custom_ids(path.read_bytes().splitlines())
    lines = len(custom_ids)

    base: list[float] = []
    for i in range(args.runs):
        base.append(baseline_once(custom_ids))
        print(f"baseline run {i + 1}/{args.runs}: {base[-1]:.2f}s", flush=True)

    runs: list[RunResult] = []
    one: ManyResult | None = None
    many: ManyResult | None = None
    failed: str | None = None
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="core-", dir=args.cache_dir) as tmp:
        work = Path(tmp)
        small = _small_file(path, work / "small.jsonl")
        try:
            for i in range(args.runs):
                r = run_once(path, small, work, i, args.duration, args.seed)
                runs.append(r)
                print(
                    f"run {i + 1}/{args.runs}: planned in {r.plan.plan_s:.2f}s; first GET while validating "
                    f"{r.validating_ms:.1f} ms ({r.validating_status}); GET p99 idle {r.idle.p99_ms:.2f} ms, "
                    f"while planning {r.load.p99_ms:.2f} ms ({r.load_duration}s wrk, planning "
                    f"{r.load_plan.plan_s:.2f}s{'' if r.covered else ', outlasted wrk'})",
                    flush=True,
                )
                shutil.rmtree(work / f"data-{i}", ignore_errors=True)
            for n in sorted({1, args.batches}):
                result = many_once(path, lines, n, work, args.seed)
                shutil.rmtree(work / f"data-many-{n}", ignore_errors=True)
                print(
                    f"{n} batch(es): created in {result.create_s:.2f}s, all planned {result.planned_s:.2f}s after "
                    f"the advance, checked in {result.download_s:.2f}s, total {result.total_s:.2f}s; RSS "
                    f"{result.rss / MIB:.1f} MiB" + (f"; {len(result.problems)} problem(s)" if result.problems else ""),
                    flush=True,
                )
                if n == 1:
                    one = result
                if n == args.batches:
                    many = result
                if result.problems:
                    failed = f"{n} batch(es): " + "; ".join(result.problems)
                    break
        except BenchFailed as exc:
            failed = str(exc)
        except httpx.HTTPError as exc:
            failed = f"HTTP error: {exc!r}"

    print()
    print(report(lines, base, runs, one, many))
    print(f"\ntotal {time.perf_counter() - t_start:.0f}s")
    if failed is not None:
        print(f"FAILED: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

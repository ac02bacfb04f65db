"""Batch benchmark: output download, `GET /v1/batches/{id}` rate and latency, idle and under load.

    python -m bench.batches [--lines 50000] [--runs 3] [--duration 10] [--seed S]

1. Download after one advance (manual clock): upload the generated file, create a batch, advance the clock
   past validation and time the first `GET /v1/batches/{id}` (it waits for the plan), then time from just before one
   `POST /_mock/clock/advance {"seconds": 172800}` to the last byte of the output content (after one
   GET of the batch). Baseline: building and serialising the same number of output lines in-process
   with orjson. Goal: download <= 3 x baseline, and every line is there.
2. `GET /v1/batches/{id}` with wrk (-t1 -c16, keep-alive, a separate process) against the simulator
   and against `bench.bare_app` (a bare Starlette + orjson endpoint on the same uvicorn stack).
   Goals: simulator rate >= 60 % of bare; p99 <= 2 ms.
3. The same wrk measurement against a small batch while a batch of `--lines` requests is
   `in_progress` (real clock, speed 20). Goal: p99 <= 10 x the idle p99 of item 2.

Needs `wrk` on PATH (apt-get install wrk). Only a failed download or wrk run makes the exit code non-zero.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import gen
from bench.gen import CACHE_DIR, MODEL, ensure_file
from bench.measure import goal, spread
from bench.server import STARTUP_TIMEOUT, BenchFailed, Process, Simulator, drain, free_port

AUTH = {"Authorization": "Bearer any-key"}
ADVANCE_SECONDS = 172_800
VALIDATION_STEP = 2  # virtual seconds: past the simulator's validation delay (1 s by default)
DOWNLOAD_GOAL_RATIO = 3.0
RATE_GOAL_PCT = 60.0
P99_GOAL_MS = 2.0
LOAD_P99_GOAL_RATIO = 10.0
LOAD_SPEED = 20.0
SMALL_LINES = 20
WRK_CONNECTIONS = 16


class BareApp(Process):
    def __init__(self, log_path: Path) -> None:
        port = free_port()
        cmd = [
            sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning", "--host", "127.0.0.1", "--port", str(port),
        ]
        super().__init__(cmd, log_path)
        assert self.proc.stdout is not None
        threading.Thread(target=drain, args=(self.proc.stdout,), daemon=True).start()
        self.url = f"http://127.0.0.1:{port}/v1/batches/0a6f3c1e-5b7d-4c2a-9e8f-1d2c3b4a5f60"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise self.fail("bare app did not start")


def _upload(client: httpx.Client, path: Path) -> str:
    with open(path, "rb") as fh:
        resp = client.post("/files", data={"purpose": "batch"}, files={"file": (path.name, fh, "application/jsonl")})
    if resp.status_code != 201:
        raise BenchFailed(f"upload answered {resp.status_code}: {resp.text[:500]}")
    file_id: str = resp.json()["id"]
    return file_id


def _create_batch(client: httpx.Client, file_id: str) -> dict[str, Any]:
    payload = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    resp = client.post("/batches", json=payload)
    if resp.status_code != 201:
        raise BenchFailed(f"create batch answered {resp.status_code}: {resp.text[:500]}")
    batch: dict[str, Any] = resp.json()
    return batch


def _get_batch(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    resp = client.get(f"/batches/{batch_id}")
    if resp.status_code != 200:
        raise BenchFailed(f"GET batch answered {resp.status_code}: {resp.text[:500]}")
    batch: dict[str, Any] = resp.json()
    return batch


def _client(sim: Simulator) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=httpx.Timeout(600.0))


# -- 1. download after one advance ------------------------------------------------------------------
_REPLY = (
    "Here is a concise answer to your question. The batch was processed in order, each request was "
    "answered by the model, and the results were written to the output file. Let me know if you "
    "need the summary translated, shortened or expanded with more detail on any of the points."
)


def baseline_once(custom_ids: Sequence[str]) -> float:
    """Seconds to build and serialise one output line per custom_id (orjson, newline-terminated, joined)."""
    created = int(time.time())
    start = time.perf_counter()
    parts: list[bytes] = []
    for custom_id in custom_ids:
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": created,
            "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": _REPLY},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 480, "completion_tokens": 72, "total_tokens": 552},
        }
        item = {
            "id": f"batch_req_{uuid.uuid4()}",
            "custom_id": custom_id,
            "response": {"status_code": 200, "request_id": None, "body": body},
            "error": None,
        }
        parts.append(orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE))
    out = b"".join(parts)
    seconds = time.perf_counter() - start
    assert out
    return seconds


def baseline_body_bytes(custom_id: str) -> int:
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": 0, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": _REPLY},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 480, "completion_tokens": 72, "total_tokens": 552},
    }
    return len(orjson.dumps(body))


@dataclass
class DownloadResult:
    upload_s: float
    plan_s: float
    advance_s: float
    download_s: float  # advance start -> last byte
    lines: int
    bytes: int
    status: str
    incomplete: str
    batch_id: str
    get_bytes: int


def download_once(sim: Simulator, path: Path, expected: int) -> DownloadResult:
    with _client(sim) as client:
        client.get("/models").raise_for_status()
        t0 = time.perf_counter()
        file_id = _upload(client, path)
        upload_s = time.perf_counter() - t0
        batch = _create_batch(client, file_id)
        t0 = time.perf_counter()
        # a GET while the batch validates answers at once; past validation it waits for the plan
        moved = client.post(f"{sim.root}/_mock/clock/advance", json={"seconds": VALIDATION_STEP})
        if moved.status_code // 100 != 2:
            raise BenchFailed(f"clock advance answered {moved.status_code}: {moved.text[:500]}")
        _get_batch(client, batch["id"])
        plan_s = time.perf_counter() - t0

        start = time.perf_counter()
        resp = client.post(f"{sim.root}/_mock/clock/advance", json={"seconds": ADVANCE_SECONDS})
        advance_s = time.perf_counter() - start
        if resp.status_code // 100 != 2:
            raise BenchFailed(f"clock advance answered {resp.status_code}: {resp.text[:500]}")
        got = client.get(f"/batches/{batch['id']}")
        if got.status_code != 200:
            raise BenchFailed(f"GET batch answered {got.status_code}: {got.text[:500]}")
        view = got.json()
        lines = size = 0
        with client.stream("GET", f"/files/{view['output_file_id']}/content") as stream:
            if stream.status_code != 200:
                raise BenchFailed(f"output content answered {stream.status_code}")
            incomplete = stream.headers.get("x-incomplete", "?")
            for chunk in stream.iter_raw():
                lines += chunk.count(b"\n")
                size += len(chunk)
        download_s = time.perf_counter() - start
    if lines != expected:
        raise BenchFailed(f"download had {lines} lines, expected {expected} (status {view['status']})")
    return DownloadResult(upload_s, plan_s, advance_s, download_s, lines, size, view["status"], incomplete,
                          batch["id"], len(got.content))


# -- wrk --------------------------------------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass
class WrkResult:
    rps: float
    p99_ms: float
    requests: int
    errors: int  # socket errors + non-2xx/3xx


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if m is None:
        raise ValueError(f"unparsed wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or p99 is None or total is None:
        raise BenchFailed(f"could not parse wrk output:\n{out}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return WrkResult(float(rps.group(1)), _ms(p99.group(1)), int(total.group(1)), errors)


def run_wrk(url: str, duration: int) -> WrkResult:
    cmd = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--latency", url, "-H", f"Authorization: {AUTH['Authorization']}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise BenchFailed(f"wrk failed ({done.returncode}): {done.stderr}")
    result = parse_wrk(done.stdout)
    if result.errors:
        raise BenchFailed(f"wrk saw {result.errors} errors against {url}:\n{done.stdout}")
    return result


# -- 3. under load ----------------------------------------------------------------------------------
@dataclass
class LoadResult:
    plan_s: float
    runs: list[WrkResult]
    skipped: int  # runs discarded because the big batch was not in_progress throughout
    big: WrkResult | None  # one run against the in_progress batch itself


def _small_file(path: Path, out: Path) -> Path:
    with open(path, "rb") as src, open(out, "wb") as dst:
        for _ in range(SMALL_LINES):
            dst.write(src.readline())
    return out


def under_load(path: Path, work: Path, runs: int, duration: int, seed: int) -> LoadResult:
    extra = ["--clock", "real", "--speed", f"{LOAD_SPEED:g}", "--seed", str(seed)]
    sim = Simulator(work / "data-load", work / "load.log", extra)
    try:
        with _client(sim) as client:
            small_id = _create_batch(client, _upload(client, _small_file(path, work / "small.jsonl")))["id"]
            big_file = _upload(client, path)
            big_id = _create_batch(client, big_file)["id"]
            t0 = time.perf_counter()
            status = _get_batch(client, big_id)["status"]  # answered at once while validating
            deadline = time.monotonic() + 30
            while status == "validating" and time.monotonic() < deadline:
                time.sleep(0.05)
                status = _get_batch(client, big_id)["status"]  # past validation: waits for the plan
            plan_s = time.perf_counter() - t0
            if status != "in_progress":
                raise BenchFailed(f"big batch is {status}, not in_progress")
            small_url = f"{sim.base_url}/batches/{small_id}"
            results: list[WrkResult] = []
            skipped = 0
            for i in range(runs):
                before = _get_batch(client, big_id)
                result = run_wrk(small_url, duration)
                after = _get_batch(client, big_id)
                counts = after["request_counts"]
                ok = before["status"] == after["status"] == "in_progress"
                print(
                    f"load run {i + 1}/{runs}: {result.rps:.0f} req/s, p99 {result.p99_ms:.2f} ms; big batch "
                    f"{before['status']} -> {after['status']} ({counts['completed']:,}/{counts['total']:,} done)"
                    + ("" if ok else " - discarded"),
                    flush=True,
                )
                if ok:
                    results.append(result)
                else:
                    skipped += 1
            big: WrkResult | None = None
            before = _get_batch(client, big_id)
            if before["status"] == "in_progress":
                big = run_wrk(f"{sim.base_url}/batches/{big_id}", duration)
                after = _get_batch(client, big_id)
                print(f"load run on the big batch itself: {big.rps:.0f} req/s, p99 {big.p99_ms:.2f} ms; "
                      f"big batch {before['status']} -> {after['status']}", flush=True)
                if after["status"] != "in_progress":
                    big = None
        return LoadResult(plan_s, results, skipped, big)
    finally:
        sim.stop()


# -- report -----------------------------------------------------------------------------------------
def report(
    lines: int, base: list[float], downloads: list[DownloadResult], sim_get: list[WrkResult],
    bare_get: list[WrkResult], bare_bytes: int, load: LoadResult,
) -> str:
    dl = [d.download_s for d in downloads]
    ratio = statistics.median(dl) / statistics.median(base)
    sim_rps = statistics.median([r.rps for r in sim_get])
    bare_rps = statistics.median([r.rps for r in bare_get])
    pct = 100.0 * sim_rps / bare_rps
    idle_p99 = statistics.median([r.p99_ms for r in sim_get])
    all_lines = all(d.lines == lines and d.incomplete == "false" for d in downloads)
    rows: list[tuple[str, str, str]] = [
        ("1. download after one advance", "", ""),
        ("  lines / runs", f"{lines:,} / {len(downloads)}", ""),
        ("  upload s", spread([d.upload_s for d in downloads]), "median (min-max)"),
        ("  creation -> planned s", spread([d.plan_s for d in downloads]), "advance 2 s, then a GET"),
        ("  advance call s", spread([d.advance_s for d in downloads]), f"advance {ADVANCE_SECONDS} s"),
        ("  advance -> last byte s", spread(dl), f"{downloads[0].bytes / 1e6:.1f} MB output"),
        ("  download MB/s", f"{downloads[0].bytes / 1e6 / statistics.median(dl):.1f}", "at the median"),
        ("  baseline build+serialise s", spread(base), "in-process orjson"),
        ("  ratio download/baseline", f"{ratio:.2f}", f"goal <= {DOWNLOAD_GOAL_RATIO:g}: {goal(ratio <= DOWNLOAD_GOAL_RATIO)}"),
        ("  all lines, X-Incomplete false", "yes" if all_lines else "NO",
         f"status {downloads[-1].status}: {goal(all_lines)}"),
        (f"2. GET batch, wrk -t1 -c{WRK_CONNECTIONS}", "", ""),
        ("  simulator req/s", spread([r.rps for r in sim_get], "{:.0f}"), f"{downloads[-1].get_bytes} B body"),
        ("  bare Starlette req/s", spread([r.rps for r in bare_get], "{:.0f}"), f"{bare_bytes} B body"),
        ("  simulator / bare", f"{pct:.1f} %", f"goal >= {RATE_GOAL_PCT:g} %: {goal(pct >= RATE_GOAL_PCT)}"),
        ("  simulator p99 ms", spread([r.p99_ms for r in sim_get]),
         f"goal <= {P99_GOAL_MS:g} ms: {goal(idle_p99 <= P99_GOAL_MS)}"),
        ("  bare p99 ms", spread([r.p99_ms for r in bare_get]), ""),
        (f"3. GET small batch while {lines:,} in_progress", "", f"real clock, speed {LOAD_SPEED:g}"),
        ("  creation -> planned s", f"{load.plan_s:.2f}", "until no longer validating"),
    ]
    if load.runs:
        load_p99 = statistics.median([r.p99_ms for r in load.runs])
        load_ratio = load_p99 / idle_p99
        rows += [
            ("  req/s", spread([r.rps for r in load.runs], "{:.0f}"), f"{len(load.runs)} runs, {load.skipped} discarded"),
            ("  p99 ms", spread([r.p99_ms for r in load.runs]), ""),
            ("  p99 / idle p99", f"{load_ratio:.2f}", f"goal <= {LOAD_P99_GOAL_RATIO:g}: {goal(load_ratio <= LOAD_P99_GOAL_RATIO)}"),
        ]
    else:
        rows.append(("  p99 / idle p99", "n/a", f"no run fell inside in_progress: {goal(False)}"))
    if load.big is not None:
        rows.append(("  GET big batch itself: req/s, p99", f"{load.big.rps:.0f}, {load.big.p99_ms:.2f} ms", "info"))
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    return "\n".join(f"{k:<{width}}  {v:<{vwidth}}  {note}".rstrip() for k, v, note in rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.batches", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=3, help="runs of each measurement")
    p.add_argument("--lines", type=int, default=50_000, help="request lines in the generated file")
    p.add_argument("--seed", type=int, default=1234, help="generator and simulator seed")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="where the generated file is kept")
    args = p.parse_args(argv)
    if args.runs < 1 or args.lines < 1 or args.duration < 1:
        p.error("--runs, --lines and --duration must be >= 1")
    if shutil.which("wrk") is None:
        print("wrk is not on PATH; install it (apt-get install -y wrk)", file=sys.stderr)
        return 2

    t_start = time.perf_counter()
    path, generated = ensure_file(args.lines, args.seed, args.cache_dir)
    how = f"generated in {time.perf_counter() - t_start:.1f}s" if generated else "cached"
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB, {how})", flush=True)

    custom_ids = gen.custom_ids(path.read_bytes().splitlines())
    base: list[float] = []
    for i in range(args.runs):
        base.append(baseline_once(custom_ids))
        print(f"baseline run {i + 1}/{args.runs}: {base[-1]:.2f}s", flush=True)
    print(f"baseline chat body ~{baseline_body_bytes(custom_ids[0])} B", flush=True)

    downloads: list[DownloadResult] = []
    sim_get: list[WrkResult] = []
    bare_get: list[WrkResult] = []
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="batches-", dir=args.cache_dir) as tmp:
        work = Path(tmp)
        try:
            for i in range(args.runs):
                extra = ["--clock", "manual", "--seed", str(args.seed)]
                sim = Simulator(work / f"data-{i}", work / f"sim-{i}.log", extra)
                try:
                    result = download_once(sim, path, len(custom_ids))
                    downloads.append(result)
                    print(
                        f"download run {i + 1}/{args.runs}: upload {result.upload_s:.2f}s, planned in "
                        f"{result.plan_s:.2f}s, advance->last byte {result.download_s:.2f}s "
                        f"({result.lines:,} lines, {result.bytes / 1e6:.1f} MB)",
                        flush=True,
                    )
                    if i == args.runs - 1:  # item 2 on the last server: GET the completed batch
                        bare = BareApp(work / "bare.log")
                        try:
                            bare_bytes = len(httpx.get(bare.url).content)
                            sim_url = f"{sim.base_url}/batches/{result.batch_id}"
                            run_wrk(sim_url, 1)  # warm-up
                            run_wrk(bare.url, 1)
                            for j in range(args.runs):
                                sim_get.append(run_wrk(sim_url, args.duration))
                                bare_get.append(run_wrk(bare.url, args.duration))
                                print(
                                    f"GET run {j + 1}/{args.runs}: simulator {sim_get[-1].rps:.0f} req/s p99 "
                                    f"{sim_get[-1].p99_ms:.2f} ms; bare {bare_get[-1].rps:.0f} req/s p99 "
                                    f"{bare_get[-1].p99_ms:.2f} ms",
                                    flush=True,
                                )
                        finally:
                            bare.stop()
                finally:
                    sim.stop()
                shutil.rmtree(work / f"data-{i}", ignore_errors=True)
            load = under_load(path, work, args.runs, args.duration, args.seed)
        except BenchFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1

    print()
    print(report(len(custom_ids), base, downloads, sim_get, bare_get, bare_bytes, load))
    print(f"\ntotal {time.perf_counter() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""Load benchmark: many concurrent clients against one simulator, then one very large batch end to end.

    python -m bench.load [--clients 50] [--lines 200] [--speed 2] [--poll 0.1] [--skip-big]
                         [--big-lines 50000] [--big-line-bytes 4000] [--seed S]

1. Load: one simulator on `--clock real --speed X`; `--clients` clients (asyncio + httpx, one connection
   each) at once each upload their own slice of a generated file (`bench/gen.py`, unique custom_ids),
   create a batch, poll `GET /v1/batches/{id}` every `--poll` seconds while downloading new output and
   error lines as they appear (`skip` = lines already held), then download both files whole. Checks:
   every client finishes; the lines gathered incrementally equal the final download; output + error
   hold every custom_id of the client's file exactly once; no 5xx anywhere. Reports latency per
   operation (client-side, p50/p99/max), the `GET /v1/batches/{id}` latency under that load among them.
2. Big: a fresh simulator (manual clock); a file of `--big-lines` lines of about `--big-line-bytes`
   bytes (about 200 MB), uploaded, a batch created from it, run to its end with one clock advance, and
   output and error downloaded and checked (every custom_id exactly once). Reports the time of each
   step and the server's peak memory growth per step: VmHWM during the step (reset between steps
   through /proc/<pid>/clear_refs) minus VmRSS before the upload, from /proc/<pid>/status.

Exit code 1 if a check fails (a client failed, a line lost or duplicated, a 5xx), else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import gen
from bench.gen import CACHE_DIR, ensure_file
from bench.measure import proc_status, reset_peak
from bench.server import Simulator

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
MIB = 1024 * 1024
DEFAULT_MAX_FILE_SIZE = 200 * MIB


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# -- 1. load ----------------------------------------------------------------------------------------------
@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    finished: int = 0
    lines: int = 0
    lost: int = 0
    duplicated: int = 0
    polls_per_client: list[int] = field(default_factory=list)

    def record(self, op: str, seconds: float, response: httpx.Response) -> None:
        self.latencies.setdefault(op, []).append(seconds)
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{op}: {response.status_code} {response.text[:200]}")


async def timed(stats: Stats, op: str, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    start = time.perf_counter()
    response = await client.request(method, url, **kwargs)
    stats.record(op, time.perf_counter() - start, response)
    return response


async def fetch_new(stats: Stats, client: httpx.AsyncClient, file_id: str, held: list[bytes], op: str) -> None:
    """Append the lines after the ones held (`skip` = how many we hold), as a resuming client does."""
    response = await timed(stats, op, client, "GET", f"/files/{file_id}/content", params={"skip": len(held)})
    if response.status_code != 200:
        raise RuntimeError(f"{op}: {response.status_code} {response.text[:200]}")
    held.extend(line for line in response.content.splitlines() if line.strip())
    last = response.headers.get("x-last-line")
    if last is not None and int(last) != len(held):
        raise RuntimeError(f"{op}: X-Last-Line {last} but {len(held)} lines held")


async def one_client(index: int, base_url: str, content: bytes, expected: list[str], poll: float, deadline: float,
                     stats: Stats) -> None:
    headers = {"Authorization": f"Bearer load-client-{index}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=120) as client:
        files = {"file": (f"client-{index}.jsonl", content, "application/jsonl")}
        response = await timed(stats, "POST /v1/files", client, "POST", "/files", data={"purpose": "batch"}, files=files)
        if response.status_code != 201:
            raise RuntimeError(f"upload: {response.status_code} {response.text[:200]}")
        file_id = response.json()["id"]
        body = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
        response = await timed(stats, "POST /v1/batches", client, "POST", "/batches", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"create: {response.status_code} {response.text[:200]}")
        batch = response.json()
        output: list[bytes] = []
        errors: list[bytes] = []
        polls = 0
        while True:
            op = "GET /v1/batches/{id}" if polls else "GET /v1/batches/{id} (1st)"  # the 1st waits for the plan
            response = await timed(stats, op, client, "GET", f"/batches/{batch['id']}")
            polls += 1
            if response.status_code != 200:
                raise RuntimeError(f"poll: {response.status_code} {response.text[:200]}")
            state = response.json()
            counts = state["request_counts"]
            if counts["completed"] > len(output):
                await fetch_new(stats, client, batch["output_file_id"], output, "GET output (resume)")
            if counts["failed"] > len(errors):
                await fetch_new(stats, client, batch["error_file_id"], errors, "GET errors (resume)")
            if state["status"] in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"batch not finished in time: {state['status']} {counts}")
            await asyncio.sleep(poll)
        await fetch_new(stats, client, batch["output_file_id"], output, "GET output (resume)")
        await fetch_new(stats, client, batch["error_file_id"], errors, "GET errors (resume)")
        whole: list[list[bytes]] = []
        for file_key in ("output_file_id", "error_file_id"):
            response = await timed(stats, "GET content (whole)", client, "GET", f"/files/{batch[file_key]}/content")
            if response.status_code != 200:
                raise RuntimeError(f"download: {response.status_code} {response.text[:200]}")
            whole.append([line for line in response.content.splitlines() if line.strip()])
    if whole != [output, errors]:
        raise RuntimeError("the lines gathered while the batch ran differ from the final download")
    seen = Counter(gen.custom_ids(output) + gen.custom_ids(errors))
    wanted = Counter(expected)
    stats.lost += sum((wanted - seen).values())
    stats.duplicated += sum((seen - wanted).values())
    stats.lines += sum(seen.values())
    if seen != wanted:
        raise RuntimeError(f"custom_ids: {sum((wanted - seen).values())} lost, {sum((seen - wanted).values())} extra")
    if state["request_counts"] != {"total": len(expected), "completed": len(output), "failed": len(errors)}:
        raise RuntimeError(f"request_counts {state['request_counts']} disagree with the files")
    stats.polls_per_client.append(polls)
    stats.finished += 1


async def run_clients(base_url: str, slices: list[tuple[bytes, list[str]]], poll: float, timeout: float,
                      stats: Stats) -> None:
    deadline = time.monotonic() + timeout

    async def guarded(index: int, content: bytes, expected: list[str]) -> None:
        try:
            await one_client(index, base_url, content, expected, poll, deadline, stats)
        except Exception as exc:  # every failure is reported; none stops the others
            stats.failures.append(f"client {index}: {type(exc).__name__}: {exc}")

    await asyncio.gather(*(guarded(i, content, expected) for i, (content, expected) in enumerate(slices)))


def client_slices(clients: int, lines: int, seed: int) -> tuple[list[tuple[bytes, list[str]]], Path]:
    """Each client's own `lines` lines (unique custom_ids across clients) of one generated file."""
    path, _ = ensure_file(clients * lines, seed)
    with open(path, "rb") as fh:
        all_lines = [line for line in fh if line.strip()]
    slices = []
    for i in range(clients):
        mine = all_lines[i * lines : (i + 1) * lines]
        slices.append((b"".join(mine), gen.custom_ids(mine)))
    return slices, path


def table(rows: Sequence[Sequence[str]], align: str) -> str:
    """A plain-text table; `align` has one letter per column, `l` or `r`."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(w) if a == "l" else cell.rjust(w) for cell, w, a in zip(row, widths, align, strict=True)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def load_report(stats: Stats, clients: int, lines: int, speed: float, seconds: float) -> str:
    rows = [["operation", "count", "p50 ms", "p99 ms", "max ms"]]
    order = ["POST /v1/files", "POST /v1/batches", "GET /v1/batches/{id} (1st)", "GET /v1/batches/{id}",
             "GET output (resume)", "GET errors (resume)", "GET content (whole)"]
    for op in order + sorted(set(stats.latencies) - set(order)):
        values = stats.latencies.get(op)
        if not values:
            continue
        ms = [v * 1000 for v in values]
        rows.append([op, str(len(ms)), f"{statistics.median(ms):.1f}", f"{percentile(ms, 99):.1f}", f"{max(ms):.1f}"])
    five = sum(n for code, n in stats.statuses.items() if code >= 500)
    summary = [
        f"load: {clients} clients x {lines} lines, one server on --clock real --speed {speed:g}; wall {seconds:.1f} s",
        table(rows, "lrrrr"),
        f"clients finished {stats.finished}/{clients}; lines checked {stats.lines:,}; lost {stats.lost}; "
        f"duplicated {stats.duplicated}; 5xx {five}; client failures {len(stats.failures)}",
        f"status codes: {dict(sorted(stats.statuses.items()))}; polls per client: median "
        f"{statistics.median(stats.polls_per_client) if stats.polls_per_client else 0:g}",
        "(client-side latencies, on a machine the clients share with the server; the 1st GET of a batch waits "
        "for its plan)",
    ]
    return "\n".join(summary)


def run_load(args: argparse.Namespace, work: Path) -> bool:
    slices, path = client_slices(args.clients, args.lines, args.seed)
    size = sum(len(c) for c, _ in slices)
    print(f"load: {args.clients} files of {args.lines} lines, {size / 1e6:.1f} MB in all (from {path})", flush=True)
    server = Simulator(work / "load-data", work / "load-server.log",
                    ["--clock", "real", "--speed", str(args.speed), "--seed", str(args.seed)])
    stats = Stats()
    try:
        start = time.perf_counter()
        asyncio.run(run_clients(server.base_url, slices, args.poll, args.timeout, stats))
        seconds = time.perf_counter() - start
        alive = server.proc.poll() is None
    finally:
        server.stop()
    print()
    print(load_report(stats, args.clients, args.lines, args.speed, seconds))
    for failure in stats.failures[:10]:
        print("  FAILED", failure, file=sys.stderr)
    for error in stats.server_errors[:10]:
        print("  5xx", error, file=sys.stderr)
    return alive and not stats.failures and not stats.server_errors and stats.finished == args.clients


# -- 2. big -----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def line_size(target: int) -> Iterator[None]:
    """bench.gen with another line size (its generator reads the module constant on each line)."""
    saved = gen.TARGET_LINE_BYTES
    gen.TARGET_LINE_BYTES = target
    try:
        yield
    finally:
        gen.TARGET_LINE_BYTES = saved


def big_file(lines: int, line_bytes: int, seed: int) -> tuple[Path, bool]:
    path = CACHE_DIR / f"chat-{lines}x{line_bytes}B-seed{seed}-v{gen.FORMAT_VERSION}.jsonl"
    if path.is_file():
        return path, False
    with line_size(line_bytes):
        gen.generate(path, lines, seed)
    return path, True


class Memory:
    """Peak RSS growth of a process per step: VmHWM in the step minus VmRSS before the first step."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = proc_status(pid)["VmRSS"]
        self.resettable = reset_peak(pid)
        self.steps: list[tuple[str, int]] = []

    def step_done(self, name: str) -> None:
        self.steps.append((name, proc_status(self.pid)["VmHWM"] - self.baseline))
        if self.resettable:
            reset_peak(self.pid)

    @property
    def peak(self) -> int:
        return max(growth for _, growth in self.steps)


def stream_custom_ids(client: httpx.Client, file_id: str) -> tuple[list[str], int]:
    ids: list[str] = []
    size = 0
    pending = b""
    with client.stream("GET", f"/files/{file_id}/content") as response:
        if response.status_code != 200:
            raise RuntimeError(f"download: {response.status_code}")
        for chunk in response.iter_bytes():
            size += len(chunk)
            pending += chunk
            *whole, pending = pending.split(b"\n")
            ids += gen.custom_ids(whole)
    ids += gen.custom_ids([pending])
    return ids, size


def run_big(args: argparse.Namespace, work: Path) -> bool:
    t0 = time.perf_counter()
    path, generated = big_file(args.big_lines, args.big_line_bytes, args.seed)
    size = path.stat().st_size
    how = f"generated in {time.perf_counter() - t0:.1f} s" if generated else "cached"
    print(f"\nbig: {path} ({size / 1e6:.1f} MB, {args.big_lines:,} lines, {how})", flush=True)
    flags = ["--clock", "manual", "--seed", str(args.seed)]
    if size > DEFAULT_MAX_FILE_SIZE:  # the generator's sizes are approximate: let the file through
        flags += ["--max-file-size", str(size + MIB)]
        print(f"  note: the file is over the default 200 MiB limit; the server runs with --max-file-size {size + MIB}")
    server = Simulator(work / "big-data", work / "big-server.log", flags)
    ok = True
    rows: list[list[str]] = [["step", "seconds", "peak RSS growth MiB", "note"]]
    try:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer big"},
                          timeout=httpx.Timeout(1800.0)) as client:
            client.get("/models").raise_for_status()
            memory = Memory(server.pid)
            expected = Counter[str]()
            with open(path, "rb") as fh:
                for line in fh:
                    if line.strip():
                        expected[str(orjson.loads(line)["custom_id"])] += 1

            start = time.perf_counter()
            with open(path, "rb") as fh:
                response = client.post("/files", data={"purpose": "batch"},
                                       files={"file": ("big.jsonl", fh, "application/jsonl")})
            took = time.perf_counter() - start
            if response.status_code != 201:
                raise RuntimeError(f"upload: {response.status_code} {response.text[:300]}")
            memory.step_done("upload")
            rows.append(["upload (to 201)", f"{took:.1f}", "", f"{size / 1e6 / took:.0f} MB/s"])

            start = time.perf_counter()
            response = client.post("/batches", json={"input_file_id": response.json()["id"],
                                                     "endpoint": "/v1/chat/completions", "completion_window": "24h"})
            if response.status_code != 201:
                raise RuntimeError(f"create: {response.status_code} {response.text[:300]}")
            batch = response.json()
            planned = client.get(f"/batches/{batch['id']}")  # waits for the plan
            took = time.perf_counter() - start
            if planned.status_code != 200:
                raise RuntimeError(f"first GET: {planned.status_code} {planned.text[:300]}")
            memory.step_done("create + plan")
            rows.append(["create + plan (first GET)", f"{took:.1f}", "", f"{args.big_lines:,} requests"])

            start = time.perf_counter()
            client.post(server.root + "/_mock/clock/advance", json={"seconds": 172_800}).raise_for_status()
            final = client.get(f"/batches/{batch['id']}")
            took = time.perf_counter() - start
            state = final.json()
            memory.step_done("run to the end")
            rows.append(["advance 2 days + GET", f"{took:.2f}", "", f"{state['status']} {state['request_counts']}"])

            start = time.perf_counter()
            output, out_bytes = stream_custom_ids(client, batch["output_file_id"])
            errors, err_bytes = stream_custom_ids(client, batch["error_file_id"])
            took = time.perf_counter() - start
            memory.step_done("download")
            rows.append(["download output + error", f"{took:.1f}", "",
                         f"{(out_bytes + err_bytes) / 1e6:.1f} MB, {len(output):,} + {len(errors):,} lines"])
            for (_, growth), row in zip(memory.steps, rows[1:], strict=True):
                row[2] = f"{growth / MIB:.1f}"

            seen = Counter(output + errors)
            lost = sum((expected - seen).values())
            duplicated = sum((seen - expected).values())
            counts_ok = state["request_counts"] == {"total": args.big_lines, "completed": len(output),
                                                    "failed": len(errors)}
            ok = state["status"] in TERMINAL and lost == 0 and duplicated == 0 and counts_ok
            baseline = memory.baseline
    finally:
        server.stop()
    print(table(rows, "lrrl"))
    print(f"server RSS before the upload {baseline / MIB:.1f} MiB; peak growth {memory.peak / MIB:.1f} MiB "
          f"({100 * memory.peak / size:.1f} % of the {size / MIB:.1f} MiB file)"
          + ("" if memory.resettable else "; VmHWM could not be reset, so each step includes the earlier ones"))
    print(f"lines lost {lost}, duplicated {duplicated}, request_counts {'agree' if counts_ok else 'DISAGREE'}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--clients", type=int, default=50, help="concurrent clients")
    p.add_argument("--lines", type=int, default=200, help="request lines per client")
    p.add_argument("--speed", type=float, default=2.0, help="the server's --speed (virtual seconds per second)")
    p.add_argument("--poll", type=float, default=0.1, help="seconds between a client's polls")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds the load part may take")
    p.add_argument("--skip-big", action="store_true", help="only the load part")
    p.add_argument("--skip-load", action="store_true", help="only the big part")
    p.add_argument("--big-lines", type=int, default=50_000, help="requests in the big batch")
    p.add_argument("--big-line-bytes", type=int, default=4000, help="approximate bytes per line of the big file")
    p.add_argument("--seed", type=int, default=4321, help="generator and server seed")
    args = p.parse_args(argv)
    if args.clients < 1 or args.lines < 1 or args.big_lines < 1:
        p.error("--clients, --lines and --big-lines must be >= 1")
    ok = True
    with tempfile.TemporaryDirectory(prefix="dwsim-load-") as tmp:
        work = Path(tmp)
        if not args.skip_load:
            ok = run_load(args, work) and ok
        if not args.skip_big:
            ok = run_big(args, work) and ok
    print("\nresult:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

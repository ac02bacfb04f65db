"""Upload benchmark: a ~100 MB, 50,000-line chat batch file through `POST /v1/files`.

Compares the simulator's upload-to-201 time with an in-process baseline (read the file, and per line
`orjson.loads` + the basic request checks), and measures the server's peak memory growth during the
upload (VmHWM after the upload minus VmRSS before it, from /proc/<pid>/status).

    python -m bench.upload [--runs N] [--lines 50000] [--seed S]

Goals: upload time <= 1.5 x baseline; peak memory growth <= 5 % of the file size. Only a failed
upload (anything but 201, or a wrong `bytes`) makes the exit code non-zero.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.gen import CACHE_DIR, ensure_file
from bench.measure import goal, proc_status, reset_peak, spread
from bench.server import Simulator

ALLOWED_URLS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages"})
MAX_CUSTOM_ID_BYTES = 64
UPLOAD_GOAL_RATIO = 1.5
MEMORY_GOAL_PCT = 5.0
MIB = 1024 * 1024


class UploadFailed(Exception):
    pass


# -- baseline ---------------------------------------------------------------------------------------
def _validate(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    custom_id = obj.get("custom_id")
    if not isinstance(custom_id, str) or len(custom_id.encode()) > MAX_CUSTOM_ID_BYTES:
        raise ValueError("bad custom_id")
    method = obj.get("method")
    if not isinstance(method, str) or method.upper() != "POST":
        raise ValueError("bad method")
    if obj.get("url") not in ALLOWED_URLS:
        raise ValueError("bad url")
    body = obj.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise ValueError("bad body.model")


def baseline_once(path: Path) -> tuple[float, int]:
    """Seconds to read `path` and parse + validate every non-blank line; and the line count."""
    start = time.perf_counter()
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            stripped = line.strip()
            if stripped:
                _validate(orjson.loads(stripped))
                n += 1
    return time.perf_counter() - start, n


# -- server -----------------------------------------------------------------------------------------
@dataclass
class UploadResult:
    seconds: float
    baseline_rss: int
    peak_hwm: int
    peak_reset: bool

    @property
    def growth(self) -> int:
        return self.peak_hwm - self.baseline_rss


def upload_once(path: Path, work_dir: Path) -> UploadResult:
    data_dir = work_dir / "data"
    server = Simulator(data_dir, work_dir / "server.log")
    try:
        headers = {"Authorization": "Bearer any-key"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=httpx.Timeout(600.0)) as client:
            client.get("/models").raise_for_status()
            time.sleep(0.2)
            baseline_rss = proc_status(server.pid)["VmRSS"]
            reset = reset_peak(server.pid)
            size = path.stat().st_size
            with open(path, "rb") as fh:
                start = time.perf_counter()
                resp = client.post(
                    "/files",
                    data={"purpose": "batch"},
                    files={"file": ("batch.jsonl", fh, "application/jsonl")},
                )
                seconds = time.perf_counter() - start
            peak = proc_status(server.pid)["VmHWM"]
        if resp.status_code != 201:
            raise UploadFailed(f"upload answered {resp.status_code}: {resp.text[:500]}")
        reported = resp.json().get("bytes")
        if reported != size:
            raise UploadFailed(f"upload answered bytes={reported}, file has {size}")
        return UploadResult(seconds, baseline_rss, peak, reset)
    finally:
        server.stop()


# -- report -----------------------------------------------------------------------------------------
def report(size: int, lines: int, base: list[float], uploads: list[UploadResult]) -> str:
    up = [u.seconds for u in uploads]
    growth_mib = [u.growth / MIB for u in uploads]
    size_mib = size / MIB
    ratio = statistics.median(up) / statistics.median(base)
    worst_growth = max(growth_mib)
    pct = 100.0 * worst_growth / size_mib
    rows = [
        ("file size", f"{size / 1e6:.1f} MB ({size_mib:.1f} MiB)", ""),
        ("lines", f"{lines:,}", ""),
        ("runs", str(len(uploads)), ""),
        ("baseline read+parse+validate s", spread(base), "median (min-max)"),
        ("upload-to-201 s", spread(up), "median (min-max)"),
        ("upload throughput MB/s", f"{size / 1e6 / statistics.median(up):.1f}", "at the median"),
        ("ratio upload/baseline", f"{ratio:.2f}", f"goal <= {UPLOAD_GOAL_RATIO}: {goal(ratio <= UPLOAD_GOAL_RATIO)}"),
        ("server RSS before upload MiB", spread([u.baseline_rss / MIB for u in uploads], "{:.1f}"), ""),
        ("peak memory growth MiB", spread(growth_mib, "{:.1f}"), "median (min-max)"),
        ("peak growth % of file (worst run)", f"{pct:.2f} %", f"goal <= {MEMORY_GOAL_PCT:g} %: {goal(pct <= MEMORY_GOAL_PCT)}"),
    ]
    if not all(u.peak_reset for u in uploads):
        rows.append(("note", "VmHWM could not be reset; growth includes any startup peak", ""))
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    return "\n".join(f"{k:<{width}}  {v:<{vwidth}}  {note}".rstrip() for k, v, note in rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.upload", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=3, help="runs of the baseline and of the upload")
    p.add_argument("--lines", type=int, default=50_000, help="request lines in the generated file")
    p.add_argument("--seed", type=int, default=1234, help="generator seed")
    p.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="where the generated file is kept")
    args = p.parse_args(argv)
    if args.runs < 1 or args.lines < 1:
        p.error("--runs and --lines must be >= 1")

    t0 = time.perf_counter()
    path, generated = ensure_file(args.lines, args.seed, args.cache_dir)
    size = path.stat().st_size
    how = f"generated in {time.perf_counter() - t0:.1f}s" if generated else "cached"
    print(f"file: {path} ({size / 1e6:.1f} MB, {how})", flush=True)

    base: list[float] = []
    lines = 0
    for i in range(args.runs):
        seconds, lines = baseline_once(path)
        base.append(seconds)
        print(f"baseline run {i + 1}/{args.runs}: {seconds:.2f}s", flush=True)

    uploads: list[UploadResult] = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="run-", dir=args.cache_dir) as work:
            try:
                result = upload_once(path, Path(work))
            except UploadFailed as exc:
                print(f"upload run {i + 1}/{args.runs}: FAILED: {exc}", file=sys.stderr)
                return 1
        uploads.append(result)
        print(
            f"upload run {i + 1}/{args.runs}: {result.seconds:.2f}s, peak growth {result.growth / MIB:.1f} MiB",
            flush=True,
        )

    print()
    print(report(size, lines, base, uploads))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

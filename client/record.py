"""`python -m client.record`: run a batch file against a real service and write a cassette.

Two ways to record (see `cassette` for the format):

- `--upstream URL` (an OpenAI-compatible server: vLLM, llama.cpp, Ollama, a hosted endpoint): every
  line is sent to it directly, `--concurrency` at a time; each request's answer or failure and its
  real latency are written, retriable failures retried up to `--attempts` times with the live
  backoff (in real seconds). The timeline is the recording's own: `in_progress` at 0, then the counts
  after every request that ends, then `completed` (or `failed`).
- `--base-url URL` (the Batch API: the live service with `--key` or DOUBLEWORD_API_KEY, or a
  simulator): the file is uploaded and a batch created, then polled every `--poll` seconds; each
  status or count change is a timeline line, and the output and error files are read as they grow.
  A request's latency is the time its line was first seen after the batch went `in_progress` (so it is
  as fine as the poll interval, and includes the service's queueing: replay with a `--concurrency`
  of at least the batch size to get the recorded end times back). `--simulator-clock` polls a
  simulator's manual clock by advancing it instead of sleeping.

Keys go in request headers only; the cassette holds the base URL, the request bodies and the answers,
and any text equal to a key of at least 8 characters is blanked before it is written (see `Writer`).

Every argument is checked before anything is written or sent (the `--upstream` flags by the server's
own rules): a bad one is refused with `error: ...` and exit code 2. The cassette is written to
`OUTPUT.part` and renamed to OUTPUT only when the run has ended, so an existing cassette is never
damaged; a run that fails (the service unreachable or answering an error, a disk error) says why,
exits 1 and leaves no `.part` behind.

It lives with the client, not in `mockserver`, because it reads batch files and talks to a Batch API
the client's way (`client.batchfile`, `client.config`); the simulator never imports the client. It
uses the simulator's cassette writer, upstream proxy and retry rules.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import httpx
import orjson

from client.batchfile import check_lines, read_batch_file
from client.config import API_KEY_ENV, resolve_base_url
from client.errors import BatchFileError, ConfigurationError, DoublewordError
from mockserver.cassette import Writer, attempt_record
from mockserver.domain.scheduler import Attempt, backoff, is_retriable
from mockserver.settings import UpstreamConfig
from mockserver.upstream import Upstream, upstream_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m client.record", description="Run a batch file against a real service and write a cassette for --replay.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", help="the batch file (JSONL request lines)")
    p.add_argument("-o", "--output", required=True, help="the cassette to write (JSONL)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--upstream", metavar="URL", help="an OpenAI-compatible server's base URL (e.g. http://localhost:8001/v1)")
    where.add_argument("--base-url", metavar="URL", help="a Batch API's base URL (the live service, or a simulator)")
    p.add_argument("--upstream-key", default=None,  # the environment is read after parsing: --help never shows it
                   help="Bearer key for --upstream (default: DWSIM_UPSTREAM_KEY)")
    p.add_argument("--upstream-model", action="append", metavar="LOCAL=REMOTE", default=[],
                   help="send model LOCAL to the upstream as REMOTE (repeatable)")
    p.add_argument("--concurrency", type=int, default=8, help="--upstream: requests in flight at once")
    p.add_argument("--timeout", type=float, default=600.0, help="--upstream: seconds before a request is a Timeout")
    p.add_argument("--attempts", type=int, default=1, help="--upstream: attempts per request (retriable failures)")
    p.add_argument("--key", default=None, help="--base-url: the API key (default: DOUBLEWORD_API_KEY)")
    p.add_argument("--window", default="24h", help="--base-url: the batch's completion window")
    p.add_argument("--poll", type=float, default=5.0, help="--base-url: seconds between polls")
    p.add_argument("--simulator-clock", action="store_true",
                   help="--base-url is a simulator with --clock manual: advance its clock instead of sleeping")
    return p


# -- straight to an upstream ------------------------------------------------------------------------
async def _record_upstream(
    upstream: Upstream, lines: list[dict[str, Any]], writer: Writer, attempts: int
) -> tuple[int, int]:
    began = time.monotonic()
    counts = {"completed": 0, "failed": 0}
    writer.status(0.0, "in_progress", 0, 0)

    async def one(line: dict[str, Any]) -> None:
        records: list[dict[str, Any]] = []
        got = Attempt(0, None)
        for n in range(max(1, attempts)):
            got, took = await upstream.send(str(line["url"]), line["body"])
            records.append(attempt_record(got, took))
            if not is_retriable(got) or n + 1 >= attempts:
                break
            await asyncio.sleep(backoff(n))
        ok = got.failure is None and 200 <= got.status < 300
        counts["completed" if ok else "failed"] += 1
        writer.request(str(line["custom_id"]), str(line["url"]), line["body"], records)
        writer.status(time.monotonic() - began, "in_progress", counts["completed"], counts["failed"])

    await asyncio.gather(*(one(line) for line in lines))
    final = "completed" if counts["completed"] else "failed"
    writer.status(time.monotonic() - began, final, counts["completed"], counts["failed"])
    return counts["completed"], counts["failed"]


def record_upstream(config: UpstreamConfig, lines: list[dict[str, Any]], out: TextIO, attempts: int) -> tuple[int, int]:
    writer = Writer(out, [config.key])
    writer.header("upstream", config.url, time.time())
    upstream = Upstream(config)
    try:
        return upstream.submit(_record_upstream(upstream, lines, writer, attempts)).result()
    finally:
        upstream.close()


# -- through a Batch API ----------------------------------------------------------------------------
def _attempt_of_line(item: dict[str, Any]) -> Attempt | None:
    """An output or error line as the attempt that ended it (None: the batch ended it, not a model)."""
    response = item.get("response")
    if isinstance(response, dict):
        return Attempt(int(response.get("status_code", 200)), response.get("body"))
    error = item.get("error") or {}
    try:
        reason = orjson.loads(error.get("message") or "")
    except orjson.JSONDecodeError:
        return Attempt(500, str(error.get("message")))
    kind, details = reason.get("type"), reason.get("details") or {}
    if kind in ("RetriableHttpStatus", "NonRetriableHttpStatus"):
        return Attempt(int(details.get("status", 500)), details.get("body", ""))
    if kind in ("NetworkError", "Timeout"):
        return Attempt(0, str(details.get("error", "")), failure=str(kind))
    return None


def record_batch_api(args: argparse.Namespace, key: str, lines: list[dict[str, Any]], out: TextIO) -> tuple[int, int]:
    from client import DoublewordClient, SimulatorClock
    from client.clock import Clock, SystemClock

    writer = Writer(out, [key])
    writer.header("batch-api", args.base_url, time.time())
    clock: Clock = SimulatorClock(args.base_url) if args.simulator_clock else SystemClock()
    by_custom_id: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_custom_id.setdefault(str(line["custom_id"]), []).append(line)
    with DoublewordClient(api_key=key, base_url=args.base_url, clock=clock, poll_interval=args.poll) as dw:
        uploaded = dw.upload_file(Path(args.input))
        batch = dw.create_batch(uploaded.id, endpoint=str(lines[0]["url"]), completion_window=args.window)
        created = clock.now()
        started: float | None = None
        skips = {"output": 0, "error": 0}
        last: tuple[str, int, int] | None = None
        while True:
            batch = dw.get_batch(batch.id)
            now = clock.now()
            counts = batch.request_counts
            state = (batch.status, counts.completed, counts.failed)
            if state != last:
                writer.status(now - created, *state)
                last = state
            if started is None and batch.status != "validating":
                started = now
            for kind, file_id in (("output", batch.output_file_id), ("error", batch.error_file_id)):
                if not file_id:
                    continue
                page = dw.file_content(file_id, skip=skips[kind])
                skips[kind] += len(page.lines)
                for item in page.records():
                    got = _attempt_of_line(item)
                    queue = by_custom_id.get(str(item.get("custom_id")), [])
                    if got is None or not queue:
                        continue
                    line = queue.pop(0)
                    took = now - (started if started is not None else created)
                    writer.request(str(line["custom_id"]), str(line["url"]), line["body"], [attempt_record(got, took)])
            if batch.is_final:
                return counts.completed, counts.failed
            clock.sleep(args.poll)


def _refuse(message: str) -> NoReturn:
    """A bad command line or input file: say why, exit 2, write nothing."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _fail(message: str) -> NoReturn:
    """A run that failed (the service, the network, the disk): say why, exit 1 (the caller removes the
    partial cassette)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)


def _checked_lines(args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        lines = read_batch_file(args.input)
        check_lines(lines, unique_ids=False)  # repeated custom_ids are recorded in turn
    except OSError as exc:
        _refuse(f"{args.input}: {exc.strerror}")
    except BatchFileError as exc:
        _refuse(f"{args.input}: {exc}")
    if not lines:
        _refuse(f"{args.input}: no request lines")
    return lines


def _checked_upstream(args: argparse.Namespace) -> UpstreamConfig:
    """`--upstream`'s flags, by the rules the server's own `--upstream` flags follow."""
    try:
        return upstream_config(args.upstream, args.upstream_key or os.environ.get("DWSIM_UPSTREAM_KEY") or None, args.upstream_model, args.concurrency,
                               args.timeout, concurrency_flag="--concurrency", timeout_flag="--timeout")
    except ValueError as exc:
        _refuse(str(exc))


def _checked_key(args: argparse.Namespace) -> str:
    """`--base-url`'s flags; the API key to use."""
    try:
        if not args.base_url:
            raise ConfigurationError("base URL must be an http(s) URL, got ''")
        resolve_base_url(args.base_url)
    except ConfigurationError as exc:
        _refuse(f"--base-url: {exc}")
    if not args.poll > 0:
        _refuse("need --poll > 0")
    key: str | None = args.key or os.environ.get(API_KEY_ENV)
    if not key:
        _refuse(f"no API key for --base-url: pass --key or set {API_KEY_ENV}")
    return key


def main(argv: Sequence[str] | None = None) -> None:
    """Check everything first (a refusal exits 2 and leaves any existing cassette as it was), then record
    into `OUTPUT.part`, renamed to OUTPUT only once the run has ended; a run that fails exits 1 and
    leaves no `.part` behind."""
    args = build_parser().parse_args(argv)
    lines = _checked_lines(args)
    run: Callable[[TextIO], tuple[int, int]]
    if args.upstream is not None:
        config = _checked_upstream(args)
        where = args.upstream
        run = lambda out: record_upstream(config, lines, out, args.attempts)  # noqa: E731
    else:
        key = _checked_key(args)
        where = args.base_url
        run = lambda out: record_batch_api(args, key, lines, out)  # noqa: E731
    output = Path(args.output)
    if output.is_dir():
        _refuse(f"-o {output}: is a folder")
    part = Path(args.output + ".part")
    try:
        out = open(part, "w", encoding="utf-8")  # noqa: SIM115 (closed before the rename)
    except OSError as exc:
        _refuse(f"-o {output}: cannot write {part}: {exc.strerror}")
    try:
        with out:
            completed, failed = run(out)
        os.replace(part, output)
    except (httpx.HTTPError, DoublewordError) as exc:
        _fail(f"recording from {where} failed: {exc}")
    except OSError as exc:
        _fail(f"{exc.filename or output}: {exc.strerror or exc}")
    finally:
        part.unlink(missing_ok=True)  # a failed or interrupted run leaves nothing
    print(f"recorded {completed} answers and {failed} failures of {len(lines)} requests to {args.output}",
          file=sys.stderr)


if __name__ == "__main__":
    main()

"""What each command does. A command takes the parsed arguments (through `Context`) and returns an exit code."""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from client import batchfile, prompts, retryfile
from client.batchfile import Limits
from client.cli import exits, render
from client.cli.progress import Progress, progress_for
from client.clock import Clock
from client.config import resolve_poll_interval
from client.doubleword import DoublewordClient
from client.download import FileSink
from client.errors import BatchFileError, WaitTimeoutError
from client.models import Batch
from client.polling import PollSchedule


@dataclass
class Context:
    args: argparse.Namespace
    out: TextIO
    err: TextIO
    clock: Clock | None = None
    _client: DoublewordClient | None = field(default=None, repr=False)

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def client(self) -> DoublewordClient:
        if self._client is None:
            asked = resolve_poll_interval(getattr(self.args, "poll_interval", None))
            self._client = DoublewordClient(
                api_key=getattr(self.args, "api_key", None), base_url=getattr(self.args, "base_url", None),
                clock=self.clock, poll=PollSchedule.fixed(asked) if asked is not None else None,
            )
        return self._client

    def progress(self) -> Progress:
        """Progress on stderr: a bar on a terminal, else log lines (none with --json)."""
        return progress_for(self.err, self.client.clock, quiet=self.json)

    def emit(self, human: str, machine: Any) -> None:
        """The command's answer on stdout: `human` text, or `machine` as one JSON document with --json."""
        print(orjson.dumps(machine).decode() if self.json else human, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A remark for people, on stderr (silent with --json)."""
        if not self.json:
            print(text, file=self.err, flush=True)

    def warn(self, text: str) -> None:
        """A warning for people, on stderr (also with --json)."""
        print(text, file=self.err, flush=True)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def make(ctx: Context) -> int:
    a = ctx.args
    source = Path(a.input)
    found = prompts.read_prompts(source, prefix=a.prefix, column=a.column)
    params = {k: v for k, v in (("max_tokens", a.max_tokens), ("temperature", a.temperature)) if v is not None}
    lines = [batchfile.chat_request(p.custom_id, p.text, model=a.model, system=a.system, **params) for p in found]
    files = batchfile.split_lines(lines, Limits(max_file_bytes=a.max_bytes, max_requests=a.max_requests))
    out = Path(a.out) if a.out else source.with_suffix(".jsonl")
    numbered = [out.with_name(f"{out.stem}-{i:03d}{out.suffix}") for i in range(1, len(files) + 1)]
    paths = [out] if len(files) == 1 else numbered
    if any(p.resolve() == source.resolve() for p in paths):
        raise BatchFileError(f"the output would overwrite {source}; choose another with -o")
    written = []
    for path, data in zip(paths, files, strict=True):
        path.write_bytes(data)
        written.append({"path": str(path), "requests": data.count(b"\n"), "bytes": len(data)})
    human = "\n".join(f"wrote {w['path']}: {w['requests']} requests, {w['bytes']} bytes" for w in written)
    ctx.emit(human, {"files": written})
    return exits.OK


def _metadata(pairs: list[str]) -> dict[str, str]:
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BatchFileError(f"--metadata takes KEY=VALUE, got {pair!r}")
        metadata[key] = value
    return metadata


def _wants_wait(args: argparse.Namespace) -> bool:
    return bool(args.wait or args.output or args.errors)


def follow_batch(ctx: Context, batch: Batch, output: str | None, errors: str | None, timeout: float | None) -> int:
    """Wait for `batch` with a progress bar, saving results and errors to files while it runs."""
    client = ctx.client
    sinks = [(FileSink(path, fresh=True), file_id)
             for path, file_id in ((output, batch.output_file_id), (errors, batch.error_file_id)) if path]
    bar = ctx.progress()

    def drain() -> None:
        for sink, file_id in sinks:
            if file_id:
                sink.append(client.iter_file_lines(file_id, start=sink.position))

    def tick(current: Batch) -> None:
        bar.update(current)
        drain()

    try:
        final = client.wait(batch.id, timeout=timeout, on_progress=tick)
    except WaitTimeoutError as exc:
        bar.finish()
        ctx.note(f"batch {batch.id} has not ended; follow it with: watch {batch.id}")
        ctx.emit(render.batch_block(exc.batch), exc.batch.raw)
        return exits.RUNNING
    bar.finish()
    drain()
    for sink, _ in sinks:
        ctx.note(f"saved {sink.position} lines to {sink.path}")
    ctx.emit(render.batch_block(final), final.raw)
    return exits.for_batch(final)


def _follow_or_show(ctx: Context, batch: Batch) -> int:
    """After creating a batch: wait for it (and write its files) when asked, else print it."""
    a = ctx.args
    if _wants_wait(a):
        return follow_batch(ctx, batch, a.output, a.errors, a.timeout)
    ctx.emit(render.batch_block(batch), batch.raw)
    return exits.OK


def submit(ctx: Context) -> int:
    a = ctx.args
    batch = ctx.client.submit(a.file, completion_window=a.window, endpoint=a.endpoint, metadata=_metadata(a.metadata),
                              unique_ids=not a.allow_duplicate_ids)
    ctx.note(f"created batch {batch.id} ({batch.request_counts.total} requests, window {batch.completion_window})")
    return _follow_or_show(ctx, batch)


def status(ctx: Context) -> int:
    batch = ctx.client.get_batch(ctx.args.id)
    ctx.emit(render.batch_block(batch), batch.raw)
    return exits.for_batch(batch)


def list_batches(ctx: Context) -> int:
    limit = ctx.args.limit
    found = ctx.client.list_batches(status=ctx.args.status, page_size=min(limit, 100) if limit > 0 else 100)
    batches = list(itertools.islice(found, limit) if limit > 0 else found)
    human = "\n".join(render.batch_row(b) for b in batches) if batches else "no batches"
    ctx.emit(human, [b.raw for b in batches])
    return exits.OK


def watch(ctx: Context) -> int:
    client = ctx.client
    bar = ctx.progress()
    try:
        final = client.wait(ctx.args.id, timeout=ctx.args.timeout, on_progress=bar.update)
    except WaitTimeoutError as exc:
        bar.finish()
        ctx.emit(render.batch_block(exc.batch), exc.batch.raw)
        return exits.RUNNING
    bar.finish()
    ctx.emit(render.batch_block(final), final.raw)
    return exits.for_batch(final)


def _lines(ctx: Context, which: str) -> int:
    """`results` and `errors`: the JSONL lines themselves (summaries on a terminal), or appended to a file."""
    a = ctx.args
    client = ctx.client
    read = client.iter_results if which == "output" else client.iter_errors
    if a.output:
        sink = FileSink(a.output)
        start = sink.position
        try:
            sink.append(read(a.id, start=sink.position, follow=a.follow))
        finally:
            ctx.note(f"{sink.path}: {sink.position - start} new lines, {sink.position} in all")
        return exits.OK
    raw = ctx.json or not ctx.out.isatty()
    position = a.start
    try:
        for line in read(a.id, start=a.start, follow=a.follow):
            print(line.raw if raw else render.result_line(line), file=ctx.out, flush=True)
            position = line.position
    except KeyboardInterrupt:
        ctx.note(f"stopped at position {position}; resume with --from {position}")
        raise
    return exits.OK


def results(ctx: Context) -> int:
    return _lines(ctx, "output")


def errors(ctx: Context) -> int:
    return _lines(ctx, "error")


def _ids(lines: list[dict[str, Any]], shown: int = 5) -> str:
    """The first few custom_ids, sorted."""
    ids = sorted(str(line.get("custom_id")) for line in lines)
    return ", ".join(ids[:shown]) + (f", ... ({len(ids) - shown} more)" if len(ids) > shown else "")


def retry_failed(ctx: Context) -> int:
    a = ctx.args
    client = ctx.client
    original = client.get_batch(a.id)
    if not original.is_final:
        ctx.note(f"batch {a.id} is still {original.status}: only the requests failed so far are resubmitted")
    failed = [line.data for line in client.iter_errors(a.id, follow=False)]
    hopeless: dict[str, list[dict[str, Any]]] = {}
    for line in failed:
        why = retryfile.not_worth_retrying(line)
        if why is not None:
            hopeless.setdefault(why, []).append(line)
    chosen = failed
    if hopeless:
        count = sum(len(lines) for lines in hopeless.values())
        for why, lines in hopeless.items():
            ctx.warn(f"{len(lines)} failed with {why}, which a retry cannot fix: {_ids(lines)}")
        if a.all:
            ctx.warn("resubmitting them anyway (--all): they will likely fail again")
        else:
            chosen = [line for line in failed if retryfile.not_worth_retrying(line) is None]
            ctx.warn(f"skipping those {count} (see them with: errors {a.id}; resubmit them too with --all)")
    batch = client.retry_failed(a.id, completion_window=a.window, error_lines=chosen) if chosen else None
    if batch is None:
        text = f"no failed requests in batch {a.id}" if not failed else f"nothing worth retrying in batch {a.id}"
        ctx.emit(text, None)
        return exits.OK
    ctx.note(f"resubmitted {batch.request_counts.total} failed requests as batch {batch.id}")
    return _follow_or_show(ctx, batch)


def cancel(ctx: Context) -> int:
    batch = ctx.client.cancel_batch(ctx.args.id)
    ctx.emit(render.batch_block(batch), batch.raw)
    return exits.OK


def estimate(ctx: Context) -> int:
    a = ctx.args
    client = ctx.client
    path = Path(a.file)
    uploaded = None
    if path.exists():
        data = batchfile.check_file(batchfile.read_batch_file(path), unique_ids=False)
        uploaded = client.upload_file(data, filename=path.name)
    file_id = uploaded.id if uploaded else a.file
    try:
        found = client.cost_estimate(file_id, a.window)
    finally:
        if uploaded and not a.keep:
            client.delete_file(uploaded.id)
    if uploaded and a.keep:
        ctx.note(f"uploaded as file {uploaded.id}")
    ctx.emit(render.estimate(found, a.window), found)
    return exits.OK


COMMANDS: dict[str, Callable[[Context], int]] = {
    "make": make, "submit": submit, "status": status, "list": list_batches, "watch": watch, "results": results,
    "errors": errors, "retry-failed": retry_failed, "cancel": cancel, "estimate": estimate,
}

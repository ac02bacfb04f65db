"""Files: upload, look-up, listing, deletion, content pages and cost estimates.

Owns the rules of the files resource (ids, ownership, listing filters, the `X-Incomplete` and
`X-Last-Line` arithmetic for input files). Output and error files belong to batches: their content
comes from a `VirtualContent` provider the batch engine registers. No HTTP here.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson

from mockserver.domain.ids import IdSource
from mockserver.domain.line_scan import OPEN_END
from mockserver.domain.paging import Page, clamp_limit, clamp_skip
from mockserver.domain.upload import Upload
from mockserver.domain.validation import LineRules, normalised_body, normalised_line
from mockserver.errors import BadRequest, NotFound, PayloadTooLarge, TooManyRequests
from mockserver.profile import profile_of
from mockserver.settings import Settings
from mockserver.store import FileRow, Store

CONTENT_CHUNK_LINES = 2000
READ_CHUNK = 1 << 20  # bytes read at a time where a file is streamed or scanned as uploaded


@dataclass(frozen=True)
class Content:
    """A content download: the body (bytes or a stream of chunks) and the two live headers."""

    chunks: Iterator[bytes] | AsyncIterator[bytes] | bytes
    incomplete: bool
    last_line: int | None  # None: send no X-Last-Line


class VirtualContent(Protocol):
    """What the batch engine provides for a batch's output and error files."""

    def content(self, row: FileRow, skip: int, limit: int | None, search: str | None) -> Content: ...

    def size(self, row: FileRow) -> int: ...

    def visible(self, row: FileRow) -> bool:
        """Whether clients can see a result file yet (the OpenAI profile hides them until the batch ends)."""
        ...


class FileService:
    def __init__(self, store: Store, settings: Settings, ids: IdSource, now: Callable[[], float]) -> None:
        self.store = store
        self.settings = settings
        self.ids = ids
        self.now = now
        self.profile = profile_of(settings)
        self.virtual: VirtualContent | None = None
        self.on_delete: Callable[[str], None] | None = None  # the batch engine's cascade
        self._uploads = 0
        self.rules = LineRules(
            allowed_url_paths=settings.allowed_url_paths,
            model_kinds={m.name: m.kind for m in settings.models},
            max_body_size=settings.max_request_body_size,
        )

    # -- create -----------------------------------------------------------------------------------
    def check_declared_size(self, content_length: int | None) -> None:
        """413 before reading a body whose declared length is over the limit (plus 10 KiB of framing)."""
        limit = self.settings.max_file_size
        if limit and content_length is not None and content_length > limit + 10 * 1024:
            raise PayloadTooLarge(f"File exceeds the maximum allowed size of {limit} bytes")

    @contextmanager
    def upload_slot(self, limit: int | None) -> Iterator[None]:
        """The live upload concurrency limiter: 429 when `limit` uploads are already being received."""
        if limit is not None and self._uploads >= limit:
            raise TooManyRequests("Too many file uploads in progress. Please retry later.")
        self._uploads += 1
        try:
            yield
        finally:
            self._uploads -= 1

    def begin_upload(self, owner: str) -> Upload:
        return Upload(
            self.store,
            self.rules,
            owner=owner,
            file_id=self.profile.ids.new("file", self.ids.uuid()),
            check_lines=self.profile.lines_checked_at_upload,
            max_file_size=self.settings.max_file_size,
            max_requests=self.settings.max_requests_per_file,
            default_ttl=self.settings.input_file_ttl,
            now=self.now,
        )

    # -- read -------------------------------------------------------------------------------------
    def get(self, owner: str, file_id: str) -> FileRow:
        canonical = self.profile.ids.require("file", file_id, "Invalid file ID format")
        row = self.store.get_file(canonical)
        if row is None or row.deleted or row.owner != owner or not self._visible(row):
            raise NotFound("File", file_id)
        return row

    def _visible(self, row: FileRow) -> bool:
        return row.kind == "input" or self.virtual is None or self.virtual.visible(row)

    def list_files(
        self,
        owner: str,
        *,
        after: str | None,
        limit: int | None,
        order: str,
        purpose: str | None,
        search: str | None,
    ) -> Page[FileRow]:
        if order not in ("asc", "desc"):
            raise BadRequest("Order must be 'asc' or 'desc'")
        cursor = None
        after_id = None if after is None else self.profile.ids.parse("file", after)
        if after_id is not None:
            found = self.store.get_file(after_id)
            cursor = found if found is not None and found.owner == owner else None
        if self.profile.results_on_finish:  # hidden result files: filter, then cut the page
            size = clamp_limit(limit, default=10_000, most=10_000)
            rows = [r for r in self.store.list_files(owner, after=cursor, limit=-1, descending=order == "desc",
                                                     purpose=purpose, search=search) if self._visible(r)]
        else:
            size = clamp_limit(limit)
            rows = self.store.list_files(
                owner, after=cursor, limit=size + 1, descending=order == "desc", purpose=purpose, search=search
            )
        return Page(rows[:size], has_more=len(rows) > size)

    def delete(self, owner: str, file_id: str) -> FileRow:
        row = self.get(owner, file_id)
        with self.store.transaction():
            self.store.mark_file_deleted(row.id)
            if self.on_delete is not None:
                self.on_delete(row.id)
        return row

    def size(self, row: FileRow) -> int:
        if row.kind != "input" and self.virtual is not None:
            return self.virtual.size(row)
        return row.bytes

    # -- content ----------------------------------------------------------------------------------
    def content(self, owner: str, file_id: str, skip: int | None, limit: int | None, search: str | None) -> Content:
        row = self.get(owner, file_id)
        start = clamp_skip(skip)
        size = None if limit is None else clamp_limit(limit)
        if row.kind != "input":
            if self.virtual is None:
                return Content(b"", incomplete=False, last_line=None)
            return self.virtual.content(row, start, size, search)
        if not self.profile.lines_checked_at_upload:  # OpenAI: the file as uploaded, whatever it holds
            return self._as_uploaded(row, start, size)
        spans = self.store.file_spans(row.id)
        indices: Sequence[int] = range(row.line_count)
        if search:
            needle = search.lower()
            indices = [i for i, obj in enumerate(self._requests(row.id, spans, indices)) if needle in
                       str(obj["custom_id"]).lower()]
        if size is None:
            chosen = indices[start:]
            return Content(self._render(row.id, spans, chosen), incomplete=False, last_line=None)
        chosen = indices[start : start + size]
        body = b"".join(self._render(row.id, spans, chosen))
        end = start + len(chosen)
        return Content(body, incomplete=end < len(indices), last_line=end)

    def _as_uploaded(self, row: FileRow, start: int, size: int | None) -> Content:
        """An OpenAI-profile input file's content: its bytes as uploaded, streamed from disk in chunks
        (off the event loop, as the response iterates). `skip` and `limit` count request lines (the
        non-blank lines, as `line_count` and the headers do): a page runs from the start of its first
        request line (the file's start for the first page) to the start of the first line after it,
        so the pages joined are the file, byte for byte."""
        path = self.store.blob_path(row.id)
        if start == 0 and size is None:
            return Content(_byte_range(path, None, 0, None), incomplete=False, last_line=None)
        spans = self.store.file_spans(row.id)
        if size is None:
            return Content(_byte_range(path, spans, start, None), incomplete=False, last_line=None)
        end = start + max(0, min(size, row.line_count - start))
        return Content(_byte_range(path, spans, start, start + size), incomplete=end < row.line_count, last_line=end)

    def requests(self, row: FileRow) -> Iterator[dict[str, Any]]:
        """Every request of an input file, parsed, in upload order (for batches and estimates)."""
        spans = self.store.file_spans(row.id)
        return self._requests(row.id, spans, range(len(spans) // 2))  # an open span is the rest of the lines

    def _requests(self, file_id: str, spans: array[int], indices: Sequence[int]) -> Iterator[dict[str, Any]]:
        checked = self.profile.lines_checked_at_upload
        for raw in self._raw_lines(file_id, spans, indices):
            if checked:
                yield orjson.loads(raw)
                continue
            try:  # OpenAI profile: any JSONL was stored; lines that are not requests are skipped here
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("body"), dict) and "custom_id" in obj:
                yield obj

    def _render(self, file_id: str, spans: array[int], indices: Sequence[int]) -> Iterator[bytes]:
        out: list[bytes] = []
        for raw in self._raw_lines(file_id, spans, indices):
            out.append(normalised_line(orjson.loads(raw)))
            if len(out) >= CONTENT_CHUNK_LINES:
                yield b"".join(out)
                out = []
        if out:
            yield b"".join(out)

    def _raw_lines(self, file_id: str, spans: array[int], indices: Sequence[int]) -> Iterator[bytes]:
        return raw_lines(self.store.blob_path(file_id), spans, indices)

    # -- cost estimate ----------------------------------------------------------------------------
    def cost_estimate(self, owner: str, file_id: str, window: str | None) -> dict[str, object]:
        """dwctl `get_file_cost_estimate`: input tokens = body bytes / 4; output tokens = 1 per
        embeddings request, else 10% more than the input (the live fallback with no history)."""
        row = self.get(owner, file_id)
        chosen_window = window or "24h"
        stats: dict[str, list[int]] = {}
        for obj in self.requests(row) if row.kind == "input" else iter(()):
            body = normalised_body(obj["body"])
            model = str(body["model"]) if isinstance(body, dict) else ""
            entry = stats.setdefault(model, [0, 0])
            entry[0] += 1
            entry[1] += len(orjson.dumps(body))
        models: list[dict[str, object]] = []
        totals = [0, 0, 0]
        total_cost = Decimal(0)
        for model, (count, body_bytes) in sorted(stats.items()):
            spec = self.settings.model(model)
            input_tokens = body_bytes // 4
            embeddings = spec is not None and spec.kind == "embeddings"
            output_tokens = count if embeddings else int(input_tokens * 1.1)
            cost = Decimal(0)
            if spec is not None:
                in_price = spec.input_price.get(chosen_window, Decimal(0)) / 1_000_000
                out_price = spec.output_price.get(chosen_window, Decimal(0)) / 1_000_000
                cost = input_tokens * in_price + output_tokens * out_price
            total_cost += cost
            totals = [totals[0] + count, totals[1] + input_tokens, totals[2] + output_tokens]
            models.append({
                "model": model,
                "request_count": count,
                "estimated_input_tokens": input_tokens,
                "estimated_output_tokens": output_tokens,
                "estimated_cost": _decimal_text(cost),
            })
        return {
            "file_id": file_id,
            "total_requests": totals[0],
            "total_estimated_input_tokens": totals[1],
            "total_estimated_output_tokens": totals[2],
            "total_estimated_cost": _decimal_text(total_cost),
            "models": models,
        }


def raw_lines(path: Path, spans: array[int], indices: Sequence[int]) -> Iterator[bytes]:
    """The stripped request lines `indices` of a stored upload, read a block of lines at a time.
    `indices` ending at an open span (`line_scan.OPEN_END`: an OpenAI-profile file over the request
    limit) yield that line and every non-blank line after it, read from the bytes."""
    if not indices:  # output and error files have no body on disk
        return
    open_at: int | None = None
    if spans[-1] == OPEN_END and indices[-1] == len(spans) // 2 - 1:
        open_at, indices = spans[-2], indices[:-1]
    with open(path, "rb") as fh:
        yield from _span_lines(fh, spans, indices)
        if open_at is not None:
            yield from (line.strip() for _, line in _lines_from(fh, open_at))


def _span_lines(fh: BinaryIO, spans: array[int], indices: Sequence[int]) -> Iterator[bytes]:
    """The lines `indices` (closed spans), in a block of lines at a time."""
    for group_start in range(0, len(indices), CONTENT_CHUNK_LINES):
        group = indices[group_start : group_start + CONTENT_CHUNK_LINES]
        lo, hi = spans[2 * group[0]], spans[2 * group[-1] + 1]
        needed = sum(spans[2 * i + 1] - spans[2 * i] for i in group)
        if hi - lo > 2 * needed + (1 << 20):  # scattered lines: read each on its own
            for i in group:
                fh.seek(spans[2 * i])
                yield fh.read(spans[2 * i + 1] - spans[2 * i]).strip()
            continue
        fh.seek(lo)
        block = fh.read(hi - lo)
        for i in group:
            yield block[spans[2 * i] - lo : spans[2 * i + 1] - lo].strip()


def _lines_from(fh: BinaryIO, at: int) -> Iterator[tuple[int, bytes]]:
    """Each non-blank line from byte `at` (a line's start) to the end of the file: where it starts,
    and the line as stored (without its line break). Lines are split as the unchecked `LineScanner`
    splits them."""
    fh.seek(at)
    pieces: list[bytes] = []  # the line not yet ended, as read so far
    start = at
    while chunk := fh.read(READ_CHUNK):
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            pieces.append(chunk)
            continue
        if pieces:
            pieces.append(lines[0])
            lines[0] = b"".join(pieces)
        last = lines.pop()
        pieces = [last] if last else []
        for line in lines:
            if line.strip():
                yield start, line
            start += len(line) + 1
    last = b"".join(pieces)
    if last.strip():
        yield start, last


def request_body(source: BinaryIO, spans: array[int], i: int) -> Any:
    """The body of request line `i` of an upload open as `source`, as a batch sends it (`priority`
    removed); read alone, as requests are answered one at a time."""
    source.seek(spans[2 * i])
    return normalised_body(orjson.loads(source.read(spans[2 * i + 1] - spans[2 * i]).strip())["body"])


def closed_spans(path: Path, spans: array[int]) -> array[int]:
    """`spans` with an open span (a file stored over the request limit) replaced by the spans of the
    lines it stands for, read from the bytes: for a batch whose check passes under a limit raised
    since the upload. Spans without an open one come back as they are."""
    if not spans or spans[-1] != OPEN_END:
        return spans
    closed = spans[:-2]
    with open(path, "rb") as fh:
        for start, line in _lines_from(fh, spans[-2]):
            closed.extend((start, start + len(line)))
    return closed


def _line_start(fh: BinaryIO, spans: array[int], index: int) -> int:
    """Where request line `index` (0-based, counting non-blank lines) of an upload starts; the file's
    size when it has no such line."""
    closed = len(spans) // 2
    if closed and spans[-1] == OPEN_END:
        closed -= 1
        if index >= closed:
            found = next(islice(_lines_from(fh, spans[-2]), index - closed, None), None)
            if found is not None:
                return found[0]
    if index < closed:
        return spans[2 * index]
    return fh.seek(0, os.SEEK_END)


def _byte_range(path: Path, spans: array[int] | None, first: int, end: int | None) -> Iterator[bytes]:
    """The bytes of an upload from the start of request line `first` (0: from the file's start) to
    the start of request line `end` (None: to the end), in chunks of `READ_CHUNK`; the lines are
    found with `spans` (None: not needed, `first` is 0 and `end` None)."""
    with open(path, "rb") as fh:
        lo = 0 if first == 0 or spans is None else _line_start(fh, spans, first)
        hi = None if end is None or spans is None else _line_start(fh, spans, end)
        fh.seek(lo)
        left = None if hi is None else max(0, hi - lo)
        while left is None or left > 0:
            chunk = fh.read(READ_CHUNK if left is None else min(READ_CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


def _decimal_text(value: Decimal) -> str:
    """A decimal in plain notation (rust_decimal's Display never uses an exponent)."""
    return format(value.normalize(), "f") if value else "0"

"""Files: upload, look-up, listing, deletion, content pages and cost estimates.

Owns the rules of the files resource (ids, ownership, listing filters); paging and the content
headers are `pages.page`'s. Output and error files belong to batches: their content comes from the
`VirtualContent` the backend passes in (`result_files.ResultFiles`). No HTTP here.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson
import simdjson

from mockserver.domain.ids import IdSource
from mockserver.domain.line_scan import OPEN_END
from mockserver.domain.pages import Content, Window, page
from mockserver.domain.paging import Page, clamp_limit, refuse_member_filter
from mockserver.domain.planner import Requests
from mockserver.domain.policy import Policy
from mockserver.domain.pricing import estimate
from mockserver.domain.upload import Upload
from mockserver.domain.validation import LineRules, normalised_body, normalised_line
from mockserver.errors import BadRequest, NotFound, PayloadTooLarge, TooManyRequests
from mockserver.settings import Settings
from mockserver.store import FileRow, Store

CONTENT_CHUNK_LINES = 2000
READ_CHUNK = 1 << 20  # bytes read at a time where a file is streamed or scanned as uploaded


class VirtualContent(Protocol):
    """What the batch engine provides for a batch's output and error files."""

    def content(self, row: FileRow, window: Window) -> Content: ...

    def size(self, row: FileRow) -> int: ...

    def visible(self, row: FileRow) -> bool:
        """Whether clients can see a result file yet (the OpenAI profile hides them until the batch ends)."""
        ...


class FileService:
    def __init__(
        self, store: Store, settings: Settings, policy: Policy, ids: IdSource, now: Callable[[], float],
        virtual: VirtualContent, on_delete: Callable[[str], None],
    ) -> None:
        self.store = store
        self.settings = settings
        self.ids = ids
        self.now = now
        self.profile = policy
        self.virtual = virtual  # the batches' output and error files
        self.on_delete = on_delete  # the batch engine's cascade
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
        return row.kind == "input" or self.virtual.visible(row)

    def list_files(
        self,
        owner: str,
        *,
        after: str | None,
        limit: int | None,
        order: str,
        purpose: str | None,
        search: str | None,
        member_id: str | None = None,
    ) -> Page[FileRow]:
        if order not in ("asc", "desc"):
            raise BadRequest("Order must be 'asc' or 'desc'")
        refuse_member_filter(member_id)  # after the order check (dwctl files.rs 1319-1355)
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
            self.on_delete(row.id)
        return row

    def size(self, row: FileRow) -> int:
        if row.kind != "input":
            return self.virtual.size(row)
        return row.bytes

    # -- content ----------------------------------------------------------------------------------
    def content(self, owner: str, file_id: str, skip: int | None, limit: int | None, search: str | None) -> Content:
        row = self.get(owner, file_id)
        window = Window.of(skip, limit, search)
        if row.kind != "input":
            return self.virtual.content(row, window)
        if not self.profile.lines_checked_at_upload:  # OpenAI: the file as uploaded, whatever it holds
            return self._as_uploaded(row, window.skip, window.limit)
        spans = self.store.file_spans(row.id)
        indices: Sequence[int] = range(row.line_count)
        if window.search:
            indices = [i for i, obj in enumerate(self._requests(row.id, spans, indices))
                       if window.matches(str(obj["custom_id"]))]
        chosen, more = window.take(indices)
        body = self._render(row.id, spans, chosen)
        return page(window, body if window.limit is None else b"".join(body), shown=len(chosen), more=more,
                    result_file=False)

    def _as_uploaded(self, row: FileRow, start: int, size: int | None) -> Content:
        """An OpenAI-profile input file's content: its bytes as uploaded, streamed from disk in chunks
        (off the event loop, as the response iterates). `skip` and `limit` count request lines (the
        non-blank lines, as `line_count` and the headers do): a page runs from the start of its first
        request line (the file's start for the first page) to the start of the first line after it,
        so the pages joined are the file, byte for byte."""
        path = self.store.blob_path(row.id)
        window = Window(start, size)
        if start == 0 and size is None:
            return page(window, _byte_range(path, None, 0, None), shown=row.line_count, more=False, result_file=False)
        spans = self.store.file_spans(row.id)
        shown = max(0, row.line_count - start) if size is None else max(0, min(size, row.line_count - start))
        end = None if size is None else start + size
        return page(window, _byte_range(path, spans, start, end), shown=shown, more=start + shown < row.line_count,
                    result_file=False)

    def requests(self, row: FileRow) -> Iterator[dict[str, Any]]:
        """Every request of an input file, parsed, in upload order (for batches and estimates)."""
        spans = self.store.file_spans(row.id)
        return self._requests(row.id, spans, range(len(spans) // 2))  # an open span is the rest of the lines

    def request_models(self, row: FileRow) -> Iterator[str]:
        """The model of each request of an input file, in upload order."""
        return (str(request["body"]["model"]) for request in self.requests(row))

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
        """The live estimate (`pricing.estimate`) of an input file's requests at `window` (default 24h)."""
        row = self.get(owner, file_id)
        bodies = (normalised_body(obj["body"]) for obj in self.requests(row)) if row.kind == "input" else iter(())
        return estimate(file_id, bodies, {m.name: m for m in self.settings.models}, window or "24h")


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


def batch_requests(path: Path, spans: array[int]) -> Requests:
    """The small fields of every request of a stored upload (all its spans are closed), in order."""
    custom_ids: list[str] = []
    urls: list[str] = []
    models: list[str] = []
    parse = simdjson.Parser().parse  # reads only the three fields; orjson where it could read otherwise
    for raw in raw_lines(path, spans, range(len(spans) // 2)):
        fields = _quick_fields(parse, raw) or _request_fields(orjson.loads(raw))
        custom_ids.append(fields[0])
        urls.append(fields[1])
        models.append(fields[2])
    sizes = [spans[2 * i + 1] - spans[2 * i] for i in range(len(models))]
    return Requests(custom_ids, urls, models, sizes)


def _request_fields(request: Any) -> tuple[str, str, str]:
    return str(request["custom_id"]), str(request["url"]), str(request["body"]["model"])


def _quick_fields(parse: Callable[[bytes], Any], raw: bytes) -> tuple[str, str, str] | None:
    """custom_id, url and model with simdjson, or None where its reading could differ from orjson's
    (a name that may be repeated, where simdjson takes the first and orjson the last) or is not a
    string. Nothing of the parsed document outlives the call (the parser is reused)."""
    if raw.count(b'"model"') != 1 or raw.count(b'"custom_id"') != 1 or raw.count(b'"url"') != 1:
        return None
    try:
        doc = parse(raw)
        found = (doc["custom_id"], doc["url"], doc["body"]["model"])
    except (ValueError, KeyError, TypeError):
        return None
    del doc
    if all(type(f) is str for f in found):
        return found
    return None


class BlockBodies:
    """Request bodies of a stored upload, read a block of lines at a time (requests are answered in
    about file order), parsed one at a time when asked for. Use as a context manager."""

    def __init__(self, path: Path, spans: array[int]) -> None:
        self.spans = spans
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by __exit__
        self._lo = self._hi = 0  # the line indices the block holds
        self._block = b""
        self._at = 0  # the block's first byte in the file

    def __enter__(self) -> BlockBodies:
        return self

    def __exit__(self, *_: object) -> None:
        self._fh.close()

    def body(self, index: int) -> Any:
        spans = self.spans
        if not self._lo <= index < self._hi:
            self._lo, self._hi = index, min(len(spans) // 2, index + CONTENT_CHUNK_LINES)
            self._at = spans[2 * index]
            end = spans[2 * self._hi - 1]
            if end - self._at > (4 << 20):  # a block of long lines: this one alone
                self._hi = index + 1
                end = spans[2 * index + 1]
            self._fh.seek(self._at)
            self._block = self._fh.read(end - self._at)
        at = self._at
        line = self._block[spans[2 * index] - at : spans[2 * index + 1] - at].strip()  # as stored: \v, \f too
        return normalised_body(orjson.loads(line)["body"])


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

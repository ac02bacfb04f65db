"""One file upload, received as a stream: fields in any order, request lines validated as they arrive.

All or nothing: the body goes to a temporary file and the lines' byte spans to memory; `commit`
makes both durable and only then records the file; any error (or `abort`) leaves no trace. Nothing
here knows about HTTP or multipart; the wire layer calls `field`, `begin_file`, `feed`, `end_file`.

The temporary file is written by a worker thread (`_Spool`), so disk writes overlap receiving and
checking; a small bounded queue keeps memory flat, and a write error surfaces in the next `feed` or
in `commit`. Validation stays on the caller's thread, so its errors are raised by `feed`/`end_file`.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from array import array
from collections.abc import Callable
from pathlib import Path

from mockserver.domain.validation import LineRules, check_request, parse_line
from mockserver.errors import BadRequest, PayloadTooLarge
from mockserver.store import FileRow, Store

_INTEGER = re.compile(r"[+-]?[0-9]+")
_MAX_PENDING_WRITES = 4  # chunks queued for the writer thread (each one read from the socket, <= 256 KB)


class _Spool:
    """A file written by a worker thread: `write` queues a chunk (waiting while the queue is full),
    `close` waits for the writes, fsyncs and closes, `discard` drops what is still queued and closes.
    An error in the worker is re-raised by the next `write` or by `close`."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close/discard
        self._queue: queue.Queue[bytes | None] = queue.Queue(_MAX_PENDING_WRITES)
        self._error: BaseException | None = None
        self._discarding = False
        self._thread = threading.Thread(target=self._run, name=f"upload-spool-{path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None and not self._discarding:
                try:
                    self._file.write(data)
                except BaseException as exc:  # handed to the request's thread
                    self._error = exc

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        """Wait for the queued writes, then make the file durable; the file is closed either way."""
        self._stop()
        try:
            if self._error is not None:
                raise self._error
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()

    def discard(self) -> None:
        self._discarding = True
        self._stop()
        self._file.close()

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()


class Upload:
    def __init__(
        self,
        store: Store,
        rules: LineRules,
        *,
        owner: str,
        file_id: str,
        max_file_size: int,
        max_requests: int,
        default_ttl: int,
        now: Callable[[], float],
    ) -> None:
        self._store = store
        self._rules = rules
        self.owner = owner
        self.file_id = file_id
        self._max_size = max_file_size
        self._max_requests = max_requests
        self._default_ttl = default_ttl
        self._now = now
        self.purpose: str | None = None
        self.expires_after_seconds: int | None = None
        self.filename: str | None = None
        self._temp = store.temp_path(file_id)
        self._out: _Spool | None = None
        self._seen_file = False
        self._size = 0
        self._tail: list[bytes] = []  # the pieces of the current, unfinished line
        self._offset = 0  # where the current line starts in the body
        self.lines = 0
        self.spans: array[int] = array("Q")

    # -- simple fields ----------------------------------------------------------------------------
    def field(self, name: str, value: str) -> None:
        if name == "purpose":
            if value.lower() != "batch":
                raise BadRequest(f"Invalid purpose '{value}'. Only 'batch' is supported.")
            self.purpose = value
        elif name == "expires_after[seconds]" and _INTEGER.fullmatch(value):
            self.expires_after_seconds = int(value)
        # expires_after[anchor] is accepted and ignored (any anchor means created_at); others ignored

    # -- the file part ----------------------------------------------------------------------------
    def begin_file(self, filename: str | None) -> None:
        self.filename = filename
        self._seen_file = True
        if self._out is None:
            self._out = _Spool(self._temp)

    def feed(self, data: bytes) -> None:
        assert self._out is not None, "feed before begin_file"
        self._size += len(data)
        if self._max_size and self._size > self._max_size:
            raise PayloadTooLarge(f"File exceeds the maximum allowed size of {self._max_size} bytes")
        self._out.write(data)
        lines = data.split(b"\n")
        if len(lines) == 1:
            self._tail.append(data)
            return
        if self._tail:
            self._tail.append(lines[0])
            lines[0] = b"".join(self._tail)
        last = lines.pop()
        self._tail = [last] if last else []
        self._lines(lines)

    def end_file(self) -> None:
        if self._tail:
            last = b"".join(self._tail)
            self._tail = []
            start = self._offset
            self._lines([last])
            self._offset = start + len(last)  # no newline after it
        if self.lines == 0:
            raise BadRequest("File contains no valid request templates")

    def _lines(self, lines: list[bytes]) -> None:
        """Check whole lines (without their newlines) that follow each other from `self._offset`."""
        rules, spans, max_requests = self._rules, self.spans, self._max_requests
        n = self.lines
        start = self._offset
        for line in lines:
            end = start + len(line)
            stripped = line.strip()
            if stripped:
                if max_requests and n >= max_requests:
                    raise BadRequest(
                        f"File contains {n + 1} requests, which exceeds the maximum of {max_requests}"
                    )
                n += 1
                try:
                    obj = parse_line(stripped, n)
                except BadRequest:
                    self._raise_if_not_utf8(stripped, n, start + line.find(stripped[:1]))
                    raise
                check_request(obj, n, rules, len(stripped))
                spans.append(start)
                spans.append(end)
            start = end + 1
        self.lines = n
        self._offset = start

    @staticmethod
    def _raise_if_not_utf8(line: bytes, n: int, offset: int) -> None:
        try:
            line.decode()
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"File contains invalid UTF-8 on/near line {n} at byte offset {offset + exc.start}: "
                f"invalid utf-8 sequence of {exc.end - exc.start} bytes from index {exc.start}"
            ) from None

    # -- outcome ----------------------------------------------------------------------------------
    def commit(self) -> FileRow:
        if not self._seen_file:
            raise BadRequest("No file field found in multipart upload")
        assert self._out is not None
        out, self._out = self._out, None
        out.close()
        now = self._now()
        ttl = self.expires_after_seconds if self.expires_after_seconds is not None else self._default_ttl
        row = FileRow(
            id=self.file_id,
            owner=self.owner,
            kind="input",
            filename=self.filename if self.filename is not None else f"upload-{self.file_id}",
            purpose=self.purpose,
            bytes=self._size,
            created_at=now,
            expires_at=int(now) + ttl,
            line_count=self.lines,
            batch_id=None,
            deleted=False,
        )
        self._store.keep_blob(self._temp, self.file_id)
        self._store.insert_file(row, self.spans)
        return row

    def abort(self) -> None:
        if self._out is not None:
            out, self._out = self._out, None
            out.discard()
        self._temp.unlink(missing_ok=True)

"""One file upload, received as a stream: fields in any order, request lines validated as they arrive.

All or nothing: the body goes to a temporary file and the lines' byte spans to memory; `commit`
makes both durable and only then records the file; any error (or `abort`) leaves no trace. Nothing
here knows about HTTP or multipart; the wire layer calls `field`, `begin_file`, `feed`, `end_file`.
"""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Callable
from typing import BinaryIO

from mockserver.domain.validation import LineRules, check_request, parse_line
from mockserver.errors import BadRequest, PayloadTooLarge
from mockserver.store import FileRow, Store

_INTEGER = re.compile(r"[+-]?[0-9]+")


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
        self._out: BinaryIO | None = None
        self._seen_file = False
        self._size = 0
        self._tail = b""
        self._tail_offset = 0
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
            self._out = open(self._temp, "wb")  # noqa: SIM115 - closed in end_file/abort

    def feed(self, data: bytes) -> None:
        assert self._out is not None, "feed before begin_file"
        self._size += len(data)
        if self._max_size and self._size > self._max_size:
            raise PayloadTooLarge(f"File exceeds the maximum allowed size of {self._max_size} bytes")
        self._out.write(data)
        block = self._tail + data if self._tail else data
        cut = block.rfind(b"\n")
        if cut < 0:
            self._tail = block
            return
        self._lines(block[:cut], self._tail_offset)
        self._tail_offset += cut + 1
        self._tail = block[cut + 1 :]

    def end_file(self) -> None:
        if self._tail:
            self._lines(self._tail, self._tail_offset)
            self._tail_offset += len(self._tail)
            self._tail = b""
        if self.lines == 0:
            raise BadRequest("File contains no valid request templates")

    def _lines(self, block: bytes, offset: int) -> None:
        rules, spans, max_requests = self._rules, self.spans, self._max_requests
        n = self.lines
        for line in block.split(b"\n"):
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
                    self._raise_if_not_utf8(stripped, n, offset + line.find(stripped[:1]))
                    raise
                check_request(obj, n, rules, len(stripped))
                spans.append(offset)
                spans.append(offset + len(line))
            offset += len(line) + 1
        self.lines = n

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
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        self._out = None
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
            self._out.close()
            self._out = None
        self._temp.unlink(missing_ok=True)

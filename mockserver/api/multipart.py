"""multipart/form-data, parsed as a stream with python-multipart and handed to an `Upload`.

The file part's bytes go straight to `Upload.feed` as they arrive (never the whole file in memory);
small text fields are collected (up to 64 KiB) and handed over whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mockserver.domain.upload import Upload
from mockserver.errors import BadRequest

MAX_FIELD_BYTES = 64 * 1024
MAX_BOUNDARY = 200
MAX_PART_HEADERS = 32  # multer: httparse with room for 32 headers a part
MAX_HEADER_LINE = 1024 * 1024  # multer has none (bounded by the upload's size limit); here 1 MiB a header line
_HEADER_CONTROLS = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")  # httparse: no controls but TAB, no DEL


def boundary_of(content_type: str | None) -> bytes:
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadRequest(
            "Invalid multipart request: Invalid `boundary` for `multipart/form-data` request"
        )
    return boundary


_ASCII_WS = b" \t\n\x0c\r"  # Rust's u8::is_ascii_whitespace


def disposition_attr(header: bytes, attr: bytes) -> str | None:
    """`name` or `filename` of a Content-Disposition value, as the live server's multer 3.1 reads it
    (`ContentDispositionAttr::extract_from`): the first `attr` at the start or after whitespace or
    `;`, then `=`; a quoted value up to the first unescaped `"` with only `\\"` unescaped (backslashes
    and paths kept as sent), or a bare value up to `;` or a space. Not UTF-8, or malformed: None."""
    while (i := header.find(attr)) >= 0:
        rest = header[i + len(attr):]
        if i > 0 and header[i - 1] not in _ASCII_WS + b";":
            header = rest  # a longer name that ends in `attr` (`filename` for `name`)
            continue
        rest = rest.lstrip(_ASCII_WS)
        if not rest.startswith(b"="):
            return None
        rest = rest[1:].lstrip(_ASCII_WS)
        escaped = False
        if rest.startswith(b"\""):
            rest = rest[1:]
            k = rest.find(b'"')
            while k > 0 and rest[k - 1] == 0x5C:  # a quote escaped with a backslash
                escaped = True
                nxt = rest.find(b'"', k + 1)
                if nxt < 0:
                    return None
                k = nxt
            if k < 0:
                return None
            value = rest[:k]
        else:
            ends = [j for j in (rest.find(b";"), rest.find(b" ")) if j >= 0]
            value = rest[: min(ends)] if ends else rest
        try:
            text = value.decode()
        except UnicodeDecodeError:
            return None
        return text.replace('\\"', '"') if escaped else text
    return None


class _PartReader:
    """python-multipart callbacks -> Upload calls."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.finished = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._disposition: bytes = b""
        self._name = ""
        self._is_file = False
        self._value = bytearray()

    def part_begin(self) -> None:
        self._disposition = b""
        self._value.clear()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def header_end(self) -> None:
        if _HEADER_CONTROLS.search(self._header_value) or _HEADER_CONTROLS.search(self._header_field):
            raise BadRequest("Failed to read multipart upload: Multipart parsing failed: invalid part header")
        if bytes(self._header_field).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def headers_finished(self) -> None:
        self._name = disposition_attr(self._disposition, b"name") or ""
        self._is_file = self._name == "file"
        if self._is_file:
            self.upload.begin_file(disposition_attr(self._disposition, b"filename"))

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.upload.feed(data[start:end])
        elif len(self._value) + end - start <= MAX_FIELD_BYTES:
            self._value += data[start:end]

    def part_end(self) -> None:
        if self._is_file:
            self.upload.end_file()
        else:
            self.upload.field(self._name, self._value.decode("utf-8", "replace"))

    def end(self) -> None:
        self.finished = True


async def receive_upload(stream: AsyncIterator[bytes], content_type: str | None, upload: Upload) -> None:
    """Feed the whole request body through the parser into `upload`; raise on any malformed input."""
    reader = _PartReader(upload)
    boundary = boundary_of(content_type)
    if len(boundary) > MAX_BOUNDARY:  # RFC 2046 allows 70; python-multipart refuses very long ones
        raise BadRequest("Invalid multipart request: the boundary is too long")
    parser = MultipartParser(
        boundary,
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_HEADER_LINE,
        callbacks={
            "on_part_begin": reader.part_begin,
            "on_header_field": reader.header_field,
            "on_header_value": reader.header_value,
            "on_header_end": reader.header_end,
            "on_headers_finished": reader.headers_finished,
            "on_part_data": reader.part_data,
            "on_part_end": reader.part_end,
            "on_end": reader.end,
        },
    )
    try:
        async for chunk in _from_first_boundary(stream, b"--" + boundary):
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(f"Failed to read multipart upload: Multipart parsing failed: {exc}") from None
    if not reader.finished:
        raise BadRequest("Failed to read multipart upload: Multipart parsing failed: incomplete multipart stream")


async def _from_first_boundary(stream: AsyncIterator[bytes], delimiter: bytes) -> AsyncIterator[bytes]:
    """The body from its first `--boundary` on: multer skips whatever comes before it (a preamble,
    RFC 2046 5.1.1), wherever it is. Only the last few bytes are kept while looking."""
    held: bytes | None = b""
    async for chunk in stream:
        if not chunk:
            continue
        if held is None:
            yield chunk
            continue
        held += chunk
        found = held.find(delimiter)
        if found < 0:
            held = held[-(len(delimiter) - 1):] if len(delimiter) > 1 else b""
            continue
        rest, held = held[found:], None
        yield rest
    if held is not None and held:
        yield held  # no boundary at all: the parser reports it

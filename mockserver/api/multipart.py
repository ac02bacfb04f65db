"""multipart/form-data, parsed as a stream with python-multipart and handed to an `Upload`.

The file part's bytes go straight to `Upload.feed` as they arrive (never the whole file in memory);
small text fields are collected (up to 64 KiB) and handed over whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mockserver.domain.upload import Upload
from mockserver.errors import BadRequest

MAX_FIELD_BYTES = 64 * 1024
MAX_BOUNDARY = 200


def boundary_of(content_type: str | None) -> bytes:
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadRequest(
            "Invalid multipart request: Invalid `boundary` for `multipart/form-data` request"
        )
    return boundary


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
        if bytes(self._header_field).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = self._name == "file"
        if self._is_file:
            filename = params.get(b"filename")
            self.upload.begin_file(None if filename is None else filename.decode("utf-8", "replace"))

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
        {
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
        async for chunk in stream:
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(f"Failed to read multipart upload: Multipart parsing failed: {exc}") from None
    if not reader.finished:
        raise BadRequest("Failed to read multipart upload: Multipart parsing failed: incomplete multipart stream")

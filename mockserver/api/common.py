"""What every handler shares: the caller, query parameters parsed as live parses them, responses."""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mockserver.backend import Backend
from mockserver.domain.pages import Content
from mockserver.domain.users import User
from mockserver.errors import BadRequest, PayloadTooLarge

_I64 = re.compile(r"[+-]?[0-9]+")  # what Rust's i64::from_str reads (ASCII digits only)

NDJSON = "application/x-ndjson"


def backend(request: Request) -> Backend:
    found: Backend = request.app.state.backend
    return found


def caller(request: Request) -> User:
    return backend(request).users.from_authorization(request.headers.get("authorization"))


def int_param(request: Request, name: str) -> int | None:
    """An optional i64 query parameter as live parses it (serde_with's `DisplayFromStr`, so Rust's
    `i64::from_str`: ASCII digits after an optional sign), with Rust's messages for each failure."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not _I64.fullmatch(raw):
        why = "cannot parse integer from empty string" if raw == "" else "invalid digit found in string"
        raise BadRequest(f"Failed to deserialize query string: {name}: {why}")
    digits = raw.lstrip("+-").lstrip("0")
    value = int(raw) if len(digits) <= 19 else None  # more digits overflow (and a huge int() is refused)
    if value is None or not -(2**63) <= value < 2**63:
        why = "number too small to fit in target type" if raw.startswith("-") else "number too large to fit in target type"
        raise BadRequest(f"Failed to deserialize query string: {name}: {why}")
    return value


async def bounded_body(request: Request, limit: int, message: str) -> bytes:
    """The whole request body, or 413 `message` once it (or its declared length) passes `limit` bytes:
    read no further than the limit, as axum's body limit does."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(message)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(message)
        chunks.append(chunk)
    return b"".join(chunks)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def content_response(content: Content) -> Response:
    headers = {"x-incomplete": "true" if content.incomplete else "false"}
    if content.last_line is not None:
        headers["x-last-line"] = str(content.last_line)
    if isinstance(content.chunks, bytes):
        return Response(content.chunks, media_type=NDJSON, headers=headers)
    return StreamingResponse(content.chunks, media_type=NDJSON, headers=headers)

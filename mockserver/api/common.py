"""What every handler shares: the caller, query parameters parsed as live parses them, responses."""

from __future__ import annotations

import datetime
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mockserver.backend import Backend
from mockserver.domain.pages import Content
from mockserver.domain.paging import canonical_uuid
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


def uuid_param(request: Request, name: str) -> str | None:
    """An optional `Uuid` query parameter (serde's uuid 1.x): the canonical form, or axum's 400.
    The reason after `UUID parsing failed: ` is uuid's own and not reproduced (fidelity.md)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    found = canonical_uuid(raw)
    if found is None:
        raise BadRequest(f"Failed to deserialize query string: {name}: UUID parsing failed: failed to parse a UUID")
    return found


class _DateError(Exception):
    pass


_TOO_SHORT, _INVALID = "premature end of input", "input contains invalid characters"
_OUT_OF_RANGE, _TRAILING = "input is out of range", "trailing input"


class _Scan:
    """chrono 0.4's `parse_rfc3339_relaxed` (what `DateTime<Utc>`'s serde `Deserialize` reads, via
    `FromStr`): `Y-M-D`, `T`/`t`/space, `H:M:S`, optional fraction, then `Z`, `UTC` or `±HH[:]MM`;
    numbers of 1 to 2 digits (the year up to 4, or any after a sign), whitespace allowed around `-`
    and `:`; each failure as chrono names it."""

    def __init__(self, text: str) -> None:
        self.s = text

    def _fail(self) -> _DateError:
        return _DateError(_TOO_SHORT if not self.s else _INVALID)

    def number(self, most: int | None) -> int:
        n = 0
        while n < len(self.s) and (most is None or n < most) and self.s[n] in "0123456789":
            n += 1
        if n == 0:
            raise self._fail()
        value, self.s = int(self.s[:n]), self.s[n:]
        return value

    def year(self) -> int:
        if self.s[:1] in ("+", "-"):
            sign, self.s = self.s[0], self.s[1:]
            value = self.number(None)
            return -value if sign == "-" else value
        return self.number(4)

    def literal(self, chars: str) -> None:
        if not self.s or self.s[0] not in chars:
            raise self._fail()
        self.s = self.s[1:]

    def space(self) -> None:
        self.s = self.s.lstrip()

    def fraction(self) -> float:
        if not self.s.startswith("."):
            return 0.0
        self.s = self.s[1:]
        n = 0
        while n < len(self.s) and self.s[n] in "0123456789":
            n += 1
        if n == 0:
            raise self._fail()
        value, self.s = float("0." + self.s[:n]), self.s[n:]
        return value

    def offset(self) -> int:
        if self.s[:3].upper() == "UTC":
            self.s = self.s[3:]
            return 0
        if self.s[:1] in ("Z", "z"):
            self.s = self.s[1:]
            return 0
        if not self.s or self.s[0] not in "+-\u2212":
            raise self._fail()
        sign = 1 if self.s[0] == "+" else -1
        self.s = self.s[1:]
        hours = self.two_digits()
        self.s = self.s.lstrip()
        if self.s.startswith(":"):
            self.s = self.s[1:]
        self.s = self.s.lstrip()
        minutes = self.two_digits()
        if hours >= 24 or minutes >= 60:
            raise _DateError(_OUT_OF_RANGE)
        return sign * (hours * 3600 + minutes * 60)

    def two_digits(self) -> int:
        if len(self.s) < 2:
            raise _DateError(_TOO_SHORT)
        if not (self.s[0] in "0123456789" and self.s[1] in "0123456789"):
            raise _DateError(_INVALID)
        value, self.s = int(self.s[:2]), self.s[2:]
        return value


def _rfc3339_relaxed(text: str) -> float:
    scan = _Scan(text)
    year = scan.year()
    parts = [year]
    for _ in range(2):
        scan.space()
        scan.literal("-")
        parts.append(scan.number(2))
    scan.literal("Tt ")
    hms = [scan.number(2)]
    for _ in range(2):
        scan.space()
        scan.literal(":")
        hms.append(scan.number(2))
    fraction = scan.fraction()
    scan.space()
    offset = scan.offset()
    if scan.s.lstrip():
        raise _DateError(_TRAILING)
    _, month, day = parts
    hour, minute, second = hms
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second <= 60):
        raise _DateError(_OUT_OF_RANGE)
    if not -262_143 <= year <= 262_142:
        raise _DateError(_OUT_OF_RANGE)
    try:
        date = datetime.date(year, month, day) if 1 <= year <= 9999 else None
    except ValueError:
        raise _DateError(_OUT_OF_RANGE) from None
    if date is None:  # outside Python's years but inside chrono's: far past or future, never a batch's time
        return float("-inf") if year < 1 else float("inf")
    days = (date - datetime.date(1970, 1, 1)).days
    return days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) + fraction - offset


def datetime_param(request: Request, name: str) -> float | None:
    """An optional `chrono::DateTime<Utc>` query parameter as live parses it, as epoch seconds; axum's
    400 with chrono's reason for anything else."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return _rfc3339_relaxed(raw)
    except _DateError as exc:
        raise BadRequest(f"Failed to deserialize query string: {name}: {exc}") from None

"""Pagination rules shared by lists and content downloads (dwctl `pagination.rs`).

`limit` is clamped to 1..101 (the docs say 100; the clamp is 101), `skip` below 0 becomes 0, and
an `after` cursor that is not a known id of the caller is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from mockserver.errors import BadRequest

T = TypeVar("T")

_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HYPHENATED = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_SPELLINGS = re.compile(
    rf"(?P<simple>[0-9a-fA-F]{{32}})|(?P<hyphenated>{_HYPHENATED})|\{{(?P<braced>{_HYPHENATED})\}}|urn:uuid:(?P<urn>{_HYPHENATED})"
)
MAX_LIMIT = 101
DEFAULT_LIST_LIMIT = 20


def clamp_limit(limit: int | None, default: int = DEFAULT_LIST_LIMIT, most: int = MAX_LIMIT) -> int:
    return default if limit is None else max(1, min(most, limit))


def clamp_skip(skip: int | None) -> int:
    return 0 if skip is None else max(0, skip)


def canonical_uuid(text: str) -> str | None:
    """The hyphenated lower-case form of an id in a spelling the live server's `Uuid::parse_str`
    (uuid 1.x) accepts: 32 hex digits, the hyphenated form, that form in braces, or `urn:uuid:` and
    that form; hex digits in either case. None for anything else (other hyphen places, braces around
    the 32 digits, `uuid:`: live answers those 400)."""
    if _CANONICAL.fullmatch(text):
        return text
    found = _SPELLINGS.fullmatch(text)
    if found is None:
        return None
    digits = next(g for g in found.groups() if g is not None).replace("-", "").lower()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def is_uuid(text: str) -> bool:
    return canonical_uuid(text) is not None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


# dwctl batches.rs 1924-1927 and files.rs 1352-1355: every simulated user acts in a personal context
# and is no platform manager, so both lists refuse a (well-formed) `member_id`
MEMBER_FILTER_REFUSED = "member_id filter is only available in organization context or for platform managers"


def refuse_member_filter(member_id: str | None) -> None:
    if member_id is not None:
        raise BadRequest(MEMBER_FILTER_REFUSED)

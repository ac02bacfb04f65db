"""Pagination rules shared by lists and content downloads (dwctl `pagination.rs`).

`limit` is clamped to 1..101 (the docs say 100; the clamp is 101), `skip` below 0 becomes 0, and
an `after` cursor that is not a known id of the caller is ignored.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_LIMIT = 101
DEFAULT_LIST_LIMIT = 20


def clamp_limit(limit: int | None, default: int = DEFAULT_LIST_LIMIT, most: int = MAX_LIMIT) -> int:
    return default if limit is None else max(1, min(most, limit))


def clamp_skip(skip: int | None) -> int:
    return 0 if skip is None else max(0, skip)


def canonical_uuid(text: str) -> str | None:
    """The hyphenated lower-case form of an id in any spelling the live server's `Uuid::parse_str`
    accepts (upper case, no hyphens, braces, `urn:uuid:`), or None when it is not a UUID."""
    if _CANONICAL.fullmatch(text):
        return text
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def is_uuid(text: str) -> bool:
    return canonical_uuid(text) is not None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool

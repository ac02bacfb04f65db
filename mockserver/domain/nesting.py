"""JSON nesting depth, checked where the live server's parser (serde_json) would refuse a document:
its recursion limit of 128 refuses the 128th nested array or object (`recursion limit exceeded`). Deeper documents would also break our own
serialiser (orjson stops at 255) and schema validation.

`loads` is the one place that parses a client's JSON with that limit: every route that reads a JSON
document from a client (batch-create and other JSON bodies, realtime bodies, upload lines) calls it
and wraps `TooDeep`'s detail in its own message."""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

import orjson

MAX_DEPTH = 127  # levels a document may have
RECURSION_LIMIT_EXCEEDED = "recursion limit exceeded"  # serde_json's wording

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.S)  # a string, or an unterminated one at the end
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TooDeep(ValueError):
    """A document nested more than `MAX_DEPTH` levels; `detail` is serde_json's wording."""

    detail = RECURSION_LIMIT_EXCEEDED

    def __init__(self) -> None:
        super().__init__(self.detail)


def loads(raw: bytes) -> Any:
    """Parse a client's JSON document as serde_json with its recursion limit would: the value, or
    `TooDeep` for a document nested more than `MAX_DEPTH` levels, or `orjson.JSONDecodeError` for
    any other syntax error.

    serde_json stops at the 128th level, before anything after it is read, so an error orjson
    reports past that point is `TooDeep` too: orjson's own nesting limit (`depth limit exceeded`, at
    over 1,000 levels), and the messages it gives for deep but broken documents (an unterminated
    one can read `failed to allocate memory`)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if _deeper_before(exc.doc, exc.pos + 1):
            raise TooDeep() from None
        raise
    if too_deep(raw, value):
        raise TooDeep()
    return value


def _deeper_before(doc: str, end: int, limit: int = MAX_DEPTH) -> bool:
    """Whether `doc[:end]` (maybe broken JSON) opens more than `limit` levels at some point; brackets
    inside strings do not count."""
    prefix = doc[:end]
    if prefix.count("{") + prefix.count("[") <= limit:
        return False
    brackets = re.sub(r"[^\[\]{}]", "", _STRING.sub("", prefix))
    return max(accumulate(map(_STEP.__getitem__, map(ord, brackets))), default=0) > limit


def too_deep(raw: bytes, value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` (parsed from `raw`) nests arrays and objects more than `limit` levels deep."""
    if raw.count(b"{") + raw.count(b"[") <= limit:  # cheap bound: most documents stop here
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False

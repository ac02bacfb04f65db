"""JSON nesting depth, checked where the live server's parser (serde_json) would refuse a document:
its recursion limit of 128 refuses the 128th nested array or object (`recursion limit exceeded`). Deeper documents would also break our own
serialiser (orjson stops at 255) and schema validation."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 127  # levels a document may have


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

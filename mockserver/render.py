"""Domain objects -> the live service's JSON shapes: unset fields omitted, the list envelope.

Pure functions returning dicts; the HTTP layer serialises them with orjson.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mockserver.store import FileRow

T = TypeVar("T")


def file_object(row: FileRow, size: int, *, email: str | None) -> dict[str, Any]:
    """`email` is None on the upload response, where live omits the owner and context fields."""
    obj: dict[str, Any] = {
        "id": row.id,
        "object": "file",
        "bytes": size,
        "created_at": int(row.created_at),
        "filename": row.filename,
        "purpose": row.purpose.lower() if row.purpose else "batch",
    }
    if row.expires_at is not None:
        obj["expires_at"] = row.expires_at
    if email is not None:
        obj["created_by_email"] = email
        obj["context_name"] = "Personal"
        obj["context_type"] = "personal"
    return obj


def list_object(items: Sequence[T], has_more: bool, render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    data = [render(item) for item in items]
    out: dict[str, Any] = {"object": "list", "data": data}
    if data:
        out["first_id"] = data[0]["id"]
        out["last_id"] = data[-1]["id"]
    out["has_more"] = has_more
    return out


def file_deleted(file_id: str) -> dict[str, Any]:
    return {"id": file_id, "object": "file", "deleted": True}

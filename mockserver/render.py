"""Domain objects -> the live service's JSON shapes: unset fields omitted, the list envelope.

Pure functions returning dicts; the HTTP layer serialises them with orjson.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from mockserver.domain.status import BatchView
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


def list_object(
    items: Sequence[T], has_more: bool, render: Callable[[T], dict[str, Any]], *, null_ids: bool = False
) -> dict[str, Any]:
    """The list envelope: `first_id`/`last_id` omitted on an empty page (live), or null (`null_ids`,
    OpenAI's spec, where both are required)."""
    data = [render(item) for item in items]
    out: dict[str, Any] = {"object": "list", "data": data}
    if data or null_ids:
        out["first_id"] = data[0]["id"] if data else None
        out["last_id"] = data[-1]["id"] if data else None
    out["has_more"] = has_more
    return out


def file_deleted(file_id: str) -> dict[str, Any]:
    return {"id": file_id, "object": "file", "deleted": True}


def _parsed(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(text)
    return parsed


def _metadata(text: str) -> dict[str, Any]:
    return _parsed(text)


def batch_object(view: BatchView, *, with_context: bool) -> dict[str, Any]:
    """The live BatchResponse, fields in its order, unset ones omitted. `with_context` adds the
    `context_*` metadata keys that GET and list add (the create response lacks them)."""
    row = view.row
    obj: dict[str, Any] = {
        "id": row.id,
        "object": "batch",
        "endpoint": row.endpoint,
        "input_file_id": row.input_file_id or "",
        "completion_window": row.completion_window,
        "status": view.status,
    }
    if row.output_file_id is not None:
        obj["output_file_id"] = row.output_file_id
    if row.error_file_id is not None:
        obj["error_file_id"] = row.error_file_id
    obj["created_at"] = int(row.created_at)
    stamps = (
        ("in_progress_at", view.in_progress_at),
        ("expires_at", row.expires_at),
        ("finalizing_at", view.finalizing_at),
        ("completed_at", view.completed_at),
        ("failed_at", view.failed_at),
        ("expired_at", view.expired_at),
        ("cancelling_at", row.cancelled_at),
        ("cancelled_at", row.cancelled_at),
    )
    for key, value in stamps:
        if value is not None:
            obj[key] = int(value)
    obj["request_counts"] = {"total": row.total, "completed": view.completed, "failed": view.failed}
    metadata = _metadata(row.metadata)
    if with_context:
        metadata |= {"context_name": "Personal", "context_type": "personal"}
    obj["metadata"] = metadata
    obj["dwext"] = {"source": "api"}
    return obj


# -- the OpenAI profile: every key present, null when unset ---------------------------------------
def openai_file_object(row: FileRow, size: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "file",
        "bytes": size,
        "created_at": int(row.created_at),
        "expires_at": row.expires_at,
        "filename": row.filename,
        "purpose": "batch_output" if row.kind != "input" else (row.purpose or "batch"),
        "status": "processed",
        "status_details": None,
    }


def _stamp(value: float | None) -> int | None:
    return None if value is None else int(value)


def openai_batch_object(view: BatchView) -> dict[str, Any]:
    """OpenAI's Batch: result file ids once the batch has ended (and only for a non-empty file),
    `errors` from validation, `model`, `usage` of the counted successes."""
    row = view.row
    done = view.finished
    errors = None if row.errors is None else {"object": "list", "data": _parsed(row.errors)["data"]}
    usage = None
    if view.usage is not None:
        prompt, completion = view.usage
        usage = {
            "input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": prompt + completion,
        }
    metadata = _parsed(row.metadata) or None
    return {
        "id": row.id,
        "object": "batch",
        "endpoint": row.endpoint,
        "model": row.model,
        "errors": errors,
        "input_file_id": row.input_file_id,
        "completion_window": row.completion_window,
        "status": view.status,
        "output_file_id": row.output_file_id if done and view.completed else None,
        "error_file_id": row.error_file_id if done and (view.failed or view.expired_requests) else None,
        "created_at": int(row.created_at),
        "in_progress_at": _stamp(view.in_progress_at),
        "expires_at": int(row.expires_at),
        "finalizing_at": _stamp(view.finalizing_at),
        "completed_at": _stamp(view.completed_at),
        "failed_at": _stamp(view.failed_at),
        "expired_at": _stamp(view.expired_at if view.status == "expired" else None),
        "cancelling_at": _stamp(row.cancelled_at),
        "cancelled_at": _stamp(view.cancelled_at),
        "request_counts": {"total": row.total if view.status != "validating" else 0, "completed": view.completed,
                           "failed": view.failed},
        "usage": usage,
        "metadata": dict(metadata) if metadata else None,
    }


class BatchJsonCache:
    """The JSON bytes of batch objects as last rendered, per batch: a poll that finds its batch as it
    was (the same stored version of the row, the same derived view) gets the same bytes without
    rendering again. Bounded (the oldest entry goes first)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: dict[tuple[str, bool], tuple[int, tuple[Any, ...], bytes]] = {}

    def get(self, view: BatchView, with_context: bool, render: Callable[[BatchView, bool], dict[str, Any]]) -> bytes:
        key = (view.row.id, with_context)
        state = _view_state(view)
        found = self._entries.get(key)
        if found is not None and found[0] == view.row.version and found[1] == state:
            return found[2]
        body = orjson.dumps(render(view, with_context))
        if key not in self._entries and len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (view.row.version, state, body)
        return body


# Every field of a view, so a field added later is part of the state too; except the row (its
# version stands for it) and `now` and `cut`, which move on every poll and reach a rendering only
# through the fields and the `expired_at` property.
_VIEW_STATE = operator.attrgetter(
    *(f.name for f in dataclasses.fields(BatchView) if f.name not in ("row", "now", "cut")), "expired_at"
)


def _view_state(view: BatchView) -> tuple[Any, ...]:
    """Everything of a view a rendering reads, except the row (its version stands for it)."""
    state: tuple[Any, ...] = _VIEW_STATE(view)
    return state

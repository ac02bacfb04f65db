"""`GET /batches/{id}/results`: one item per request of a batch, in input order, with its input body,
its response or error, and its state now (dwctl `batches.rs` `get_batch_results`; research/
doubleword-server.md §5): `pending` while validating, before it starts and once cancelled unfinished;
`in_progress` while it runs; `completed` or `failed` once it ended.

`items` gives typed `ResultItem`s (the console shows them); `content` renders them as live's JSONL,
with the paging of `pages.page`.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mockserver.domain.files import raw_lines
from mockserver.domain.pages import Content, Window, page
from mockserver.domain.status import BatchView
from mockserver.domain.validation import normalised_body
from mockserver.store import RequestRow, Store


@dataclass(frozen=True)
class ResultItem:
    id: str
    custom_id: str
    model: str
    input_body: Any
    response_body: Any
    error: str | None  # the FailureReason JSON of a failed request
    status: str  # pending | in_progress | completed | failed

    def line(self) -> bytes:
        return orjson.dumps({
            "id": self.id, "custom_id": self.custom_id, "model": self.model, "input_body": self.input_body,
            "response_body": self.response_body, "error": self.error, "status": self.status,
        }, option=orjson.OPT_APPEND_NEWLINE)


@dataclass(frozen=True)
class ResultPage:
    items: list[ResultItem]
    more: bool  # items match past this page
    growing: bool  # states may still change


def request_status(view: BatchView, request: RequestRow) -> str:
    if view.status == "validating":
        return "pending"
    if request.end_at <= view.cut:
        return "completed" if request.ok else "failed"
    if view.row.cancelled_at is not None:
        return "pending"  # cancelled rows map to pending in live's /results
    return "in_progress" if request.start_at <= view.now else "pending"


class Results:
    def __init__(self, store: Store) -> None:
        self.store = store

    def items(self, view: BatchView, window: Window, status: str | None) -> ResultPage:
        row = view.row
        chosen: list[tuple[RequestRow, str]] = []
        for request in self.store.requests_by_index(row.id, 0, -1):
            state = request_status(view, request)
            if (status is None or state == status) and window.matches(request.custom_id):
                chosen.append((request, state))
        shown, more = window.take(chosen)
        source = self.store.get_file(row.source_file_id)
        bodies = _bodies_at(self.store.blob_path(row.source_file_id), self.store.file_spans(row.source_file_id),
                            [r.idx for r, _ in shown]) if source is not None else {}
        items = []
        for request, state in shown:
            line = orjson.loads(request.line) if state in ("completed", "failed") else {"response": None, "error": None}
            items.append(ResultItem(
                id=request.request_id, custom_id=request.custom_id, model=request.model,
                input_body=bodies.get(request.idx),
                response_body=line["response"]["body"] if line["response"] else None,
                error=line["error"]["message"] if line["error"] else None, status=state,
            ))
        return ResultPage(items, more, growing=view.status in ("validating", "in_progress"))

    def content(self, view: BatchView, window: Window, status: str | None) -> Content:
        found = self.items(view, window, status)
        body = b"".join(item.line() for item in found.items)
        return page(window, body, shown=len(found.items), more=found.more, growing=found.growing)


def _bodies_at(blob: Path, spans: array[int], indices: list[int]) -> dict[int, Any]:
    lines = raw_lines(blob, spans, indices)
    return {i: normalised_body(orjson.loads(raw)["body"]) for i, raw in zip(indices, lines, strict=True)}

"""A batch's output and error files: their size, content and visibility, from its schedule.

The lines of each file are the stored lines of the batch's requests that ended (successes in the
output file, failures in the error file), in end order, cut at the batch's cut (the cancel time, or
now), so a file only ever grows at its end. Paging and the two headers are `pages.page`'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from mockserver.domain.pages import EMPTY, Content, Window, page
from mockserver.domain.policy import Policy
from mockserver.domain.result_lines import expired_line
from mockserver.domain.status import BatchView, visible_bytes
from mockserver.domain.views import BatchViews
from mockserver.store import FileRow, Store

STREAM_CHUNK = 5000  # lines read from the store at a time for a streamed download


class ResultFiles:
    """The `files.VirtualContent` of batches' output and error files."""

    def __init__(self, store: Store, views: BatchViews, policy: Policy) -> None:
        self.store = store
        self.views = views
        self.policy = policy

    def _view(self, row: FileRow) -> BatchView | None:
        batch = self.store.get_batch(row.batch_id or "")
        return None if batch is None else self.views.view(batch)

    def visible(self, row: FileRow) -> bool:
        """A result file is visible from creation (Doubleword), or once its batch has ended and only if
        it has lines (OpenAI)."""
        if not self.policy.results_on_finish:
            return True
        view = self._view(row)
        if view is None or view.row.deleted:
            return False
        lines = view.completed if row.kind == "output" else view.failed + view.expired_requests
        return view.finished and lines > 0

    def size(self, row: FileRow) -> int:
        view = self._view(row)
        if view is None:
            return 0
        if view.expired_requests and row.kind == "error":
            content = self._expired_errors(view, Window(0, None))
            return len(content.chunks) if isinstance(content.chunks, bytes) else 0
        ends = self.views.ends(view.row)
        if row.kind == "output":
            return visible_bytes(ends.ok_bytes, view.completed)
        return visible_bytes(ends.failed_bytes, view.failed)

    def content(self, row: FileRow, window: Window) -> Content:
        view = self._view(row)
        if view is None:
            return EMPTY
        if view.expired_requests and row.kind == "error":
            return self._expired_errors(view, window)
        ok = 1 if row.kind == "output" else 0
        batch_id, deleted = view.row.id, view.row.deleted
        if window.limit is not None:
            lines = self.store.request_lines(batch_id, ok, view.cut, window.skip, window.limit + 1, window.search)
            shown = lines[: window.limit]
            return page(window, b"".join(shown), shown=len(shown), more=len(lines) > window.limit,
                        growing=view.may_grow, deleted=deleted)
        visible = view.completed if ok else view.failed
        count = None if window.search else max(0, visible - window.skip)
        stream = self._stream(batch_id, ok, view.cut, window, count)
        return page(window, stream, shown=count or 0, more=False, growing=view.may_grow, deleted=deleted)

    def _expired_errors(self, view: BatchView, window: Window) -> Content:
        """An OpenAI-style expired batch's error file: its failures, then every unfinished request as
        `batch_expired`, in input order."""
        batch_id = view.row.id
        lines = self.store.request_lines(batch_id, 0, view.cut, 0, -1, window.search)
        for request in self.store.requests_by_index(batch_id, 0, -1):
            if request.end_at > view.cut and window.matches(request.custom_id):
                lines.append(expired_line(request.request_id, request.custom_id))
        shown, more = window.take(lines)
        return page(window, b"".join(shown), shown=len(shown), more=more, deleted=view.row.deleted)

    async def _stream(self, batch_id: str, ok: int, cut: float, window: Window, count: int | None
                      ) -> AsyncIterator[bytes]:
        offset, left = window.skip, count
        while left is None or left > 0:
            take = STREAM_CHUNK if left is None else min(STREAM_CHUNK, left)
            lines = self.store.request_lines(batch_id, ok, cut, offset, take, window.search)
            if not lines:
                return
            yield b"".join(lines)
            offset += len(lines)
            if left is not None:
                left -= len(lines)

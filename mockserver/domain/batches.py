"""Batches: create, read, list, cancel, delete, retry, results and analytics.

A batch is a schedule: its requests are planned once (`planning`, off the event loop) and stored with
each request's final output or error line. Every read derives status, counts and files from that
schedule, the batch's record (cancel time, deletion) and the clock (`views`). Cancel, delete and
retry are events on the record or a re-plan of some requests, never a sweep through running work.
Create-time checks are `admission`'s; money is `pricing`'s; paging is `pages`'. No HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from mockserver.domain.admission import Admission
from mockserver.domain.pages import Content, Window
from mockserver.domain.paging import Page, canonical_uuid, clamp_limit, is_uuid, refuse_member_filter
from mockserver.domain.planning import PlanningRunner
from mockserver.domain.policy import Policy
from mockserver.domain.pricing import cost, decimal_text
from mockserver.domain.results import ResultPage, Results
from mockserver.domain.status import ACTIVE, BatchView
from mockserver.domain.views import BatchViews
from mockserver.errors import BadRequest, NotFound, Unprocessable
from mockserver.settings import Settings
from mockserver.store import BatchRow, FileRow, Store

STATUS_FILTERS = ("in_progress", "completed", "failed", "cancelled", "expired")


class BatchService:
    def __init__(
        self, store: Store, settings: Settings, policy: Policy, admission: Admission, planning: PlanningRunner,
        views: BatchViews, results: Results, new_id: Callable[[], str], now: Callable[[], float],
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self.admission = admission
        self.planning = planning
        self.views = views
        self.results_of = results
        self.new_id = new_id
        self.now = now

    # -- create -----------------------------------------------------------------------------------
    async def create(self, owner: str, email: str, payload: Any) -> BatchView:
        if self.admission.faults.scenario.limits.model_capacity:  # count every batch's requests
            await self.planning.all_settled()
        admitted = self.admission.admit(owner, email, payload)
        source = admitted.source
        now = self.now()

        def new_file_id() -> str:
            return self.policy.ids.new("file", self.new_id())

        batch_id = self.policy.ids.new("batch", self.new_id())
        row = BatchRow(
            id=batch_id, owner=owner, input_file_id=source.id, source_file_id=source.id, endpoint=admitted.endpoint,
            completion_window=admitted.completion_window, metadata=orjson.dumps(admitted.metadata).decode(),
            created_at=now, ready_at=now + self.settings.validation_delay, expires_at=now + admitted.window_seconds,
            total=source.line_count if source.kind == "input" else 0, output_file_id=new_file_id(),
            error_file_id=new_file_id(), cancelled_at=None, scheduled=False, deleted=False,
            output_expires_after=admitted.output_expires_after,
        )
        # the result files' expiry (OpenAI's output_expires_after): anchored at the files' creation
        files_expire = None if row.output_expires_after is None else int(now) + row.output_expires_after
        with self.store.transaction():
            self.store.insert_batch(row)
            for file_id, kind, purpose in ((row.output_file_id, "output", "batch_output"),
                                           (row.error_file_id, "error", "batch_error")):
                assert file_id is not None
                self.store.insert_file(FileRow(
                    id=file_id, owner=owner, kind=kind, filename=f"batch-{batch_id}-{kind}.jsonl", purpose=purpose,
                    bytes=0, created_at=now, expires_at=files_expire, line_count=0, batch_id=batch_id,
                    deleted=False,
                ))
        self.planning.start(row)
        return self.views.created(row)

    # -- read -------------------------------------------------------------------------------------
    def view(self, row: BatchRow) -> BatchView:
        return self.views.view(row)

    async def _planned(self, owner: str, batch_id: str) -> BatchRow:
        """The caller's batch, once a read of it may show its schedule: a batch still validating (or
        whose plan could not be stored) is answered at once; past validation, after its plan."""
        row = self._owned(owner, batch_id)
        if self.planning.needs_plan(row):
            await self.planning.settled(row.id, row)
            row = self._owned(owner, row.id)
        return row

    async def get(self, owner: str, batch_id: str) -> BatchView:
        return self.view(await self._planned(owner, batch_id))

    def _owned(self, owner: str, batch_id: str) -> BatchRow:
        canonical = self.policy.ids.require("batch", batch_id, "Invalid batch ID format")
        row = self.store.get_batch(canonical)
        if row is None or row.deleted or row.owner != owner:
            raise NotFound("Batch", batch_id)
        return row

    async def list_batches(
        self, owner: str, *, after: str | None, limit: int | None, status: str | None, search: str | None,
        active_first: bool, filters: ListFilters | None = None,
    ) -> BatchList:
        """A page of the caller's batches, newest first; with `include=analytics`, each one's analytics
        (dwctl batches.rs 2033-2038, 2067-2075 and 2160-2162). Checks in live's order: `member_id`, then
        `completion_window` (batches.rs 1912-1951), then `status` (fusillade's)."""
        if self.policy.openai:  # OpenAI's list has no filters: unknown parameters are ignored
            status, search, active_first, filters = None, None, False, None
        filters = filters or ListFilters()
        refuse_member_filter(filters.member_id)
        windows = _window_filter(filters.completion_window)
        if status is not None and status not in STATUS_FILTERS:
            raise BadRequest(
                f"Unknown batch status filter: '{status}'. Valid values: {', '.join(STATUS_FILTERS)}"
            )
        rows = []
        for row in self.store.owner_batches(owner):
            if self.planning.needs_plan(row):
                await self.planning.settled(row.id, row)
                row = self.store.get_batch(row.id) or row
            rows.append(row)
        rows = [row for row in rows if filters.admits(row.created_at) and (windows is None or row.completion_window in windows)]
        views = [self.view(row) for row in rows if not search or self._matches(row, search)]
        if status is not None:
            views = [v for v in views if _status_matches(v, status)]
        if active_first:
            views.sort(key=lambda v: v.status not in ACTIVE)
        if after is not None:
            ids = [v.row.id for v in views]
            if after in ids:
                views = views[ids.index(after) + 1 :]
        size = clamp_limit(limit)
        page = Page(views[:size], has_more=len(views) > size)
        analytics = {v.row.id: self._analytics(v) for v in page.items} if filters.include_analytics else None
        return BatchList(page, analytics)

    def _matches(self, row: BatchRow, search: str) -> bool:
        needle = search.lower()
        source = self.store.get_file(row.source_file_id)
        haystacks = [row.metadata, row.id, source.filename if source is not None and row.input_file_id else ""]
        return any(needle in h.lower() for h in haystacks)

    # -- events -----------------------------------------------------------------------------------
    async def cancel(self, owner: str, batch_id: str) -> BatchView:
        row = await self._settled(owner, batch_id)
        if self.policy.refuse_cancel_when_finished:
            status = self.view(row).status
            if status in ("completed", "failed", "expired", "cancelled"):
                raise BadRequest(f"Cannot cancel a batch with status '{status}'.")
        if row.cancelled_at is None:
            self.store.update_batch(row.id, cancelled_at=self.now())
        return self.view(self._owned(owner, row.id))

    async def _settled(self, owner: str, batch_id: str) -> BatchRow:
        """The caller's batch after any planning of it under way (events act on the whole schedule)."""
        row = self._owned(owner, batch_id)
        await self.planning.settled(row.id)
        return self._owned(owner, row.id)

    async def delete(self, owner: str, batch_id: str) -> None:
        row = await self._settled(owner, batch_id)
        changes: dict[str, Any] = {"deleted": 1}
        if row.cancelled_at is None and self.view(row).status in ACTIVE:
            changes["cancelled_at"] = self.now()
        self.store.update_batch(row.id, **changes)

    def file_deleted(self, file_id: str) -> None:
        """Deleting a file cancels the unfinished batches it feeds and detaches every batch from it."""
        now = self.now()
        for row in self.store.batches_of_file(file_id):
            if row.input_file_id == file_id:
                changes: dict[str, Any] = {"input_file_id": None}
                if row.cancelled_at is None and not row.deleted and self.view(row).status in ACTIVE:
                    changes["cancelled_at"] = now
                self.store.update_batch(row.id, **changes)
            if row.output_file_id == file_id:
                self.store.update_batch(row.id, output_file_id=None)
            if row.error_file_id == file_id:
                self.store.update_batch(row.id, error_file_id=None)

    async def retry(self, owner: str, batch_id: str, request_ids: Iterable[str] | None = None) -> BatchView:
        """Failed and cancelled requests (or only the named failed ones) run again from now."""
        row = await self._settled(owner, batch_id)
        view = self.view(row)
        requests = self.store.requests_by_index(row.id, 0, -1)
        chosen: list[int] = []
        for request in requests:
            finished = request.end_at <= view.cut and view.status not in ("validating", "cancelling")
            if request_ids is None:
                if (finished and not request.ok) or (row.cancelled_at is not None and request.end_at > view.cut):
                    chosen.append(request.idx)
            elif finished and not request.ok:
                chosen.append(request.idx)
        if request_ids is not None:
            wanted = set(request_ids)
            named = {r.idx for r in requests if r.request_id in wanted}
            chosen = [i for i in chosen if i in named]
        elif not chosen and row.cancelled_at is None:
            raise BadRequest("Nothing to retry: no failed or canceled requests, and the batch is not cancelled")
        self.store.update_batch(row.id, cancelled_at=None)
        row = self.store.get_batch(row.id) or replace(row, cancelled_at=None)
        if chosen:
            self.planning.start(row, chosen, ready_at=max(self.now(), row.ready_at))
            await self.planning.settled(row.id)
            row = self.store.get_batch(row.id) or row
        return self.view(row)

    def check_batch_id(self, batch_id: str) -> None:
        if not is_uuid(batch_id):
            raise BadRequest("Invalid batch ID format")

    async def retry_requests(self, owner: str, batch_id: str, payload: Any) -> BatchView:
        raw = payload.get("request_ids") if isinstance(payload, dict) else None
        if not isinstance(raw, list):
            raise Unprocessable("Failed to deserialize the JSON body into the target type: missing field `request_ids`")
        ids = [c for c in (canonical_uuid(r) for r in raw if isinstance(r, str)) if c is not None]
        if not ids:
            raise BadRequest("No valid request IDs provided")
        return await self.retry(owner, batch_id, ids)

    # -- results and analytics ------------------------------------------------------------------
    async def result_items(self, owner: str, batch_id: str, window: Window, status: str | None) -> ResultPage:
        view = self.view(await self._settled(owner, batch_id))
        return self.results_of.items(view, window, status)

    async def results(self, owner: str, batch_id: str, window: Window, status: str | None) -> Content:
        view = self.view(await self._settled(owner, batch_id))
        return self.results_of.content(view, window, status)

    async def analytics(self, owner: str, batch_id: str) -> dict[str, Any]:
        return self._analytics(self.view(await self._settled(owner, batch_id)))

    def _analytics(self, view: BatchView) -> dict[str, Any]:
        row = view.row
        count, prompt, completion, duration = self.store.token_totals(row.id, view.cut)
        out: dict[str, Any] = {
            "total_requests": count, "total_prompt_tokens": prompt, "total_completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if count:
            out["avg_duration_ms"] = round(duration * 1000, 1)
            models = {m.name: m for m in self.settings.models}
            out["total_cost"] = decimal_text(cost(models, row.completion_window,
                                                  self.store.success_tokens_by_model(row.id, view.cut)))
        return out


@dataclass(frozen=True)
class ListFilters:
    """The list's Doubleword filters, parsed as live's query struct reads them (models/batches.rs
    322-367): creation-time bounds (epoch seconds, inclusive: fusillade-arsenal postgres.rs 4860-4867),
    the raw `completion_window`, `member_id` and `include=analytics`."""

    created_after: float | None = None
    created_before: float | None = None
    completion_window: str | None = None
    member_id: str | None = None
    include_analytics: bool = False

    def admits(self, created_at: float) -> bool:
        return ((self.created_after is None or created_at >= self.created_after)
                and (self.created_before is None or created_at <= self.created_before))


@dataclass(frozen=True)
class BatchList:
    page: Page[BatchView]
    analytics: dict[str, dict[str, Any]] | None  # by batch id, with include=analytics


def includes_analytics(include: str | None) -> bool:
    """`include`, comma-separated and trimmed (dwctl batches.rs 2033-2038)."""
    return include is not None and "analytics" in (part.strip() for part in include.split(","))


def _window_filter(raw: str | None) -> set[str] | None:
    """`completion_window`, comma-separated, trimmed, empty entries dropped, none at all no filter;
    `background` is for platform managers only (dwctl batches.rs 211-250)."""
    values = [v.strip() for v in (raw or "").split(",") if v.strip()]
    if not values:
        return None
    if "background" in values:
        raise BadRequest("completion_window=background is only available to platform managers")
    return set(values)


def _status_matches(view: BatchView, wanted: str) -> bool:
    if wanted == "expired":
        return view.finished_late
    groups = {"in_progress": ("validating", "in_progress", "finalizing"), "cancelled": ("cancelling", "cancelled")}
    return view.status in groups.get(wanted, (wanted,))

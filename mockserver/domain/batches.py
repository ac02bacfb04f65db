"""Batches: create, read, list, cancel, delete, retry; and the content of their output and error files.

A batch's requests are scheduled once (`schedule.plan`) when it is created, off the event loop;
the schedule is stored with each request's final output or error line. Every read derives status,
counts and file contents from that schedule, the batch's record (cancel time, deletion) and the
clock (`status.derive`). Cancel, delete and retry are events on the record or a re-plan of some
requests, never a sweep through running work. No HTTP here.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from array import array
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from mockserver.domain.answers import AnswerSource, ClockedAnswers, SimulatedAnswers
from mockserver.domain.faults import Faults
from mockserver.domain.files import Content, FileService, closed_spans, raw_lines, request_body
from mockserver.domain.model import SimulatedModel
from mockserver.domain.openai_validation import check_file
from mockserver.domain.paging import Page, canonical_uuid, clamp_limit, clamp_skip, is_uuid
from mockserver.domain.realtime import model_not_found
from mockserver.domain.result_lines import error_line, expired_line, failure_reason, http_failure_line, output_line
from mockserver.domain.scheduler import Attempt, Planned, Timing, latency, plan_each
from mockserver.domain.status import ACTIVE, BatchView, Ends, visible_bytes
from mockserver.domain.validation import normalised_body
from mockserver.errors import BadRequest, Forbidden, NotFound, PaymentRequired, TooManyRequests, Unprocessable
from mockserver.profile import profile_of
from mockserver.settings import Settings
from mockserver.store import BatchRow, FileRow, Store

RESERVED_METADATA = frozenset(
    {"created_by_email", "context_name", "context_type", "request_source", "created_by", "dw_user_agent"}
)
STATUS_FILTERS = ("in_progress", "completed", "failed", "cancelled", "expired")
STREAM_CHUNK = 5000


def _is_reserved(key: str) -> bool:
    norm = key.lower().replace("-", "_")
    return norm in RESERVED_METADATA or norm.startswith("dw_source_")


def request_uuid(batch_id: str, index: int) -> str:
    digest = hashlib.blake2b(f"{batch_id}:{index}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


@dataclass(frozen=True)
class CreateBatch:
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str]


def parse_create(payload: Any) -> CreateBatch:
    """The body of `POST /batches` as axum's Json extractor checks it (422 on shape errors)."""
    prefix = "Failed to deserialize the JSON body into the target type: "
    if not isinstance(payload, dict):
        raise Unprocessable(f"{prefix}invalid type: expected struct CreateBatchRequest")
    for key in ("input_file_id", "endpoint", "completion_window"):
        if key not in payload:
            raise Unprocessable(f"{prefix}missing field `{key}`")
        if not isinstance(payload[key], str):
            raise Unprocessable(f"{prefix}{key}: invalid type: expected a string")
    metadata = payload.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise Unprocessable(f"{prefix}metadata: invalid type: expected a map of strings")
    return CreateBatch(payload["input_file_id"], payload["endpoint"], payload["completion_window"], metadata)


class BatchService:
    def __init__(
        self, store: Store, files: FileService, settings: Settings, model: SimulatedModel,
        new_id: Callable[[], str], now: Callable[[], float], faults: Faults,
    ) -> None:
        self.faults = faults
        self.store = store
        self.files = files
        self.settings = settings
        self.model = model
        self.answers: AnswerSource = SimulatedAnswers(model)  # or a cassette (`--replay`)
        self.clocked: ClockedAnswers | None = None  # a real upstream (`--upstream`): sent as the clock goes
        self.new_id = new_id
        self.now = now
        self.profile = profile_of(settings)
        self.timing = Timing(settings.latency_min, settings.latency_max, settings.concurrency_per_model)
        self._ends: dict[str, Ends] = {}
        self._planning: dict[str, asyncio.Task[None]] = {}
        files.virtual = self
        files.on_delete = self.file_deleted

    # -- create -----------------------------------------------------------------------------------
    async def create(self, owner: str, email: str, payload: Any) -> BatchView:
        req = parse_create(payload)
        windows = self.profile.windows(self.settings)
        window = dict(windows).get(req.completion_window)
        if window is None:
            allowed = ", ".join(w for w, _ in windows)
            raise BadRequest(f"Unsupported completion_window. Allowed values: {allowed}", param="completion_window")
        if req.endpoint not in self.settings.allowed_url_paths:
            supported = ", ".join(self.settings.allowed_url_paths)
            raise BadRequest(f"Unsupported endpoint '{req.endpoint}'. Supported: {supported}", param="endpoint")
        input_id = self.profile.ids.require("file", req.input_file_id, "Invalid input_file_id format")
        limits = self.faults.scenario.limits
        if limits.negative_balance:
            raise PaymentRequired("Account balance too low. Please add credits to continue.")
        source = self.store.get_file(input_id)
        if source is None or source.deleted:
            raise NotFound("File", req.input_file_id)
        if source.owner != owner:
            if not self.profile.foreign_file_forbidden:
                raise NotFound("File", req.input_file_id)
            raise Forbidden(f"Insufficient permissions to Create batch using file {req.input_file_id}")
        if self.profile.openai:
            metadata = _openai_metadata(req.metadata, source)
        else:
            if limits.model_capacity:
                self._check_capacity(source, req.completion_window, limits.model_capacity)
            metadata = {k: v for k, v in req.metadata.items() if not _is_reserved(k)}
            metadata |= {"request_source": "api", "created_by_email": email}
        now = self.now()

        def new_file_id() -> str:
            return self.profile.ids.new("file", self.new_id())

        batch_id = self.profile.ids.new("batch", self.new_id())
        total = source.line_count if source.kind == "input" else 0
        row = BatchRow(
            id=batch_id, owner=owner, input_file_id=source.id, source_file_id=source.id, endpoint=req.endpoint,
            completion_window=req.completion_window, metadata=orjson.dumps(metadata).decode(), created_at=now,
            ready_at=now + self.settings.validation_delay, expires_at=now + window, total=total,
            output_file_id=new_file_id(), error_file_id=new_file_id(), cancelled_at=None, scheduled=False,
            deleted=False,
        )
        with self.store.transaction():
            self.store.insert_batch(row)
            for file_id, kind, purpose in ((row.output_file_id, "output", "batch_output"),
                                           (row.error_file_id, "error", "batch_error")):
                assert file_id is not None
                self.store.insert_file(FileRow(
                    id=file_id, owner=owner, kind=kind, filename=f"batch-{batch_id}-{kind}.jsonl", purpose=purpose,
                    bytes=0, created_at=now, expires_at=None, line_count=0, batch_id=batch_id, deleted=False,
                ))
        self.start_planning(row)
        return self.profile.derive(row, self._empty, now, self.settings)

    _empty = Ends([], [], [], [])

    def _check_capacity(self, source: FileRow, window: str, capacity: Mapping[str, int]) -> None:
        """The live per-model capacity reservation: 429 when this batch would take a model past the
        number of unfinished requests the scenario allows it."""
        wanted: dict[str, int] = {}
        for request in self.files.requests(source) if source.kind == "input" else iter(()):
            model = str(request["body"]["model"])
            wanted[model] = wanted.get(model, 0) + 1
        busy = self.store.unfinished_by_model(self.now())
        full = sorted(m for m, n in wanted.items() if m in capacity and busy.get(m, 0) + n > capacity[m])
        if full:
            raise TooManyRequests(
                f"Insufficient capacity for {window} completion window. The following models are currently at "
                f"capacity: {', '.join(full)}. Try again later or use a longer completion window."
            )

    # -- planning (off the event loop) ------------------------------------------------------------
    def start_planning(self, row: BatchRow, indices: Sequence[int] | None = None, ready_at: float | None = None) -> None:
        source = self.store.get_file(row.source_file_id)
        spans = self.store.file_spans(row.source_file_id) if source is not None and source.kind == "input" else array("Q")
        blob = self.store.blob_path(row.source_file_id)
        start = row.ready_at if ready_at is None else ready_at
        previous = self._planning.get(row.id)

        async def run() -> None:
            if previous is not None:
                await previous
            await asyncio.to_thread(self._plan_and_save, row, blob, spans, indices, start)
            self.forget_schedule(row.id)

        task = asyncio.get_running_loop().create_task(run())
        self._planning[row.id] = task
        task.add_done_callback(lambda t: self._planning.pop(row.id, None) if self._planning.get(row.id) is t else None)

    async def settled(self, batch_id: str, row: BatchRow | None = None) -> None:
        """Wait until the batch's plan is stored (planning it now if a restart lost its task)."""
        task = self._planning.get(batch_id)
        if task is None:
            row = row or self.store.get_batch(batch_id)
            if row is None or row.scheduled:
                return
            self.start_planning(row)
            task = self._planning[batch_id]
        await asyncio.shield(task)

    def _plan_and_save(
        self, row: BatchRow, blob: Path, spans: array[int], indices: Sequence[int] | None, ready_at: float
    ) -> None:
        changes: dict[str, Any] = {}
        if self.profile.openai and indices is None:  # OpenAI checks the file when the batch validates
            models = {m.name: m.kind for m in self.settings.models}
            checked = check_file(raw_lines(blob, spans, range(len(spans) // 2)), row.endpoint, models,
                                 self.settings.max_requests_per_file)
            if checked.errors:
                errors = orjson.dumps({"data": checked.errors}).decode()
                self.store.save_requests(row.id, [], mark_scheduled=True, errors=errors, total=0)
                return
            changes["model"] = checked.model
            spans = closed_spans(blob, spans)  # a limit raised since the upload: every line is a request
        if self.clocked is not None:  # answers that exist only once sent: pending rows, filled in on the clock
            if changes:
                self.store.save_requests(row.id, [], mark_scheduled=False, **changes)
            self.clocked.begin(row, blob, spans, indices, ready_at)
            return
        rows = self._plan_rows(row, blob, spans, indices, ready_at)
        self.store.save_requests(row.id, rows, mark_scheduled=indices is None, **changes)

    def _plan_rows(
        self, row: BatchRow, blob: Path, spans: array[int], indices: Sequence[int] | None, ready_at: float
    ) -> list[tuple[Any, ...]]:
        # Only the small fields of every request stay in memory; a body is read again when its
        # request is answered (in about file order), so a 200 MB file is never held whole.
        custom_ids: list[str] = []
        urls: list[str] = []
        models: list[str] = []
        for request in _read_requests(blob, spans):
            custom_ids.append(str(request["custom_id"]))
            urls.append(str(request["url"]))
            models.append(str(request["body"]["model"]))
        sizes = [spans[2 * i + 1] - spans[2 * i] for i in range(len(models))]
        seed = self.settings.seed
        scenario = self.faults.scenario  # the scenario in force when the plan is made
        rules = [scenario.outcome_for(c, m, i + 1) for i, (c, m) in enumerate(zip(custom_ids, models, strict=True))] \
            if scenario.requests else [None] * len(models)
        if not models:  # no templates (e.g. a batch made from an output file): nothing to plan
            return []
        source = open(blob, "rb")  # noqa: SIM115 - closed below, after planning

        def attempt(i: int, n: int, start: float) -> Attempt:
            rule = rules[i]
            got = rule.attempt(n) if rule is not None else None
            if got is None and self.settings.model(models[i]) is None:  # removed from the configuration
                got = Attempt(404, model_not_found(models[i]))
            if got is None:
                got = self.answers.attempt(urls[i], request_body(source, spans, i), n, start)
            return got if rule is None or rule.latency is None else replace(got, latency=rule.latency)

        first_tries = random.Random(f"{seed}:{row.id}")  # one stream for first attempts, drawn in index order
        draws = [first_tries.random() for _ in models]

        def duration(i: int, n: int) -> float:
            draw = draws[i] if n == 0 else random.Random(f"{seed}:{row.id}:{i}:{n}").random()
            return latency(draw, self.timing, sizes[i])

        keep_response = self.profile.http_failures_keep_response

        def finish(p: Planned) -> tuple[Any, ...]:
            return self.request_row(row.id, p, custom_ids[p.index], models[p.index], keep_response)

        try:
            return plan_each(models, ready_at, row.expires_at, self.timing, attempt, duration, finish, indices)
        finally:
            source.close()

    @staticmethod
    def request_row(batch_id: str, p: Planned, custom_id: str, model: str, keep_response: bool) -> tuple[Any, ...]:
        request_id = request_uuid(batch_id, p.index)
        usage = p.final.body.get("usage", {}) if isinstance(p.final.body, dict) else {}
        prompt = int(usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0)
        completion = int(usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0)
        upstream_id = f"req_{request_id.replace('-', '')}" if keep_response else None
        if p.succeeded:
            line = output_line(request_id, custom_id, p.final.status, p.final.body, upstream_id)
        elif keep_response and p.final.failure is None:  # OpenAI: an HTTP failure keeps its response
            line = http_failure_line(request_id, custom_id, p.final.status, p.final.body, upstream_id)
        else:
            line = error_line(request_id, custom_id, failure_reason(p.final))
        return (batch_id, p.index, request_id, custom_id, model, p.start, p.end, int(p.succeeded), line,
                prompt, completion)

    def forget_schedule(self, batch_id: str) -> None:
        """The batch's requests or row were saved by another thread: drop what is cached of them.
        Called on the event loop, after the save, so a view read before the save is not kept."""
        self._ends.pop(batch_id, None)
        self.store.forget_batch(batch_id)

    def forget(self) -> None:
        self._ends.clear()
        for task in self._planning.values():
            task.cancel()
        self._planning.clear()

    def answer_pending(self, pending_at: float) -> None:
        """After a restart without `--upstream`: requests a proxied batch left unanswered (their end at
        `pending_at`) are planned again from now with this simulator's answers (simulated or replayed),
        so every request still ends in a file."""
        for batch_id, indices in self.store.requests_ending_from(pending_at).items():
            row = self.store.get_batch(batch_id)
            if row is not None and not row.deleted and row.cancelled_at is None:
                self.start_planning(row, sorted(indices), ready_at=max(self.now(), row.ready_at))

    def resume_unscheduled(self) -> None:
        """After a restart: plan the batches whose schedule was not stored yet."""
        for row in self.store.unscheduled_batches():
            if row.id not in self._planning:
                self.start_planning(row)

    # -- read -------------------------------------------------------------------------------------
    def ends(self, batch_id: str) -> Ends:
        cached = self._ends.get(batch_id)
        if cached is None:
            ok = self.store.request_ends(batch_id, 1)
            failed = self.store.request_ends(batch_id, 0)
            cached = Ends([e for e, _ in ok], _cumulative(ok), [e for e, _ in failed], _cumulative(failed))
            self._ends[batch_id] = cached
        return cached

    def view(self, row: BatchRow) -> BatchView:
        view = self.profile.derive(row, self.ends(row.id), self.now(), self.settings)
        if self.profile.openai and view.completed:
            _, prompt, completion, _ = self.store.token_totals(row.id, view.cut)
            view = replace(view, usage=(prompt, completion))
        elif self.profile.openai:
            view = replace(view, usage=(0, 0))
        return view

    def visible(self, row: FileRow) -> bool:
        """A result file is visible from creation (Doubleword), or once its batch has ended and only if
        it has lines (OpenAI)."""
        if not self.profile.results_on_finish:
            return True
        batch = self.store.get_batch(row.batch_id or "")
        if batch is None or batch.deleted:
            return False
        view = self.view(batch)
        lines = view.completed if row.kind == "output" else view.failed + view.expired_requests
        return view.finished and lines > 0

    async def get(self, owner: str, batch_id: str) -> BatchView:
        row = self._owned(owner, batch_id)
        batch_id = row.id  # the canonical spelling
        if not row.scheduled:
            await self.settled(batch_id, row)
            row = self._owned(owner, batch_id)
            batch_id = row.id  # the canonical spelling
        return self.view(row)

    def _owned(self, owner: str, batch_id: str) -> BatchRow:
        canonical = self.profile.ids.require("batch", batch_id, "Invalid batch ID format")
        row = self.store.get_batch(canonical)
        if row is None or row.deleted or row.owner != owner:
            raise NotFound("Batch", batch_id)
        return row

    async def list_batches(
        self, owner: str, *, after: str | None, limit: int | None, status: str | None, search: str | None,
        active_first: bool,
    ) -> Page[BatchView]:
        if self.profile.openai:  # OpenAI's list has no filters: unknown parameters are ignored
            status, search, active_first = None, None, False
        if status is not None and status not in STATUS_FILTERS:
            raise BadRequest(
                f"Unknown batch status filter: '{status}'. Valid values: {', '.join(STATUS_FILTERS)}"
            )
        rows = self.store.owner_batches(owner)
        for row in rows:
            await self.settled(row.id, row)
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
        return Page(views[:size], has_more=len(views) > size)

    def _matches(self, row: BatchRow, search: str) -> bool:
        needle = search.lower()
        source = self.store.get_file(row.source_file_id)
        haystacks = [row.metadata, row.id, source.filename if source is not None and row.input_file_id else ""]
        return any(needle in h.lower() for h in haystacks)

    # -- events -----------------------------------------------------------------------------------
    async def cancel(self, owner: str, batch_id: str) -> BatchView:
        row = self._owned(owner, batch_id)
        batch_id = row.id  # the canonical spelling
        await self.settled(batch_id)
        if self.profile.refuse_cancel_when_finished:
            status = self.view(self._owned(owner, batch_id)).status
            if status in ("completed", "failed", "expired", "cancelled"):
                raise BadRequest(f"Cannot cancel a batch with status '{status}'.")
        if row.cancelled_at is None:
            self.store.update_batch(batch_id, cancelled_at=self.now())
        return self.view(self._owned(owner, batch_id))

    async def delete(self, owner: str, batch_id: str) -> None:
        row = self._owned(owner, batch_id)
        batch_id = row.id  # the canonical spelling
        await self.settled(batch_id)
        changes: dict[str, Any] = {"deleted": 1}
        if row.cancelled_at is None and self.view(row).status in ACTIVE:
            changes["cancelled_at"] = self.now()
        self.store.update_batch(batch_id, **changes)

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
        row = self._owned(owner, batch_id)
        batch_id = row.id  # the canonical spelling
        await self.settled(batch_id)
        view = self.view(row)
        by_id = self.store.request_ids(batch_id)
        ends = {i: (end, ok) for i, end, ok in self._request_states(batch_id)}
        chosen: list[int] = []
        for index, (end, ok) in sorted(ends.items()):
            finished = end <= view.cut and view.status not in ("validating", "cancelling")
            if request_ids is None:
                if (finished and not ok) or (row.cancelled_at is not None and end > view.cut):
                    chosen.append(index)
            elif finished and not ok:
                chosen.append(index)
        if request_ids is not None:
            wanted = {by_id[r] for r in request_ids if r in by_id}
            chosen = [i for i in chosen if i in wanted]
        elif not chosen and row.cancelled_at is None:
            raise BadRequest("Nothing to retry: no failed or canceled requests, and the batch is not cancelled")
        self.store.update_batch(batch_id, cancelled_at=None)
        row = replace(row, cancelled_at=None)
        if chosen:
            self.start_planning(row, chosen, ready_at=max(self.now(), row.ready_at))
            await self.settled(batch_id)
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

    def _request_states(self, batch_id: str) -> list[tuple[int, float, bool]]:
        rows = self.store.requests_by_index(batch_id, 0, -1)
        return [(int(r[0]), float(r[5]), bool(r[6])) for r in rows]

    # -- results and analytics ------------------------------------------------------------------
    async def results(
        self, owner: str, batch_id: str, skip: int | None, limit: int | None, search: str | None, status: str | None
    ) -> Content:
        row = self._owned(owner, batch_id)
        batch_id = row.id  # the canonical spelling
        await self.settled(batch_id)
        view = self.view(row)
        source = self.store.get_file(row.source_file_id)
        spans = self.store.file_spans(row.source_file_id)
        blob = self.store.blob_path(row.source_file_id)
        items = []
        for index, request_id, custom_id, model, start, end, ok, line in self.store.requests_by_index(batch_id, 0, -1):
            state = _request_status(view, float(start), float(end), bool(ok))
            if status is not None and state != status:
                continue
            if search and search.lower() not in str(custom_id).lower():
                continue
            items.append((index, request_id, custom_id, model, state, line))
        counts_still = view.status in ("validating", "in_progress")
        start_at = clamp_skip(skip)
        size = None if limit is None else clamp_limit(limit)
        chosen = items[start_at:] if size is None else items[start_at : start_at + size]
        bodies = _bodies_at(blob, spans, [c[0] for c in chosen]) if source is not None else {}
        lines = []
        for index, request_id, custom_id, model, state, line in chosen:
            item = orjson.loads(line) if state in ("completed", "failed") else {"response": None, "error": None}
            lines.append(orjson.dumps({
                "id": request_id, "custom_id": custom_id, "model": model, "input_body": bodies.get(index),
                "response_body": item["response"]["body"] if item["response"] else None,
                "error": item["error"]["message"] if item["error"] else None, "status": state,
            }, option=orjson.OPT_APPEND_NEWLINE))
        end_line = start_at + len(chosen)
        if size is None:
            return Content(b"".join(lines), incomplete=counts_still, last_line=None if search else end_line)
        return Content(b"".join(lines), incomplete=end_line < len(items) or counts_still, last_line=end_line)

    async def analytics(self, owner: str, batch_id: str) -> dict[str, Any]:
        row = self._owned(owner, batch_id)
        batch_id = row.id  # the canonical spelling
        await self.settled(batch_id)
        view = self.view(row)
        count, prompt, completion, duration = self.store.token_totals(batch_id, view.cut)
        out: dict[str, Any] = {
            "total_requests": count, "total_prompt_tokens": prompt, "total_completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if count:
            out["avg_duration_ms"] = round(duration * 1000, 1)
            out["total_cost"] = _plain(self._cost(batch_id, row.completion_window, view.cut))
        return out

    def _cost(self, batch_id: str, window: str, until: float) -> Decimal:
        total = Decimal(0)
        for spec in self.settings.models:
            sql = ("SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) FROM requests "
                   "WHERE batch_id = ? AND ok = 1 AND end_at <= ? AND model = ?")
            prompt, completion = self.store.db.execute(sql, (batch_id, until, spec.name)).fetchone()
            total += prompt * spec.input_price.get(window, Decimal(0)) / 1_000_000
            total += completion * spec.output_price.get(window, Decimal(0)) / 1_000_000
        return total

    # -- output and error files (VirtualContent) ------------------------------------------------
    def _file_view(self, row: FileRow) -> tuple[BatchView, int, list[int]] | None:
        batch = self.store.get_batch(row.batch_id or "")
        if batch is None:
            return None
        view = self.view(batch)
        ends = self.ends(batch.id)
        if row.kind == "output":
            return view, view.completed, ends.ok_bytes
        return view, view.failed, ends.failed_bytes

    def size(self, row: FileRow) -> int:
        found = self._file_view(row)
        if found is None:
            return 0
        view, visible, cumulative = found
        if view.expired_requests and row.kind == "error":
            content = self._expired_error_content(view, 0, None, None)
            return len(content.chunks) if isinstance(content.chunks, bytes) else 0
        return visible_bytes(cumulative, visible)

    def content(self, row: FileRow, skip: int, limit: int | None, search: str | None) -> Content:
        found = self._file_view(row)
        if found is None:
            return Content(b"", incomplete=False, last_line=None)
        view, visible, _ = found
        ok = 1 if row.kind == "output" else 0
        batch_id = view.row.id
        if view.expired_requests and row.kind == "error":
            return self._expired_error_content(view, skip, limit, search)
        if limit is not None:
            lines = self.store.request_lines(batch_id, ok, view.cut, skip, limit + 1, search)
            page = lines[:limit]
            return Content(b"".join(page), incomplete=len(lines) > limit or view.may_grow,
                           last_line=skip + len(page))
        count = None if search else max(0, visible - skip)
        stream = self._stream(batch_id, ok, view.cut, skip, count, search)
        last = None if view.row.deleted or search else skip + (count or 0)
        return Content(stream, incomplete=view.may_grow, last_line=last)

    def _expired_error_content(self, view: BatchView, skip: int, limit: int | None, search: str | None) -> Content:
        """An OpenAI-style expired batch's error file: its failures, then every unfinished request as
        `batch_expired`, in input order."""
        batch_id = view.row.id
        lines = self.store.request_lines(batch_id, 0, view.cut, 0, -1, search)
        for _, request_id, custom_id, _, _, end, _, _ in self.store.requests_by_index(batch_id, 0, -1):
            if float(end) > view.cut and (not search or search.lower() in str(custom_id).lower()):
                lines.append(expired_line(str(request_id), str(custom_id)))
        page = lines[skip:] if limit is None else lines[skip : skip + limit]
        end = skip + len(page)
        return Content(b"".join(page), incomplete=end < len(lines) if limit is not None else False,
                       last_line=None if view.row.deleted or search else end)

    async def _stream(
        self, batch_id: str, ok: int, cut: float, skip: int, count: int | None, search: str | None
    ) -> AsyncIterator[bytes]:
        offset, left = skip, count
        while left is None or left > 0:
            take = STREAM_CHUNK if left is None else min(STREAM_CHUNK, left)
            lines = self.store.request_lines(batch_id, ok, cut, offset, take, search)
            if not lines:
                return
            yield b"".join(lines)
            offset += len(lines)
            if left is not None:
                left -= len(lines)


def _cumulative(pairs: list[tuple[float, int]]) -> list[int]:
    out, total = [], 0
    for _, size in pairs:
        total += size
        out.append(total)
    return out


def _status_matches(view: BatchView, wanted: str) -> bool:
    if wanted == "expired":
        return view.finished_late
    groups = {"in_progress": ("validating", "in_progress", "finalizing"), "cancelled": ("cancelling", "cancelled")}
    return view.status in groups.get(wanted, (wanted,))


def _request_status(view: BatchView, start: float, end: float, ok: bool) -> str:
    if view.status in ("validating",):
        return "pending"
    if end <= view.cut:
        return "completed" if ok else "failed"
    if view.row.cancelled_at is not None:
        return "pending"  # cancelled rows map to pending in live's /results
    return "in_progress" if start <= view.now else "pending"


def _read_requests(blob: Path, spans: array[int]) -> Iterable[dict[str, Any]]:
    return (orjson.loads(raw) for raw in raw_lines(blob, spans, range(len(spans) // 2)))


def _bodies_at(blob: Path, spans: array[int], indices: list[int]) -> dict[int, Any]:
    lines = raw_lines(blob, spans, indices)
    return {i: normalised_body(orjson.loads(raw)["body"]) for i, raw in zip(indices, lines, strict=True)}


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _openai_metadata(metadata: dict[str, str], source: FileRow) -> dict[str, str]:
    """OpenAI's checks: at most 16 pairs, keys up to 64 characters, values up to 512; and a batch
    needs a file uploaded with purpose `batch`."""
    if len(metadata) > 16:
        raise BadRequest("Invalid 'metadata': too many properties. Expected an object with at most 16 properties.",
                         param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise BadRequest("Invalid 'metadata': keys may have at most 64 characters and values at most 512.",
                             param="metadata")
    if source.kind != "input" or source.purpose != "batch":
        raise BadRequest(f"File {source.id} was not uploaded with purpose 'batch'.", param="input_file_id")
    return metadata

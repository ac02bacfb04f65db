"""The planning runner: where and when a batch's plan is made and stored.

Planning starts when a batch is created (and again for the requests a retry re-runs) and runs off the
event loop, one plan at a time: on the planning thread, or for a plan of `IN_PROCESS_BELOW` requests
or more in the planning process (`planning_process`), so the event loop keeps its core. A plan is
`planner.plan_rows` (pure) and ends with one store write of every request row; the batch's cached
row is dropped on the event loop after that write (`on_saved`). Reads never wait for a plan they do
not need: a batch is `validating` until its `ready_at` whatever its plan's state, so only a read past
`ready_at` waits (`needs_plan`).

- A restart finishes what the previous run left: batches with no stored plan are planned again
  (`resume_unscheduled`), and requests an upstream left unanswered get this simulator's answers
  (`answer_pending`) when it runs without `--upstream`.
- Under the OpenAI profile the input file is checked first (`openai_validation.check_file`); a bad
  file stores the errors and no requests.
- With a real upstream (`ClockedAnswers`), the plan is the upstream driver's: pending rows, answered
  as the clock reaches them.
- A write that fails because the disk is full (`errors.StorageFull`) leaves the batch unplanned: it
  shows `validating` (`stalled`), and planning is tried again every `RETRY_AFTER` seconds, and at
  once when the batch is read, until the write succeeds. Nothing is half-stored (one transaction).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mockserver.domain.answers import AnswerSource, ClockedAnswers
from mockserver.domain.faults import Faults, Scenario
from mockserver.domain.files import BlockBodies, batch_requests, closed_spans, raw_lines
from mockserver.domain.openai_validation import check_file
from mockserver.domain.planner import PlanSpec, no_rules, plan_rows, rules_for
from mockserver.domain.planning_process import PlanningProcess, ProcessDied
from mockserver.domain.policy import Policy
from mockserver.domain.realtime import model_not_found
from mockserver.domain.scheduler import Attempt, Timing
from mockserver.errors import StorageFull
from mockserver.settings import Settings
from mockserver.store import BatchRow, RequestRow, Store, write_requests

log = logging.getLogger("mockserver")
RETRY_AFTER = 1.0  # real seconds between tries of a plan whose write found the disk full
IN_PROCESS_BELOW = 2_000  # requests: smaller plans run on the planning thread, bigger ones in the process


@dataclass
class Plan:
    """What a planning run stores: request rows and changes to the batch."""

    rows: list[RequestRow]
    mark_scheduled: bool
    changes: dict[str, Any] = field(default_factory=dict)
    handed_over: bool = False  # a real upstream answers the requests (it stores its own rows)


@dataclass(frozen=True)
class PlanJob:
    """Everything a plan depends on, picklable: a plan may be made in the planning process."""

    row: BatchRow
    blob: Path
    spans: array[int]
    indices: Sequence[int] | None
    ready_at: float
    settings: Settings
    policy: Policy
    scenario: Scenario  # the one in force when the plan is made
    timing: Timing
    answers: AnswerSource
    handed_over: bool  # a real upstream answers: only the file check is made here


def compute(job: PlanJob) -> Plan:
    """The plan of `job` (pure but for reading the upload)."""
    row, blob, spans, indices, settings = job.row, job.blob, job.spans, job.indices, job.settings
    changes: dict[str, Any] = {}
    if job.policy.openai and indices is None:  # OpenAI checks the file when the batch validates
        models = {m.name: m.kind for m in settings.models}
        checked = check_file(raw_lines(blob, spans, range(len(spans) // 2)), row.endpoint, models,
                             settings.max_requests_per_file)
        if checked.errors:
            return Plan([], True, {"errors": orjson.dumps({"data": checked.errors}).decode(), "total": 0})
        changes["model"] = checked.model
    if job.handed_over:  # answers that exist only once sent: the upstream driver's rows
        return Plan([], False, changes, handed_over=True)
    spans = plan_spans(blob, spans, job.policy, indices)
    if not spans:  # no templates (e.g. a batch made from an output file): nothing to plan
        return Plan([], indices is None, changes)
    requests = batch_requests(blob, spans)
    scenario = job.scenario
    rules = rules_for(scenario.outcome_for, requests) if scenario.requests else no_rules(len(requests))
    spec = PlanSpec(row.id, job.ready_at, row.expires_at, settings.seed, job.timing,
                    job.policy.http_failures_keep_response)

    def missing_model(model: str) -> Attempt | None:
        """A model removed from the configuration since the upload: the proxy's 404."""
        return Attempt(404, model_not_found(model)) if settings.model(model) is None else None

    with BlockBodies(blob, spans) as bodies:
        rows = plan_rows(spec, requests, bodies, job.answers, rules, missing_model, indices)
    return Plan(rows, indices is None, changes)


def plan_and_store(job: PlanJob, db_path: Path) -> str | None:
    """In the planning process: make the plan and write it (the store's one transaction). None when
    written; the reason when the disk was full (nothing written)."""
    try:
        write_plan(functools.partial(write_requests, db_path), job.row.id, compute(job))
    except StorageFull as full:
        return full.reason
    return None


def write_plan(save: Callable[..., None], batch_id: str, plan: Plan) -> None:
    """`save(batch_id, rows, mark_scheduled, **changes)` the plan, when it has anything to store."""
    if plan.rows or plan.mark_scheduled or plan.changes:
        save(batch_id, plan.rows, plan.mark_scheduled, **plan.changes)


class PlanningRunner:
    def __init__(
        self, store: Store, settings: Settings, policy: Policy, faults: Faults, timing: Timing,
        answers: AnswerSource, clocked: ClockedAnswers | None, now: Callable[[], float],
        on_saved: Callable[[str], None],
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self.faults = faults
        self.timing = timing
        self.answers = answers  # the simulated model, or a cassette (`--replay`)
        self.clocked = clocked  # a real upstream (`--upstream`): sent as the clock goes
        self.now = now
        self.on_saved = on_saved  # drop what is cached of a batch (on the event loop, after the write)
        # One planning thread, and for big plans one planning process: plans run one after another, so
        # a burst of big batches holds the memory of one plan at a time; a big plan runs on a core of
        # its own, so the event loop keeps answering polls meanwhile (a thread would share the GIL).
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="planning")
        self._process = PlanningProcess()  # started with the first big plan
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stalled: set[str] = set()  # batches whose plan could not be stored (disk full)
        self._retries: dict[str, asyncio.TimerHandle] = {}

    # -- starting -----------------------------------------------------------------------------------
    def start(self, row: BatchRow, indices: Sequence[int] | None = None, ready_at: float | None = None) -> None:
        """Plan the requests `indices` (default: all) of a batch, runnable from `ready_at` (default:
        the end of its validation), after any planning of it already under way."""
        source = self.store.get_file(row.source_file_id)
        spans = self.store.file_spans(row.source_file_id) if source is not None and source.kind == "input" \
            else array("Q")
        blob = self.store.blob_path(row.source_file_id)
        start = row.ready_at if ready_at is None else ready_at
        previous = self._tasks.get(row.id)

        async def run() -> None:
            if previous is not None:
                await previous
            job = self.job(row, blob, spans, indices, start)
            full = await self._plan(job)
            if full is not None:
                log.error("disk full: the plan of batch %s was not stored (%s); trying again in %g s",
                          row.id, full, RETRY_AFTER)
                self._stalled.add(row.id)
                self.on_saved(row.id)
                self._retry_later(row, indices, ready_at)
                return
            if job.handed_over:
                assert self.clocked is not None
                await asyncio.to_thread(self.clocked.begin, row, blob, plan_spans(blob, spans, self.policy, indices),
                                        indices, start)
            self._stalled.discard(row.id)
            self.on_saved(row.id)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks[row.id] = task
        task.add_done_callback(lambda t: self._tasks.pop(row.id, None) if self._tasks.get(row.id) is t else None)

    def _retry_later(self, row: BatchRow, indices: Sequence[int] | None, ready_at: float | None) -> None:
        def again() -> None:
            self._retries.pop(row.id, None)
            current = self.store.get_batch(row.id)
            if current is not None and not current.deleted:
                self.start(current if indices is None else row, indices, ready_at)

        self._retries[row.id] = asyncio.get_running_loop().call_later(RETRY_AFTER, again)

    def job(
        self, row: BatchRow, blob: Path, spans: array[int], indices: Sequence[int] | None, ready_at: float
    ) -> PlanJob:
        return PlanJob(row, blob, spans, indices, ready_at, self.settings, self.policy, self.faults.scenario,
                       self.timing, self.answers, handed_over=self.clocked is not None)

    async def _plan(self, job: PlanJob) -> str | None:
        """Make and store the plan: a big one in the planning process, others on the planning thread.
        None when stored; the reason when the disk was full."""
        loop = asyncio.get_running_loop()
        if self._plan_in_process(job):  # waited for on the planning thread: one plan at a time
            try:
                found: str | None = await loop.run_in_executor(self._worker, self._process.run, plan_and_store,
                                                               job, self.store.path)
                return found
            except ProcessDied:  # killed from outside, say: this plan is made here instead
                log.warning("the planning process ended; batch %s is planned in the server", job.row.id)
        plan = await loop.run_in_executor(self._worker, self.compute, job)
        try:  # on the planning thread too: plans are written one at a time
            await loop.run_in_executor(self._worker, write_plan, self.store.save_requests, job.row.id, plan)
        except StorageFull as full:
            return full.reason
        return None

    def _plan_in_process(self, job: PlanJob) -> bool:
        return len(job.spans) // 2 >= IN_PROCESS_BELOW and not job.handed_over

    def compute(self, job: PlanJob) -> Plan:
        """A plan on the planning thread (a seam tests may hold)."""
        return compute(job)

    # -- waiting ------------------------------------------------------------------------------------
    def needs_plan(self, row: BatchRow) -> bool:
        """Whether a read of the batch now must wait for its plan: only once validation has ended. A
        read of a batch whose plan could not be stored tries again at once, without waiting for it."""
        if row.scheduled or self.now() < row.ready_at:
            return False
        if row.id in self._stalled:
            if row.id not in self._tasks:
                handle = self._retries.pop(row.id, None)
                if handle is not None:
                    handle.cancel()
                self.start(row)
            return False
        return True

    def stalled(self, batch_id: str) -> bool:
        """Whether the batch's plan could not be stored yet (it stays `validating` meanwhile)."""
        return batch_id in self._stalled

    async def settled(self, batch_id: str, row: BatchRow | None = None) -> None:
        """Wait until the batch's plan is stored, or its last try failed (planning it now if a
        restart lost its task)."""
        task = self._tasks.get(batch_id)
        if task is None:
            row = row or self.store.get_batch(batch_id)
            if row is None or row.scheduled or batch_id in self._stalled:
                return
            self.start(row)
            task = self._tasks[batch_id]
        await asyncio.shield(task)

    async def all_settled(self) -> None:
        """Wait until every plan under way is stored (a capacity check counts their requests: live
        stores a batch's requests with the create itself)."""
        # the plans under way now (one a disk-full retry starts later is not waited for)
        await asyncio.gather(*(asyncio.shield(t) for t in list(self._tasks.values())), return_exceptions=True)

    # -- restarts and reset -------------------------------------------------------------------------
    def resume_unscheduled(self) -> None:
        """After a restart: plan the batches whose schedule was not stored yet."""
        for row in self.store.unscheduled_batches():
            if row.id not in self._tasks:
                self.start(row)

    def answer_pending(self, pending_at: float) -> None:
        """After a restart without `--upstream`: requests a proxied batch left unanswered (their end at
        `pending_at`) are planned again from now with this simulator's answers (simulated or replayed),
        so every request still ends in a file."""
        for batch_id, indices in self.store.requests_ending_from(pending_at).items():
            row = self.store.get_batch(batch_id)
            if row is not None and not row.deleted and row.cancelled_at is None:
                self.start(row, sorted(indices), ready_at=max(self.now(), row.ready_at))

    def close(self) -> None:
        """Stop the planning thread and process (a plan under way is dropped; a restart plans it again)."""
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._process.close()

    def forget(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        for handle in self._retries.values():
            handle.cancel()
        self._retries.clear()
        self._stalled.clear()


def plan_spans(blob: Path, spans: array[int], policy: Policy, indices: Sequence[int] | None) -> array[int]:
    """The spans a plan reads: under the OpenAI profile a file stored over the request limit has an
    open last span, closed here (a limit raised since the upload: every line is a request)."""
    return closed_spans(blob, spans) if policy.openai else spans

"""Batch requests answered by a real upstream, each sent when the virtual clock reaches it.

A simulated batch is planned whole at creation. A proxied batch cannot be: its answers and latencies
exist only once the upstream has given them. So planning a proxied batch stores a *pending* row for
each request (start and end at `PENDING`, far in the future, so every read already treats it as
unfinished: not counted, not in a file, `pending` in /results), and a run on the upstream's event
loop then runs the same `scheduler.Scheduler` as planning does, on the clock:

- each model runs at most `concurrency` requests of the batch at once, in input order; request i's
  attempt starts at max(its ready time, a free slot) and is *sent* when the clock reaches that start;
- its virtual duration is the real time the upstream took (whatever the clock did meanwhile: a manual
  clock moved by a day while a request was in flight does not make it a day long); but an answer
  never ends before a line a reader may already have seen (it is placed just after it), so the output
  and error files only ever grow at their end;
- retriable answers (5xx, 429, 408, 404, timeouts, connection errors) go back to the ready queue after
  the live backoff, while the retry deadline allows; the final answer replaces the pending row.

Cancel and delete stop the run (the pending rows stay: cancelled requests, which retry re-runs). A
restart resumes every pending row (`resume`); requests in flight at the kill are sent again.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mockserver.domain.answers import UpstreamLoop
from mockserver.domain.faults import Faults, Outcome
from mockserver.domain.files import closed_spans, raw_lines, request_body
from mockserver.domain.scheduler import Attempt, Planned, Scheduler, Timing
from mockserver.store import BatchRow, RequestRow, Store

PENDING = 1e15  # the start and end of a request the upstream has not answered yet (year 31 million)
TICK = 0.02  # real seconds between looks at the clock while waiting for it
RowOf = Callable[[str, Planned, str, str], RequestRow]


@dataclass
class _Job:
    batch_id: str
    expires_at: float
    ready_at: float
    indices: list[int]
    custom_ids: dict[int, str]
    urls: dict[int, str]
    models: dict[int, str]
    blob: Path
    spans: array[int]
    token: int
    rules: dict[int, Outcome]  # the scenario's request rules in force when the batch was planned


class UpstreamRuns:
    def __init__(
        self, store: Store, upstream: UpstreamLoop, timing: Timing, now: Callable[[], float], row_of: RowOf,
        on_saved: Callable[[str], None], faults: Faults,
    ) -> None:
        self.faults = faults
        self.store = store
        self.upstream = upstream
        self.timing = timing
        self.now = now
        self.row_of = row_of
        self.on_saved = on_saved
        self._tokens = itertools.count(1)
        self._owner: dict[tuple[str, int], int] = {}  # (batch, index) -> the run that answers it now
        self._placed: dict[str, list[float]] = {}  # batch -> the ends given so far, sorted (the files' order)
        self._active: dict[str, int] = {}  # batch -> how many runs answer some of its requests

    # -- starting runs (from planning's worker thread, or at startup) --------------------------------
    def begin(self, row: BatchRow, blob: Path, spans: array[int], indices: Sequence[int] | None, ready_at: float) -> None:
        """Store a pending row for each request (`indices`, default all) and start sending them."""
        everything = range(len(spans) // 2)
        chosen = list(everything if indices is None else indices)
        wanted = set(chosen)
        custom_ids: dict[int, str] = {}
        urls: dict[int, str] = {}
        models: dict[int, str] = {}
        for i, raw in zip(everything, raw_lines(blob, spans, everything), strict=True):
            if i in wanted:
                request = orjson.loads(raw)
                custom_ids[i], urls[i], models[i] = str(request["custom_id"]), str(request["url"]), str(request["body"]["model"])
        token = next(self._tokens)
        for i in chosen:
            self._owner[(row.id, i)] = token
        pending = Attempt(0, None)
        rows = [self.row_of(row.id, Planned(i, PENDING, PENDING, 0, pending), custom_ids[i], models[i]) for i in chosen]
        rows = [r._replace(line=b"") for r in rows]  # no line until answered
        self.store.save_requests(row.id, rows, mark_scheduled=indices is None)
        self.on_saved(row.id)
        scenario = self.faults.scenario
        rules = {i: rule for i in chosen if (rule := scenario.outcome_for(custom_ids[i], models[i], i + 1)) is not None}
        if chosen:
            job = _Job(row.id, row.expires_at, ready_at, chosen, custom_ids, urls, models, blob, spans, token, rules)
            self.upstream.submit(self._run(job))

    def resume(self) -> None:
        """After a restart: send again every request still pending (at the earliest now)."""
        for batch_id, indices in self.store.requests_ending_from(PENDING).items():
            row = self.store.get_batch(batch_id)
            if row is None or row.deleted or row.cancelled_at is not None:
                continue
            blob = self.store.blob_path(row.source_file_id)
            spans = closed_spans(blob, self.store.file_spans(row.source_file_id))
            self.begin(row, blob, spans, sorted(indices), max(self.now(), row.ready_at))

    # -- a run (on the upstream loop) -----------------------------------------------------------------
    async def _run(self, job: _Job) -> None:
        self._active[job.batch_id] = self._active.get(job.batch_id, 0) + 1
        try:
            await self._drive(job)
        finally:
            self._active[job.batch_id] -= 1
            if not self._active[job.batch_id]:
                del self._active[job.batch_id]
                self._placed.pop(job.batch_id, None)

    def _stopped(self, job: _Job) -> bool:
        return self.store.batch_stopped(job.batch_id)

    def _owns(self, job: _Job, index: int) -> bool:
        return self._owner.get((job.batch_id, index)) == job.token

    async def _drive(self, job: _Job) -> None:
        scheduler = Scheduler(self.timing, job.ready_at, job.expires_at)
        for i in job.indices:
            scheduler.add(i, job.models[i])
        placed = self._placed.setdefault(job.batch_id, [])
        flying: dict[asyncio.Task[tuple[Attempt, float]], tuple[int, int, float]] = {}
        source = open(job.blob, "rb")  # noqa: SIM115 - closed in the finally below
        last_check = -1.0
        loop = asyncio.get_running_loop()

        def owned(i: int) -> bool:
            return self._owns(job, i)

        try:
            while scheduler.waiting or flying:
                if loop.time() - last_check >= 0.2:
                    last_check = loop.time()
                    if self._stopped(job):
                        return
                now = self.now()
                while (next_up := scheduler.due(now, keep=owned)) is not None:
                    i, n, start = next_up
                    flying[asyncio.create_task(self._attempt(job, i, n, source))] = (i, n, start)
                if not flying:
                    await asyncio.sleep(TICK)
                    continue
                done, _ = await asyncio.wait(flying, timeout=TICK, return_when=asyncio.FIRST_COMPLETED)
                finals: list[RequestRow] = []
                for task in done:
                    i, n, start = flying.pop(task)
                    got, took = task.result()
                    end = _place(start, took, self.now(), placed)
                    bisect.insort(placed, end)
                    final = scheduler.finish(i, n, end, got)
                    if final is not None and owned(i):
                        finals.append(self.row_of(job.batch_id, final, job.custom_ids[i], job.models[i]))
                if finals and not self._stopped(job):
                    self.store.save_requests(job.batch_id, finals, mark_scheduled=False)
                    self.on_saved(job.batch_id)
        finally:
            source.close()
            for task in flying:
                task.cancel()
            for i in job.indices:
                if self._owns(job, i):
                    self._owner.pop((job.batch_id, i), None)

    async def _attempt(self, job: _Job, i: int, n: int, source: Any) -> tuple[Attempt, float]:
        """A fault rule's outcome when the scenario has one for this attempt, else the upstream's answer."""
        rule = job.rules.get(i)
        forced = rule.attempt(n) if rule is not None else None
        if forced is None:
            got, took = await self.upstream.send(job.urls[i], request_body(source, job.spans, i))
            return got, took if rule is None or rule.latency is None else rule.latency
        chosen = forced.latency if forced.latency is not None else rule.latency if rule is not None else None
        return forced, self.timing.latency_min if chosen is None else chosen



def _place(start: float, took: float, now: float, placed: list[float]) -> float:
    """The virtual end of an attempt that started at `start` and took `took` real seconds, answered at `now`.

    It ends at `start + took`, unless a line a reader may already have seen (ended by `now`) ends
    later: then it ends just after that line (a microsecond, or the next float), so the output and
    error files only ever grow at their end, and it is visible at once."""
    end = start + took
    if end > now:
        return end
    seen = bisect.bisect_right(placed, now)  # `placed` is sorted
    floor = placed[seen - 1] if seen else -math.inf
    if end > floor:
        return end
    for candidate in (floor + 1e-6, math.nextafter(floor, math.inf)):
        if candidate <= now:
            return candidate
    return now

"""Batch views: what a batch looks like now, derived from its stored row, its schedule and the clock.

`BatchViews.view(row)` is the one way every service (batches, result files, /results, the console)
sees a batch. The schedule's end times (`status.Ends`) are read once per stored version of the
batch (the store bumps `BatchRow.version` with every write to the batch or its requests), so a
poll of an unchanged batch costs no query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from math import inf

from mockserver.domain.policy import Policy
from mockserver.domain.status import BatchView, Ends
from mockserver.settings import Settings
from mockserver.store import BatchRow, Store

NO_ENDS = Ends([], [], [], [])
CACHED_BATCHES = 4096  # schedules kept (one per batch, the newest version); the oldest go first


class BatchViews:
    def __init__(
        self, store: Store, settings: Settings, policy: Policy, now: Callable[[], float],
        stalled: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self.now = now
        self.stalled = stalled  # a batch whose plan could not be stored yet stays `validating`
        self._ends: dict[str, tuple[int, Ends]] = {}

    def ends(self, row: BatchRow) -> Ends:
        cached = self._ends.get(row.id)
        if cached is not None and cached[0] == row.version:
            return cached[1]
        ok = self.store.request_ends(row.id, 1)
        failed = self.store.request_ends(row.id, 0)
        ends = Ends([e for e, _ in ok], _cumulative(ok), [e for e, _ in failed], _cumulative(failed))
        if len(self._ends) >= CACHED_BATCHES:
            self._ends.pop(next(iter(self._ends)))
        self._ends[row.id] = (row.version, ends)
        return ends

    def view(self, row: BatchRow) -> BatchView:
        derived = row if row.scheduled or not self.stalled(row.id) else replace(row, ready_at=inf)
        view = self.policy.derive(derived, self.ends(row), self.now(), self.settings)
        if derived is not row:
            view = replace(view, row=row)
        if self.policy.openai:
            usage = (0, 0)
            if view.completed:
                _, prompt, completion, _ = self.store.token_totals(row.id, view.cut)
                usage = (prompt, completion)
            view = replace(view, usage=usage)
        return view

    def created(self, row: BatchRow) -> BatchView:
        """A batch as its create answers it: nothing planned yet (and no usage, even under OpenAI)."""
        return self.policy.derive(row, NO_ENDS, self.now(), self.settings)

    def forget(self, batch_id: str | None = None) -> None:
        if batch_id is None:
            self._ends.clear()
        else:
            self._ends.pop(batch_id, None)


def _cumulative(pairs: list[tuple[float, int]]) -> list[int]:
    out, total = [], 0
    for _, size in pairs:
        total += size
        out.append(total)
    return out

"""The status rules: what a batch looks like at `now`, derived from its record and its schedule.

Live (dwctl `to_batch_response_enriched`) derives status from request rows on every read; here the
rows are a schedule of end times, so the same rules become a function of time:

- cancelled: `cancelling` until validation would have ended, then `cancelled` (unfinished requests
  count as cancelled at once); a batch that already finished still flips to `cancelled`, as live.
- no requests at all (a file with no templates): `validating`, then `failed`.
- before validation ends: `validating`; then `in_progress` until every request has ended;
  then `failed` if every request failed, else `completed`.
- `expired` is never a status (unless OpenAI-style expiry is chosen); `expired_at` appears once now is
  past `expires_at`.
Counts and files are cut at the cancel time, so nothing a client saw is ever taken back.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace

from mockserver.store import BatchRow

ACTIVE = frozenset({"validating", "in_progress", "finalizing", "cancelling"})


@dataclass(frozen=True)
class Ends:
    """A batch's schedule, reduced to what status needs: sorted end times and cumulative line bytes."""

    ok: list[float]
    ok_bytes: list[int]
    failed: list[float]
    failed_bytes: list[int]

    @property
    def last(self) -> float | None:
        ends = [e[-1] for e in (self.ok, self.failed) if e]
        return max(ends) if ends else None


@dataclass(frozen=True)
class BatchView:
    row: BatchRow
    now: float
    status: str
    cut: float  # requests ending after this are not counted (cancel time, or now)
    completed: int
    failed: int
    in_progress_at: float | None
    completed_at: float | None
    failed_at: float | None
    finalizing_at: float | None
    expired_requests: int = 0  # unfinished at expiry (OpenAI-style expiry only)
    # OpenAI profile only
    cancelled_at: float | None = None  # when `cancelling` ends
    usage: tuple[int, int] | None = None  # input and output tokens of the counted successes

    @property
    def finished(self) -> bool:
        return self.status not in ACTIVE

    @property
    def expired_at(self) -> float | None:
        return self.row.expires_at if self.now > self.row.expires_at else None

    @property
    def may_grow(self) -> bool:
        """Whether the output and error files may still receive lines."""
        return not self.row.deleted and self.status in ACTIVE

    @property
    def finished_late(self) -> bool:
        """The list filter `status=expired`: overdue and unfinished, or finished past the deadline."""
        if self.status == "expired":
            return True
        if self.row.cancelled_at is not None:
            return False
        done_at = self.completed_at or self.failed_at
        return self.now > self.row.expires_at if done_at is None else done_at > self.row.expires_at


def derive(row: BatchRow, ends: Ends, now: float, openai_expiry: bool = False) -> BatchView:
    """With `openai_expiry` (an option; live never expires a batch), a batch unfinished at `expires_at`
    becomes `expired` there: its unfinished requests go to the error file as `batch_expired`."""
    cancelled = row.cancelled_at
    cut = now if cancelled is None else min(now, cancelled)
    started = now >= row.ready_at and row.total > 0 and (cancelled is None or cancelled >= row.ready_at)
    last = ends.last
    if openai_expiry and started and cancelled is None and now > row.expires_at and (last or 0) > row.expires_at:
        completed = bisect_right(ends.ok, row.expires_at)
        failed = bisect_right(ends.failed, row.expires_at)
        return BatchView(
            row=row, now=now, status="expired", cut=row.expires_at, completed=completed,
            failed=row.total - completed, in_progress_at=row.ready_at, completed_at=None, failed_at=None,
            finalizing_at=None, expired_requests=row.total - completed - failed,
        )
    completed = bisect_right(ends.ok, cut) if started else 0
    failed = bisect_right(ends.failed, cut) if started else 0
    finished_at = last if started and last is not None and completed + failed == row.total and last <= cut else None
    completed_at = finished_at if finished_at is not None and completed > 0 else None
    failed_at = finished_at if finished_at is not None and completed == 0 else None
    if cancelled is not None:
        status = "cancelling" if now < row.ready_at else "cancelled"
    elif now < row.ready_at:
        status = "validating"
    elif row.total == 0:
        status, failed_at = "failed", row.ready_at
    elif finished_at is None:
        status = "in_progress"
    else:
        status = "completed" if completed > 0 else "failed"
    return BatchView(
        row=row,
        now=now,
        status=status,
        cut=cut,
        completed=completed,
        failed=failed,
        in_progress_at=row.ready_at if started else None,
        completed_at=completed_at,
        failed_at=failed_at,
        finalizing_at=completed_at if status == "completed" else None,
    )


def visible_bytes(cumulative: list[int], count: int) -> int:
    return cumulative[count - 1] if count > 0 else 0


def derive_openai(row: BatchRow, ends: Ends, now: float, finalize_delay: float, cancel_delay: float) -> BatchView:
    """OpenAI's status rules on the same schedule: a batch whose file failed validation (`row.errors`)
    is `failed` once validation ends; counts stay 0 while validating; after the last request the
    batch is `finalizing` for `finalize_delay`, then `completed` (even if every request failed); a
    cancel makes it `cancelling` for `cancel_delay`, then `cancelled` (counts cut at the cancel); a
    batch unfinished at `expires_at` is `expired`, its unfinished requests in the error file."""
    view = derive(row, ends, now, openai_expiry=True)
    cancelled = row.cancelled_at
    if row.errors is not None and cancelled is None:
        failed = now >= row.ready_at
        return replace(view, status="failed" if failed else "validating", completed=0, failed=0,
                       in_progress_at=None, completed_at=None, failed_at=row.ready_at if failed else None,
                       finalizing_at=None)
    if cancelled is not None:
        done = cancelled + cancel_delay
        started = view.in_progress_at is not None
        return replace(view, status="cancelled" if now >= done else "cancelling",
                       cancelled_at=done if now >= done else None, completed_at=None, failed_at=None,
                       finalizing_at=None, in_progress_at=view.in_progress_at if started else None)
    if view.status == "validating":
        return replace(view, completed=0, failed=0)
    if view.status in ("completed", "failed") and row.total > 0:
        last = ends.last
        assert last is not None
        if now < last + finalize_delay:
            return replace(view, status="finalizing", finalizing_at=last, completed_at=None, failed_at=None)
        return replace(view, status="completed", finalizing_at=last, completed_at=last + finalize_delay,
                       failed_at=None)
    return view

"""Progress of a running batch, on stderr.

On a terminal, a one-line bar redrawn in place at every poll: requests done out of total, failures,
the rate since watching began, an estimate of the time left, and the status. Elsewhere (a CI log, a
file), plain lines, `ProgressLog`: one when the counts or the status change, one every
`HEARTBEAT` seconds while nothing does, never two within `MIN_GAP` seconds (a change that comes
sooner is shown by the next line, and the last state is always written at the end).
"""

from __future__ import annotations

from typing import Protocol, TextIO

from client.clock import Clock
from client.models import Batch

WIDTH = 30
MIN_GAP = 1.0  # seconds: at most one log line a second
HEARTBEAT = 60.0  # seconds: a line at least this often while the batch runs unchanged


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress(Protocol):
    def update(self, batch: Batch) -> None: ...

    def finish(self) -> None: ...


class _Rate:
    """Requests done per second since the first poll seen."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._first: tuple[float, int] | None = None

    def stats(self, batch: Batch) -> str:
        counts = batch.request_counts
        now = self.clock.now()
        if self._first is None:
            self._first = (now, counts.done)
        started, done_then = self._first
        elapsed = now - started
        rate = (counts.done - done_then) / elapsed if elapsed > 0 else 0.0
        text = f"{rate:.1f}/s"
        if rate > 0 and not batch.is_final:
            text += f"  ETA {_duration((counts.total - counts.done) / rate)}"
        return text


class ProgressBar:
    def __init__(self, stream: TextIO, clock: Clock, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.clock = clock
        self.enabled = stream.isatty() if enabled is None else enabled
        self._rate = _Rate(clock)
        self._drawn = False

    def line(self, batch: Batch) -> str:
        counts = batch.request_counts
        filled = WIDTH * counts.done // counts.total if counts.total else 0
        bar = "#" * filled + "-" * (WIDTH - filled)
        text = f"[{bar}] {counts.done}/{counts.total}"
        if counts.failed:
            text += f" ({counts.failed} failed)"
        return f"{text}  {self._rate.stats(batch)}  {batch.status}"

    def update(self, batch: Batch) -> None:
        text = self.line(batch)
        if self.enabled:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
            self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class ProgressLog:
    """Progress as whole lines, for a stream that is not a terminal: `<id> <status>: 3/5 done (1 failed)  0.5/s`."""

    def __init__(self, stream: TextIO, clock: Clock, *, min_gap: float = MIN_GAP, heartbeat: float = HEARTBEAT) -> None:
        self.stream = stream
        self.clock = clock
        self.min_gap = min_gap
        self.heartbeat = heartbeat
        self._rate = _Rate(clock)
        self._written: tuple[float, tuple[object, ...]] | None = None  # when, and the state it showed
        self._pending: tuple[str, tuple[object, ...]] | None = None  # a change not written yet (too soon)

    def update(self, batch: Batch) -> None:
        counts = batch.request_counts
        state = (batch.status, counts.total, counts.completed, counts.failed)
        text = f"{batch.id} {batch.status}: {counts.done}/{counts.total} done"
        text += f" ({counts.failed} failed)" if counts.failed else ""
        text += f"  {self._rate.stats(batch)}"
        now = self.clock.now()
        if self._written is not None:
            since = now - self._written[0]
            changed = state != self._written[1]
            if since < self.min_gap or (not changed and since < self.heartbeat):
                if changed:
                    self._pending = (text, state)
                return
        self._write(text, now, state)

    def _write(self, text: str, now: float, state: tuple[object, ...]) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
        self._written = (now, state)
        self._pending = None

    def finish(self) -> None:
        if self._pending is not None:
            text, state = self._pending
            self._write(text, self.clock.now(), state)


class NoProgress:
    def update(self, batch: Batch) -> None:
        pass

    def finish(self) -> None:
        pass


def progress_for(stream: TextIO, clock: Clock, *, quiet: bool = False) -> Progress:
    """A bar on a terminal; log lines elsewhere, unless `quiet`."""
    if stream.isatty():
        return ProgressBar(stream, clock, enabled=True)
    return NoProgress() if quiet else ProgressLog(stream, clock)

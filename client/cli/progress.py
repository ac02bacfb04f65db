"""A one-line progress bar for a running batch, redrawn in place on a terminal (stderr).

It shows requests done out of total, failures, the rate since watching began, an estimate of the
time left, and the status. When the stream is not a terminal it draws nothing.
"""

from __future__ import annotations

from typing import TextIO

from client.clock import Clock
from client.models import Batch

WIDTH = 30


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    def __init__(self, stream: TextIO, clock: Clock, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.clock = clock
        self.enabled = stream.isatty() if enabled is None else enabled
        self._first: tuple[float, int] | None = None
        self._drawn = False

    def line(self, batch: Batch) -> str:
        counts = batch.request_counts
        now = self.clock.now()
        if self._first is None:
            self._first = (now, counts.done)
        started, done_then = self._first
        elapsed = now - started
        rate = (counts.done - done_then) / elapsed if elapsed > 0 else 0.0
        filled = WIDTH * counts.done // counts.total if counts.total else 0
        bar = "#" * filled + "-" * (WIDTH - filled)
        text = f"[{bar}] {counts.done}/{counts.total}"
        if counts.failed:
            text += f" ({counts.failed} failed)"
        text += f"  {rate:.1f}/s"
        if rate > 0 and not batch.is_final:
            text += f"  ETA {_duration((counts.total - counts.done) / rate)}"
        return f"{text}  {batch.status}"

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

"""Where the answers of batch lines and realtime calls come from: the answer sources.

- `SimulatedAnswers`: the seeded simulated model (the default).
- `cassette.ReplayAnswers` (`--replay CASSETTE`, an adapter above the domain): the recorded answer of the same request (matched by url and
  body), with its recorded latency, which the schedule puts on the virtual clock; a request the
  cassette lacks gets a 400 error naming the cassette (`--replay-missing error`, the default) or the
  simulated model's answer (`--replay-missing simulate`).
- A real upstream (`--upstream URL`) is not an `AnswerSource`: its answers exist only once sent, at
  the time the clock reaches each request, so the batch service hands such batches to a
  `ClockedAnswers` (`upstream_runs.UpstreamRuns`) instead of planning them whole, and the realtime
  routes send each call to a `Proxy` (`mockserver.upstream.Upstream`, the httpx adapter, is one).

Fault rules of a scenario still come first; a source answers only what they leave to the model.
"""

from __future__ import annotations

import concurrent.futures
from array import array
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mockserver.domain.model import SimulatedModel
from mockserver.domain.scheduler import Attempt
from mockserver.store import BatchRow

T = TypeVar("T")


class AnswerSource(Protocol):
    def attempt(self, url: str, body: Any, n: int, start: float) -> Attempt:
        """Attempt number `n` (from 0) of the request (`url`, `body`) starting at `start`."""
        ...


class Proxy(Protocol):
    async def call(self, url: str, body: Any) -> Attempt:
        """Send the request (`url`, `body`) to a real server now: its answer, or its failure, as an attempt."""
        ...


class UpstreamLoop(Protocol):
    """A real server reached from an event loop of its own (`mockserver.upstream.Upstream`)."""

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the upstream's loop (from any thread)."""
        ...

    async def send(self, url: str, body: Any) -> tuple[Attempt, float]:
        """On the upstream's loop: the answer to (`url`, `body`) and the real seconds it took."""
        ...


class ClockedAnswers(Protocol):
    def begin(self, row: BatchRow, blob: Path, spans: array[int], indices: Sequence[int] | None, ready_at: float) -> None:
        """Take over the requests `indices` (default: all) of a batch, from `ready_at` on the clock."""
        ...


class SimulatedAnswers:
    def __init__(self, model: SimulatedModel) -> None:
        self.model = model

    def attempt(self, url: str, body: Any, n: int, start: float) -> Attempt:
        answer = self.model.answer(url, body, int(start))
        return Attempt(answer.status, answer.body)

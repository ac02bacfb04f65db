"""Where the answers of batch lines and realtime calls come from: the answer sources.

- `SimulatedAnswers`: the seeded simulated model (the default).
- `ReplayAnswers` (`--replay CASSETTE`): the recorded answer of the same request (matched by url and
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

from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from mockserver.cassette import Cassette
from mockserver.domain.model import SimulatedModel
from mockserver.domain.scheduler import Attempt
from mockserver.store import BatchRow


class AnswerSource(Protocol):
    def attempt(self, url: str, body: Any, n: int, start: float) -> Attempt:
        """Attempt number `n` (from 0) of the request (`url`, `body`) starting at `start`."""
        ...


class Proxy(Protocol):
    async def call(self, url: str, body: Any) -> Attempt:
        """Send the request (`url`, `body`) to a real server now: its answer, or its failure, as an attempt."""
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


def cassette_miss(cassette: Cassette, url: str) -> dict[str, Any]:
    message = (f"No recorded answer for this {url} request in cassette {cassette.path.name} "
               "(replay matches url and body exactly; start with --replay-missing simulate to answer it anyway)")
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "cassette_miss"}}


class ReplayAnswers:
    def __init__(self, cassette: Cassette, fallback: SimulatedAnswers | None) -> None:
        self.cassette = cassette
        self.fallback = fallback

    def attempt(self, url: str, body: Any, n: int, start: float) -> Attempt:
        found = self.cassette.find(url, body)
        if found is not None:
            return found.attempt(n)
        if self.fallback is not None:
            return self.fallback.attempt(url, body, n, start)
        return Attempt(400, cassette_miss(self.cassette, url))

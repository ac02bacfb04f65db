"""The realtime inference routes a batch line may name, answered by the same simulated model.

`POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/messages` answer at once.
`POST /v1/responses` stores the response; with `background: true` it is returned `queued` and moves
`queued` -> `in_progress` -> `completed` on the clock (what autobatcher's default flex mode polls).
Errors use the OpenAI envelope of the live inference proxy (onwards `errors.rs`). No HTTP here.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from mockserver.domain.answers import AnswerSource, SimulatedAnswers
from mockserver.domain.faults import Faults, ScenarioError, parse_request_rule
from mockserver.domain.model import SimulatedModel
from mockserver.domain.nesting import TooDeep, loads
from mockserver.domain.scheduler import Attempt, Timing, latency
from mockserver.settings import Settings
from mockserver.store import Store
from mockserver.upstream import Upstream


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def openai_error(status: int, message: str, code: str | None, param: str | None = None) -> Answer:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return Answer(status, {"error": error})


def model_not_found(model: str) -> dict[str, Any]:
    return openai_error(404, f"The model `{model}` does not exist or you do not have access to it.", "model_not_found").body


def _as_answer(got: Attempt) -> Answer:
    """An attempt as the inference proxy answers it: timeouts 504, transport failures 502, other bodies
    as they came (a body that is not a JSON object inside an OpenAI error envelope)."""
    if got.failure == "Timeout":
        return openai_error(504, "The upstream service took too long to respond. Please try again.",
                            "gateway_timeout")
    if got.failure is not None:
        return openai_error(502, "An internal error occurred. Please try again later.", "internal_error")
    body = got.body
    if isinstance(body, str):  # an upstream's error body, as text
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.loads(body)
    if isinstance(body, dict):
        return Answer(got.status, body)
    return Answer(got.status, {"error": {"message": str(got.body)}})


UNAUTHENTICATED = openai_error(401, "Please supply an authentication token to access this resource", "unauthenticated")


class Realtime:
    def __init__(
        self, store: Store, settings: Settings, model: SimulatedModel, new_id: Callable[[], str],
        now: Callable[[], float], faults: Faults,
    ) -> None:
        self.faults = faults
        self.store = store
        self.settings = settings
        self.model = model
        self.answers: AnswerSource = SimulatedAnswers(model)  # or a cassette (`--replay`)
        self.upstream: Upstream | None = None  # a real server (`--upstream`): see `answer_upstream`
        self.new_id = new_id
        self.now = now
        self.timing = Timing(settings.latency_min, settings.latency_max, settings.concurrency_per_model)

    def answer(self, owner: str, url: str, raw: bytes, override: str | None = None, custom_id: str = "") -> Answer:
        """Answer one realtime call. `override` is an outcome (the scenario's `outcome` form, as JSON)
        for this call alone; otherwise the scenario's request rules apply, matched on `custom_id`
        and the model."""
        first = self._checked(url, raw, override, custom_id)
        if isinstance(first, Answer):
            return first
        now = self.now()
        return self._finish(owner, url, first, self.answers.attempt(url, first, 0, now), now)

    async def answer_upstream(
        self, owner: str, url: str, raw: bytes, override: str | None = None, custom_id: str = ""
    ) -> Answer:
        """`answer`, with the body sent to the real upstream (`--upstream`) instead of the simulated model."""
        first = self._checked(url, raw, override, custom_id)
        if isinstance(first, Answer):
            return first
        assert self.upstream is not None
        got = await self.upstream.call(url, first)
        return self._finish(owner, url, first, got, self.now())

    def _finish(self, owner: str, url: str, body: Any, got: Attempt, now: float) -> Answer:
        if got.failure is not None or not isinstance(got.body, dict):
            return _as_answer(got)
        if url != "/v1/responses" or got.status != 200:
            return Answer(got.status, got.body)
        return self._store_response(owner, body, got.body, now)

    def _checked(self, url: str, raw: bytes, override: str | None, custom_id: str) -> Any:
        """The request's body, or the answer that ends the call before any model sees it."""
        try:
            body = loads(raw)
        except TooDeep as exc:
            return openai_error(400, f"Invalid JSON body: {exc.detail}", "bad_request")
        except orjson.JSONDecodeError as exc:
            return openai_error(400, f"Invalid JSON body: {exc.msg}", "bad_request")
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str) and self.settings.model(model) is None:
            return Answer(404, model_not_found(model))
        forced = self._forced(override, custom_id, model if isinstance(model, str) else "")
        if forced is not None:
            return forced
        return body

    def _forced(self, override: str | None, custom_id: str, model: str) -> Answer | None:
        if override is not None:
            try:
                _, outcome = parse_request_rule({"outcome": orjson.loads(override)})
            except (orjson.JSONDecodeError, ScenarioError) as exc:
                return openai_error(400, f"X-Mock-Outcome: {exc}", "bad_request")
        else:
            found = self.faults.scenario.outcome_for(custom_id, model, 0)
            if found is None:
                return None
            outcome = found
        got = outcome.attempt(0)
        return None if got is None else _as_answer(got)

    def _store_response(self, owner: str, request: dict[str, Any], final: dict[str, Any], now: float) -> Answer:
        response_id = f"resp_{self.new_id().replace('-', '')}"
        final = {**final, "id": response_id, "created_at": int(now)}
        if request.get("background") is True:
            final["background"] = True
            rng = random.Random(f"{self.settings.seed}:{response_id}")
            start = now + self.timing.latency_min
            end = start + latency(rng.random(), self.timing, len(orjson.dumps(request)))
        else:
            start = end = now
        self.store.insert_response(response_id, owner, start, end, orjson.dumps(final))
        return Answer(200, self._at(final, start, end, None, now))

    @staticmethod
    def _at(final: dict[str, Any], start: float, end: float, cancelled_at: float | None, now: float) -> dict[str, Any]:
        """The stored response as it stands at `now`."""
        if now >= end and (cancelled_at is None or cancelled_at >= end):
            return final
        status = "cancelled" if cancelled_at is not None else "queued" if now < start else "in_progress"
        return {**final, "status": status, "output": [], "usage": None}

    def _find(self, owner: str, response_id: str) -> tuple[dict[str, Any], float, float, float | None] | Answer:
        found = self.store.get_response(response_id)
        if found is None or found[0] != owner or found[5]:
            return openai_error(404, f"Response with id '{response_id}' not found.", None)
        _, start, end, body, cancelled_at, _ = found
        return orjson.loads(body), start, end, cancelled_at

    def get(self, owner: str, response_id: str) -> Answer:
        found = self._find(owner, response_id)
        if isinstance(found, Answer):
            return found
        final, start, end, cancelled_at = found
        return Answer(200, self._at(final, start, end, cancelled_at, self.now()))

    def cancel(self, owner: str, response_id: str) -> Answer:
        found = self._find(owner, response_id)
        if isinstance(found, Answer):
            return found
        final, start, end, cancelled_at = found
        now = self.now()
        if not final.get("background"):
            return openai_error(400, "Only background responses can be cancelled.", None)
        if cancelled_at is None and now < end:
            self.store.update_response(response_id, cancelled_at=now)
            cancelled_at = now
        return Answer(200, self._at(final, start, end, cancelled_at, now))

    def delete(self, owner: str, response_id: str) -> Answer:
        found = self._find(owner, response_id)
        if isinstance(found, Answer):
            return found
        self.store.update_response(response_id, deleted=True)
        return Answer(200, {"id": response_id, "object": "response", "deleted": True})

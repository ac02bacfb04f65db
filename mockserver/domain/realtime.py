"""The realtime inference routes a batch line may name, answered by the same simulated model.

`POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/messages` answer at once.
`POST /v1/responses` stores the response; with `background: true` it is returned `queued` and moves
`queued` -> `in_progress` -> `completed` on the clock (what autobatcher's default flex mode polls).
Every failure is raised as a `ProxyError` carrying the exact status and body of the live inference
proxy (onwards `errors.rs`: the OpenAI envelope, or an upstream's body as it came); a success is an
`Answer`. A real upstream (`--upstream`) is a `Proxy` given to the constructor. No HTTP here.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from mockserver.domain.answers import AnswerSource, Proxy
from mockserver.domain.faults import Faults, ScenarioError, parse_request_rule
from mockserver.domain.model import SimulatedModel
from mockserver.domain.nesting import TooDeep, loads
from mockserver.domain.scheduler import Attempt, Timing, latency
from mockserver.domain.users import User, Users
from mockserver.errors import ProxyError, Unauthorized
from mockserver.settings import Settings
from mockserver.store import Store


@dataclass(frozen=True)
class Answer:
    """A successful answer (a 2xx status and its JSON object); every failure is a `ProxyError`."""

    status: int
    body: dict[str, Any]


def _envelope(message: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def openai_error(status: int, message: str, code: str | None, param: str | None = None) -> ProxyError:
    return ProxyError(status, _envelope(message, code, param))


NO_MODEL = ("Could not parse onwards model from request. 'model' parameter must be supplied in either the body "
            "or in the Model-Override header.")


def model_not_found(model: str) -> dict[str, Any]:
    return _envelope(f"The model `{model}` does not exist or you do not have access to it.", "model_not_found")


def _as_answer(got: Attempt) -> Answer:
    """An attempt as the inference proxy answers it: timeouts 504, transport failures 502, other bodies
    as they came (a body that is not a JSON object inside an OpenAI error envelope); a failure raised."""
    if got.failure == "Timeout":
        raise openai_error(504, "The upstream service took too long to respond. Please try again.",
                           "gateway_timeout")
    if got.failure is not None:
        raise openai_error(502, "An internal error occurred. Please try again later.", "internal_error")
    body = got.body
    if isinstance(body, str):  # an upstream's error body, as text
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.loads(body)
    if not isinstance(body, dict):
        raise ProxyError(got.status, {"error": {"message": str(got.body)}})
    return _success(got.status, body)


def _success(status: int, body: dict[str, Any]) -> Answer:
    if not 200 <= status < 300:
        raise ProxyError(status, body)
    return Answer(status, body)


def unauthenticated() -> ProxyError:
    return openai_error(401, "Please supply an authentication token to access this resource", "unauthenticated")


class Realtime:
    def __init__(
        self, store: Store, settings: Settings, model: SimulatedModel, new_id: Callable[[], str],
        now: Callable[[], float], faults: Faults, users: Users, answers: AnswerSource, proxy: Proxy | None = None,
    ) -> None:
        """`answers` answers the calls (the simulated model, or a cassette with `--replay`), unless a
        `proxy` (a real server, `--upstream`) is given: then every call is sent to it."""
        self.faults = faults
        self.store = store
        self.settings = settings
        self.model = model
        self.users = users
        self.answers = answers
        self.proxy = proxy
        self.new_id = new_id
        self.now = now
        self.timing = Timing(settings.latency_min, settings.latency_max, settings.concurrency_per_model)

    def caller(self, authorization: str | None) -> User:
        """Who calls (the `Authorization` header), or the proxy's 401 in its own envelope."""
        try:
            return self.users.from_authorization(authorization)
        except Unauthorized:
            raise unauthenticated() from None

    async def answer(self, owner: str, url: str, raw: bytes, override: str | None = None, custom_id: str = "") -> Answer:
        """Answer one realtime call. `override` is an outcome (the scenario's `outcome` form, as JSON)
        for this call alone; otherwise the scenario's request rules apply, matched on `custom_id`
        and the model. The body goes to the proxy when there is one, else to the answer source."""
        body, forced = self._checked(url, raw, override, custom_id)
        if forced is not None:  # an outcome the scenario (or `override`) gives: no model sees the call
            return forced
        if self.proxy is not None:
            got = await self.proxy.call(url, body)
            return self._finish(owner, url, body, got, self.now())
        now = self.now()
        return self._finish(owner, url, body, self.answers.attempt(url, body, 0, now), now)

    def _finish(self, owner: str, url: str, body: Any, got: Attempt, now: float) -> Answer:
        if got.failure is not None or not isinstance(got.body, dict):
            return _as_answer(got)
        answer = _success(got.status, got.body)
        if url != "/v1/responses" or answer.status != 200:
            return answer
        return self._store_response(owner, body, answer.body, now)

    def retrieve_model(self, model_override: str | None, raw: bytes) -> Answer:
        """`GET /models/{id}`: dwctl serves only the exact `/models` (dwctl lib.rs 1712-1714); the rest
        falls through to onwards' catch-all (onwards lib.rs 511-513), which names the model from the
        `Model-Override` header or the body's `model` (onwards lib.rs 417-433), never from the path: a
        plain retrieve (the `openai` SDK's `models.retrieve`) is its 400 (onwards handlers.rs 422-430);
        a named unknown model its 404 (handlers.rs 464-468)."""
        model = model_override
        if model is None:
            with contextlib.suppress(orjson.JSONDecodeError, TooDeep):
                body = loads(raw)
                found = body.get("model") if isinstance(body, dict) else None
                model = found if isinstance(found, str) else None
        if model is None:
            raise openai_error(400, NO_MODEL, "bad_request", "model")
        spec = self.settings.model(model)
        if spec is None:
            raise ProxyError(404, model_not_found(model))
        # live forwards the GET to the model's upstream; the simulator answers the catalogue's object
        return Answer(200, {"id": spec.name, "object": "model", "created": spec.created, "owned_by": "None"})

    def _checked(self, url: str, raw: bytes, override: str | None, custom_id: str) -> tuple[Any, Answer | None]:
        """The request's body, and the answer a forced outcome gives it (None: the model answers);
        raised, what ends the call before any model sees it."""
        try:
            body = loads(raw)
        except TooDeep as exc:
            raise openai_error(400, f"Invalid JSON body: {exc.detail}", "bad_request") from None
        except orjson.JSONDecodeError as exc:
            raise openai_error(400, f"Invalid JSON body: {exc.msg}", "bad_request") from None
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str) and self.settings.model(model) is None:
            raise ProxyError(404, model_not_found(model))
        return body, self._forced(override, custom_id, model if isinstance(model, str) else "")

    def _forced(self, override: str | None, custom_id: str, model: str) -> Answer | None:
        if override is not None:
            try:
                _, outcome = parse_request_rule({"outcome": orjson.loads(override)})
            except (orjson.JSONDecodeError, ScenarioError) as exc:
                raise openai_error(400, f"X-Mock-Outcome: {exc}", "bad_request") from None
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

    def _find(self, owner: str, response_id: str) -> tuple[dict[str, Any], float, float, float | None]:
        found = self.store.get_response(response_id)
        if found is None or found[0] != owner or found[5]:
            raise openai_error(404, f"Response with id '{response_id}' not found.", None)
        _, start, end, body, cancelled_at, _ = found
        return orjson.loads(body), start, end, cancelled_at

    def get(self, owner: str, response_id: str) -> Answer:
        final, start, end, cancelled_at = self._find(owner, response_id)
        return Answer(200, self._at(final, start, end, cancelled_at, self.now()))

    def cancel(self, owner: str, response_id: str) -> Answer:
        final, start, end, cancelled_at = self._find(owner, response_id)
        now = self.now()
        if not final.get("background"):
            raise openai_error(400, "Only background responses can be cancelled.", None)
        if cancelled_at is None and now < end:
            self.store.update_response(response_id, cancelled_at=now)
            cancelled_at = now
        return Answer(200, self._at(final, start, end, cancelled_at, now))

    def delete(self, owner: str, response_id: str) -> Answer:
        self._find(owner, response_id)
        self.store.update_response(response_id, deleted=True)
        return Answer(200, {"id": response_id, "object": "response", "deleted": True})

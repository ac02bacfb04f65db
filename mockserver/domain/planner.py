"""The planner: a batch's requests in, its stored schedule out (one `RequestRow` per request).

Pure: no asyncio, no store, no clock. Given the requests (their small fields, and their bodies read
on demand), where answers come from (an `AnswerSource`: the simulated model or a cassette), the
scenario's fault rules, the seed and the timing model, it runs the `Scheduler` to completion and
renders each request's final output or error line. The planning runner (`planning.py`) decides
where and when this runs and stores what it returns.

Seeded choices: every first attempt's duration is drawn from one stream per batch, in index order
(`Random("{seed}:{batch}")`); a retry's from its own (`Random("{seed}:{batch}:{index}:{attempt}")`);
the request ids are a hash of (batch, index). So a plan is the same whatever order the scheduler
answers the requests in, and a re-plan of some requests (retry) draws the same values as before.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mockserver.domain.answers import AnswerSource
from mockserver.domain.faults import Outcome
from mockserver.domain.result_lines import error_line, failure_reason, http_failure_line, output_line
from mockserver.domain.scheduler import Attempt, Planned, Timing, latency, plan_each
from mockserver.store import RequestRow


def request_uuid(batch_id: str, index: int) -> str:
    """The request's id: a version-4 UUID from a hash of (batch, index), as `uuid.UUID(bytes=…,
    version=4)` spells it."""
    digest = bytearray(hashlib.blake2b(f"{batch_id}:{index}".encode(), digest_size=16).digest())
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Requests:
    """The small fields of a batch's requests, in index order (bodies are read when answered)."""

    custom_ids: list[str]
    urls: list[str]
    models: list[str]
    sizes: list[int]  # each line's length in bytes (longer bodies take longer)

    def __len__(self) -> int:
        return len(self.models)


class Bodies(Protocol):
    def body(self, index: int) -> Any:
        """The body of request `index` as the batch sends it."""
        ...


@dataclass(frozen=True)
class PlanSpec:
    """What of the batch and the settings a plan depends on."""

    batch_id: str
    ready_at: float
    expires_at: float
    seed: int | None
    timing: Timing
    keep_response: bool  # OpenAI: an HTTP failure's line keeps its response


def request_row(batch_id: str, p: Planned, custom_id: str, model: str, keep_response: bool) -> RequestRow:
    """The stored row of a request whose final outcome is `p`, with its output or error line."""
    request_id = request_uuid(batch_id, p.index)
    body = p.final.body
    usage = body.get("usage", {}) if isinstance(body, dict) else {}
    prompt = int(usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0)
    completion = int(usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0)
    upstream_id = f"req_{request_id.replace('-', '')}" if keep_response else None
    if p.succeeded:
        line = output_line(request_id, custom_id, p.final.status, body, upstream_id)
    elif keep_response and p.final.failure is None:  # OpenAI: an HTTP failure keeps its response
        line = http_failure_line(request_id, custom_id, p.final.status, body, upstream_id)
    else:
        line = error_line(request_id, custom_id, failure_reason(p.final))
    return RequestRow(batch_id, p.index, request_id, custom_id, model, p.start, p.end, int(p.succeeded), line,
                      prompt, completion)


def plan_rows(
    spec: PlanSpec,
    requests: Requests,
    bodies: Bodies,
    answers: AnswerSource,
    rules: Sequence[Outcome | None],
    missing_model: Callable[[str], Attempt | None],
    indices: Sequence[int] | None = None,
) -> list[RequestRow]:
    """The rows of the requests `indices` (default: all), in index order.

    An attempt is answered by the request's fault rule when it has one for that attempt, else by
    `missing_model(model)` when the model is no longer configured, else by `answers`."""
    if not len(requests):  # no templates (e.g. a batch made from an output file): nothing to plan
        return []
    models, sizes, urls = requests.models, requests.sizes, requests.urls
    timing = spec.timing

    def attempt(i: int, n: int, start: float) -> Attempt:
        rule = rules[i]
        got = rule.attempt(n) if rule is not None else None
        if got is None:
            got = missing_model(models[i])
        if got is None:
            got = answers.attempt(urls[i], bodies.body(i), n, start)
        return got if rule is None or rule.latency is None else replace(got, latency=rule.latency)

    first_tries = random.Random(f"{spec.seed}:{spec.batch_id}")  # one stream, drawn in index order
    draws = [first_tries.random() for _ in models]

    def duration(i: int, n: int) -> float:
        draw = draws[i] if n == 0 else random.Random(f"{spec.seed}:{spec.batch_id}:{i}:{n}").random()
        return latency(draw, timing, sizes[i])

    custom_ids, batch_id, keep = requests.custom_ids, spec.batch_id, spec.keep_response

    def finish(p: Planned) -> RequestRow:
        return request_row(batch_id, p, custom_ids[p.index], models[p.index], keep)

    return plan_each(models, spec.ready_at, spec.expires_at, timing, attempt, duration, finish, indices)


def no_rules(count: int) -> list[Outcome | None]:
    return [None] * count


def rules_for(outcome_for: Callable[[str, str, int], Outcome | None], requests: Requests) -> list[Outcome | None]:
    """The scenario's rule of each request (matched by custom_id, model and 1-based line)."""
    pairs: Iterable[tuple[str, str]] = zip(requests.custom_ids, requests.models, strict=True)
    return [outcome_for(c, m, i + 1) for i, (c, m) in enumerate(pairs)]

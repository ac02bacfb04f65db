"""Scenarios: failures on purpose, reproducibly. A scenario document says which batch requests fail
and how, which calls of the emulated API get a fault, and which live limits are in force:

    {"seed": 7,
     "requests": [{"match": {"custom_id_prefix": "flaky-", "rate": 0.5},
                   "outcome": {"status": 503, "retriable_times": 2, "then_status": 200}}],
     "http": [{"method": "POST", "path": "/v1/files", "status": 429, "retry_after": 1, "times": 2}],
     "limits": {"max_concurrent_uploads": 2, "model_capacity": {"<model>": 100}, "negative_balance": false}}

The first matching rule wins; every key of a `match` must hold. A `rate` decision depends only on
the scenario's seed and the request's `custom_id` (or the HTTP call's method, path and count), so a
rerun gives the same outcomes. Nothing here knows HTTP; the middleware and the planner ask it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from mockserver.domain.scheduler import Attempt
from mockserver.errors import BadRequest


class ScenarioError(BadRequest, ValueError):
    """A scenario document that does not have the documented form; the message says where. A client
    that sends one (the control API, the console) gets a 400 with that message."""


def chance(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) from the seed and `parts` only."""
    digest = hashlib.blake2b(":".join(map(str, (seed, *parts))).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def upstream_error(status: int) -> dict[str, Any]:
    return {"error": {"message": f"Simulated upstream error (HTTP {status})", "type": "server_error" if status >= 500
                      else "invalid_request_error", "param": None, "code": status}}


@dataclass(frozen=True)
class Match:
    custom_id: str | None = None
    custom_id_prefix: str | None = None
    custom_id_regex: re.Pattern[str] | None = None
    model: str | None = None
    line: int | None = None
    rate: float | None = None

    def holds(self, seed: int, custom_id: str, model: str, line: int) -> bool:
        return (
            (self.custom_id is None or custom_id == self.custom_id)
            and (self.custom_id_prefix is None or custom_id.startswith(self.custom_id_prefix))
            and (self.custom_id_regex is None or self.custom_id_regex.search(custom_id) is not None)
            and (self.model is None or model == self.model)
            and (self.line is None or line == self.line)
            and (self.rate is None or chance(seed, "request", custom_id) < self.rate)
        )


@dataclass(frozen=True)
class Outcome:
    status: int | None = None
    body: Any = None
    retriable_times: int | None = None
    then_status: int | None = None
    latency_ms: float | None = None
    timeout: bool = False
    network_error: bool = False

    @property
    def latency(self) -> float | None:
        return None if self.latency_ms is None else self.latency_ms / 1000

    def attempt(self, n: int) -> Attempt | None:
        """Attempt number `n` (from 0) under this outcome; None: the simulated model answers."""
        if self.retriable_times is not None and n >= self.retriable_times:
            then = self.then_status
            return None if then is None or 200 <= then < 300 else Attempt(then, upstream_error(then))
        if self.timeout:
            return Attempt(0, "request timed out", failure="Timeout")
        if self.network_error:
            return Attempt(0, "connection reset by peer", failure="NetworkError")
        if self.status is None or 200 <= self.status < 300:
            return None if self.body is None else Attempt(self.status or 200, self.body)
        return Attempt(self.status, self.body if self.body is not None else upstream_error(self.status))


@dataclass(frozen=True)
class HttpRule:
    path: str
    method: str | None = None
    status: int | None = None
    retry_after: float | None = None
    times: int | None = None
    rate: float | None = None
    drop: bool = False
    delay_ms: float | None = None
    truncate: int | None = None  # send this many bytes of the answer's body, then close the connection

    def covers(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return path.startswith(self.path[:-1]) if self.path.endswith("*") else path == self.path


@dataclass(frozen=True)
class Limits:
    max_concurrent_uploads: int | None = None
    model_capacity: Mapping[str, int] = field(default_factory=dict)
    negative_balance: bool = False


@dataclass(frozen=True)
class Scenario:
    seed: int = 0
    requests: tuple[tuple[Match, Outcome], ...] = ()
    http: tuple[HttpRule, ...] = ()
    limits: Limits = Limits()
    document: Mapping[str, Any] = field(default_factory=dict)

    def outcome_for(self, custom_id: str, model: str, line: int) -> Outcome | None:
        for match, outcome in self.requests:
            if match.holds(self.seed, custom_id, model, line):
                return outcome
        return None


NO_SCENARIO = Scenario()


# -- parsing ----------------------------------------------------------------------------------------
def _keys(where: str, raw: Any, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected an object")
    unknown = set(raw) - allowed
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    return raw


def _typed(where: str, raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind in (int, float, (int, float)))
    if not ok:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ScenarioError(f"{where}.{key}: expected {names}, got {orjson.dumps(value).decode()}")
    return value


def _rate(where: str, raw: Mapping[str, Any]) -> float | None:
    rate = _typed(where, raw, "rate", (int, float))
    if rate is not None and not 0 <= rate <= 1:
        raise ScenarioError(f"{where}.rate: must be between 0 and 1")
    return None if rate is None else float(rate)


def _status(where: str, raw: Mapping[str, Any], key: str) -> int | None:
    status = _typed(where, raw, key, int)
    if status is not None and not 100 <= status <= 599:
        raise ScenarioError(f"{where}.{key}: not an HTTP status")
    return None if status is None else int(status)


def _request_rule(where: str, raw: Any) -> tuple[Match, Outcome]:
    rule = _keys(where, raw, {"match", "outcome"})
    m = _keys(f"{where}.match", rule.get("match", {}), {"custom_id", "custom_id_prefix", "custom_id_regex", "model",
                                                        "line", "rate"})
    regex = _typed(f"{where}.match", m, "custom_id_regex", str)
    try:
        pattern = None if regex is None else re.compile(regex)
    except re.error as exc:
        raise ScenarioError(f"{where}.match.custom_id_regex: {exc}") from None
    match = Match(
        custom_id=_typed(f"{where}.match", m, "custom_id", str),
        custom_id_prefix=_typed(f"{where}.match", m, "custom_id_prefix", str),
        custom_id_regex=pattern,
        model=_typed(f"{where}.match", m, "model", str),
        line=_typed(f"{where}.match", m, "line", int),
        rate=_rate(f"{where}.match", m),
    )
    if "outcome" not in rule:
        raise ScenarioError(f"{where}: missing outcome")
    o = _keys(f"{where}.outcome", rule["outcome"], {"status", "body", "retriable_times", "then_status", "latency_ms",
                                                    "timeout", "network_error"})
    outcome = Outcome(
        status=_status(f"{where}.outcome", o, "status"),
        body=o.get("body"),
        retriable_times=_typed(f"{where}.outcome", o, "retriable_times", int),
        then_status=_status(f"{where}.outcome", o, "then_status"),
        latency_ms=_typed(f"{where}.outcome", o, "latency_ms", (int, float)),
        timeout=bool(_typed(f"{where}.outcome", o, "timeout", bool)),
        network_error=bool(_typed(f"{where}.outcome", o, "network_error", bool)),
    )
    return match, outcome


def parse_request_rule(raw: Any) -> tuple[Match, Outcome]:
    return _request_rule("rule", raw)


def _http_rule(where: str, raw: Any) -> HttpRule:
    r = _keys(where, raw, {"method", "path", "status", "retry_after", "times", "rate", "drop", "delay_ms", "truncate"})
    path = _typed(where, r, "path", str)
    if not path or not path.startswith("/"):
        raise ScenarioError(f"{where}.path: required, a route such as /v1/files or /v1/batches/*")
    rule = HttpRule(
        path=path.removeprefix("/ai"),
        method=_typed(where, r, "method", str),
        status=_status(where, r, "status"),
        retry_after=_typed(where, r, "retry_after", (int, float)),
        times=_typed(where, r, "times", int),
        rate=_rate(where, r),
        drop=bool(_typed(where, r, "drop", bool)),
        delay_ms=_typed(where, r, "delay_ms", (int, float)),
        truncate=_typed(where, r, "truncate", int),
    )
    if rule.truncate is not None and rule.truncate < 0:
        raise ScenarioError(f"{where}.truncate: a number of bytes, 0 or more")
    if rule.status is None and not rule.drop and rule.delay_ms is None and rule.truncate is None:
        raise ScenarioError(f"{where}: give a status, drop, truncate or delay_ms")
    return rule


def parse_scenario(raw: Any) -> Scenario:
    doc = _keys("scenario", raw, {"seed", "requests", "http", "limits"})
    seed = int(_typed("scenario", doc, "seed", int) or 0)
    requests = doc.get("requests", [])
    http = doc.get("http", [])
    if not isinstance(requests, list) or not isinstance(http, list):
        raise ScenarioError("scenario: requests and http must be lists")
    lim = _keys("scenario.limits", doc.get("limits", {}), {"max_concurrent_uploads", "model_capacity",
                                                           "negative_balance"})
    capacity = lim.get("model_capacity", {})
    if not isinstance(capacity, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in capacity.values()):
        raise ScenarioError("scenario.limits.model_capacity: expected an object of model -> request count")
    return Scenario(
        seed=seed,
        requests=tuple(_request_rule(f"scenario.requests[{i}]", r) for i, r in enumerate(requests)),
        http=tuple(_http_rule(f"scenario.http[{i}]", r) for i, r in enumerate(http)),
        limits=Limits(
            max_concurrent_uploads=_typed("scenario.limits", lim, "max_concurrent_uploads", int),
            model_capacity=dict(capacity),
            negative_balance=bool(_typed("scenario.limits", lim, "negative_balance", bool)),
        ),
        document=doc,
    )


def load_scenario(path: Path) -> Scenario:
    """A scenario file, JSON or YAML."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid JSON or YAML: {exc}") from None
    return parse_scenario(raw)


class Faults:
    """The scenario in force and the call counters its HTTP rules need (restart on install or reset)."""

    def __init__(self, scenario: Scenario = NO_SCENARIO) -> None:
        self.scenario = scenario
        self._calls: dict[int, int] = {}
        self.uploads_in_progress = 0

    def install(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._calls.clear()

    def clear(self) -> None:
        self.install(NO_SCENARIO)

    def http_fault(self, method: str, path: str) -> HttpRule | None:
        """The HTTP rule that fires for this call, counting the call against every rule that covers it."""
        api_path = path.removeprefix("/ai")
        fired = None
        for number, rule in enumerate(self.scenario.http):
            if not rule.covers(method, api_path):
                continue
            count = self._calls.get(number, 0)
            self._calls[number] = count + 1
            if fired is not None or (rule.times is not None and count >= rule.times):
                continue
            if rule.rate is None or chance(self.scenario.seed, "http", method.upper(), api_path, count) < rule.rate:
                fired = rule
        return fired

"""Cassettes: recorded answers of a real service, replayed by `--replay` (JSONL, one object a line).

    {"type": "cassette", "version": 1, "source": "upstream" | "batch-api", "base_url": "...", "recorded_at": 1.7e9}
    {"type": "request", "key": "<hex>", "custom_id": "q1", "url": "/v1/chat/completions", "body": {...},
     "attempts": [{"status": 503, "body": "...", "latency": 0.8}, {"status": 200, "body": {...}, "latency": 1.2}]}
    {"type": "request", ..., "attempts": [{"status": 0, "failure": "Timeout", "body": "timed out", "latency": 30.0}]}
    {"type": "status", "t": 0.0, "status": "in_progress", "completed": 0, "failed": 0}

A request is matched by `key`, a hash of its url and its body (the body as stored: `priority` removed,
keys sorted), so the order of lines and the `custom_id` do not matter; the first request line with a
key wins. The stored `key` is informative: the loader always recomputes it from `url` and `body`, so a
hand-edited body or a change of normalisation cannot leave a line that silently never matches (and
a cassette without keys loads too). Attempt n of a replayed request gets the n-th recorded attempt
(the last one again once they run out). `latency` is in seconds, at least 0. `status` lines are the
recorded batch's timeline, `t` seconds after it was created (informative: replay derives its
timeline from the latencies, on the virtual clock).
No key, token or header is ever written: only the base URL, the request bodies and the answers. As a
second guard, the writer blanks any text equal to a secret of at least `MIN_SECRET_LENGTH` (8)
characters; a shorter one is left alone, since blanking it would corrupt every line it happens to occur in.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from mockserver.domain.answers import SimulatedAnswers
from mockserver.domain.scheduler import Attempt
from mockserver.domain.validation import normalised_body

VERSION = 1
MIN_SECRET_LENGTH = 8  # shorter secrets are not blanked: they occur by chance in ordinary text


class CassetteError(ValueError):
    """A cassette that is not in the documented form; the message names the line."""


def request_key(url: str, body: Any) -> str:
    canonical = orjson.dumps({"url": url, "body": normalised_body(body)}, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def attempt_record(got: Attempt, latency: float) -> dict[str, Any]:
    out: dict[str, Any] = {"status": got.status, "body": got.body, "latency": round(latency, 6)}
    if got.failure is not None:
        out["failure"] = got.failure
    return out


def attempt_from(record: dict[str, Any]) -> Attempt:
    """A recorded attempt; a ValueError (or TypeError, AttributeError) for one not in the documented form."""
    failure = record.get("failure")
    latency = float(record.get("latency", 0.0))
    if not 0 <= latency < math.inf:
        raise ValueError(f"latency {record.get('latency')!r} is not a number of seconds >= 0")
    return Attempt(int(record.get("status", 0)), record.get("body"), failure=None if failure is None else str(failure),
                   latency=latency)


@dataclass(frozen=True)
class Recorded:
    custom_id: str
    url: str
    attempts: tuple[Attempt, ...]

    def attempt(self, n: int) -> Attempt:
        return self.attempts[min(n, len(self.attempts) - 1)]


@dataclass(frozen=True)
class Cassette:
    path: Path
    header: dict[str, Any]
    requests: dict[str, Recorded]
    timeline: tuple[dict[str, Any], ...]

    def find(self, url: str, body: Any) -> Recorded | None:
        return self.requests.get(request_key(url, body))


def load(path: Path) -> Cassette:
    header: dict[str, Any] = {}
    requests: dict[str, Recorded] = {}
    timeline: list[dict[str, Any]] = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = orjson.loads(raw)
            kind = item["type"]
            if kind == "cassette":
                header = item
            elif kind == "request":
                url = str(item["url"])
                key = request_key(url, item["body"])  # never the stored `key`: it may not match url and body
                attempts = tuple(attempt_from(a) for a in item["attempts"])
                if not attempts:
                    raise CassetteError(f"{path}:{number}: a request needs at least one attempt")
                requests.setdefault(key, Recorded(str(item.get("custom_id", "")), url, attempts))
            elif kind == "status":
                timeline.append(item)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, CassetteError):
                raise
            raise CassetteError(f"{path}:{number}: not a cassette line ({exc})") from None
    if header.get("version", VERSION) != VERSION:
        raise CassetteError(f"{path}: cassette version {header.get('version')} (this simulator reads {VERSION})")
    return Cassette(path, header, requests, tuple(timeline))


class Writer:
    """Writes a cassette line by line; each of `secrets` at least `MIN_SECRET_LENGTH` (8) characters
    long is blanked (`<redacted>`) wherever it would appear. Keys never enter the written content
    except by accident (an upstream echoing one back); a shorter secret is not blanked, as replacing a
    one-letter key everywhere would corrupt the whole cassette."""

    def __init__(self, out: TextIO, secrets: Iterable[str | None] = ()) -> None:
        self.out = out
        self.secrets = [s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH]

    def _write(self, item: dict[str, Any]) -> None:
        text = orjson.dumps(item).decode()
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        self.out.write(text + "\n")
        self.out.flush()

    def header(self, source: str, base_url: str, recorded_at: float) -> None:
        self._write({"type": "cassette", "version": VERSION, "source": source, "base_url": base_url,
                     "recorded_at": recorded_at})

    def request(self, custom_id: str, url: str, body: Any, attempts: list[dict[str, Any]]) -> None:
        body = normalised_body(body)
        self._write({"type": "request", "key": request_key(url, body), "custom_id": custom_id, "url": url,
                     "body": body, "attempts": attempts})

    def status(self, t: float, status: str, completed: int, failed: int) -> None:
        self._write({"type": "status", "t": round(t, 6), "status": status, "completed": completed, "failed": failed})


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

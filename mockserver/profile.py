"""The two API profiles the simulator can play, side by side: every difference between the live
Doubleword Batch API and OpenAI's Batch API that a client can see, as data and a few strategies.

Chosen once at start (`--profile doubleword|openai`); the engine and the routes are the same.

| what                 | doubleword (the default; the live service)      | openai (OpenAI's Batch API)                       |
|----------------------|-------------------------------------------------|---------------------------------------------------|
| ids                  | bare UUIDs, any spelling `Uuid::parse_str` takes | `file-<hex>`, `batch_<hex>`, exact               |
| create status        | 201                                             | 200                                               |
| errors               | plain text (429/503 JSON), live's wording       | `{"error": {message, type, param, code}}` always  |
| line validation      | at upload: 400/403 with the line number          | at batch validation: `failed` + `errors.data`     |
| objects              | unset fields omitted, `dwext`, owner metadata   | every key present (null when unset), `status`     |
| completion windows   | the configured ones (`24h`, `1h`)               | `24h` only                                        |
| result files         | exist (and grow) from creation                  | ids set when the batch ends, only if non-empty    |
| statuses             | no `finalizing`, `cancelling` only while validating, all-failed is `failed`, never `expired` | `finalizing` (`--finalize-delay`), `cancelling` for `--cancel-delay`, all-failed is `completed`, `expired` after 24 h |
| failed requests      | `error.message` = the FailureReason JSON         | HTTP failures keep `response` (error null)        |
| cancel when finished | answers the batch                               | 400                                               |
| extension routes     | results, analytics, retry, delete batch, cost estimate, `/ai/v1` | not served (404 `Invalid URL`) |

The cited evidence for the OpenAI column is in `shared/research/spec-and-style.md` Part A and the
README's fidelity table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from mockserver.domain.paging import canonical_uuid
from mockserver.domain.status import BatchView, Ends, derive, derive_openai
from mockserver.errors import JSON, ApiError, BadRequest, NotFound, openai_envelope
from mockserver.render import batch_object, file_object, openai_batch_object, openai_file_object
from mockserver.settings import DAY, Settings
from mockserver.store import BatchRow, FileRow

Kind = Literal["file", "batch"]
PROFILES = ("doubleword", "openai")


class DoublewordIds:
    """Bare UUIDs; a path id is accepted in any spelling the live server's `Uuid::parse_str` takes."""

    def new(self, kind: Kind, fresh_uuid: str) -> str:
        return fresh_uuid

    def parse(self, kind: Kind, text: str) -> str | None:
        return canonical_uuid(text)

    def require(self, kind: Kind, text: str, bad_format: str) -> str:
        """The stored id `text` names; 400 `bad_format` when it is not a UUID (live's wording)."""
        found = canonical_uuid(text)
        if found is None:
            raise BadRequest(bad_format)
        return found


class OpenAIIds:
    """`file-` and `batch_` followed by 32 hex digits; a path id matches only as written."""

    PREFIX: ClassVar[dict[str, str]] = {"file": "file-", "batch": "batch_"}
    _PATTERN: ClassVar[dict[str, re.Pattern[str]]] = {kind: re.compile(re.escape(prefix) + "[0-9a-f]{32}") for kind, prefix in PREFIX.items()}

    def new(self, kind: Kind, fresh_uuid: str) -> str:
        return self.PREFIX[kind] + fresh_uuid.replace("-", "")

    def parse(self, kind: Kind, text: str) -> str | None:
        return text if self._PATTERN[kind].fullmatch(text) else None

    def require(self, kind: Kind, text: str, bad_format: str) -> str:
        """An id of the wrong shape is simply one that does not exist: 404."""
        if self._PATTERN[kind].fullmatch(text) is None:
            raise NotFound(kind.capitalize(), text)
        return text


IdScheme = DoublewordIds | OpenAIIds


def _doubleword_error(error: ApiError) -> tuple[int, bytes, str]:
    return error.status, error.body(), error.content_type


def _openai_error(error: ApiError) -> tuple[int, bytes, str]:
    status, body = openai_envelope(error)
    return status, body, JSON


@dataclass(frozen=True)
class Profile:
    name: str
    ids: IdScheme
    create_status: int  # of POST /files and POST /batches
    prefixes: tuple[str, ...]  # where the emulated routes are served
    extensions: bool  # serve Doubleword's own routes (results, analytics, retry, batch delete, cost estimate)
    lines_checked_at_upload: bool  # False: any JSONL is stored; lines are checked when a batch validates
    completion_windows: tuple[tuple[str, int], ...] | None  # None: the settings' windows
    results_on_finish: bool  # output/error file ids appear when the batch ends, and only if non-empty
    foreign_file_forbidden: bool  # creating a batch from another user's file: 403 (else 404)
    refuse_cancel_when_finished: bool
    http_failures_keep_response: bool  # a failed request's line keeps `response` (error null)
    render_error: Callable[[ApiError], tuple[int, bytes, str]]
    render_file: Callable[[FileRow, int, str | None], dict[str, Any]]
    render_batch: Callable[[BatchView, bool], dict[str, Any]]
    derive: Callable[[BatchRow, Ends, float, Settings], BatchView]

    @property
    def openai(self) -> bool:
        return self.name == "openai"

    def windows(self, settings: Settings) -> tuple[tuple[str, int], ...]:
        return self.completion_windows if self.completion_windows is not None else settings.completion_windows


def _derive_doubleword(row: BatchRow, ends: Ends, now: float, settings: Settings) -> BatchView:
    return derive(row, ends, now, settings.expiry == "openai")


def _derive_openai(row: BatchRow, ends: Ends, now: float, settings: Settings) -> BatchView:
    return derive_openai(row, ends, now, settings.finalize_delay, settings.cancel_delay)


DOUBLEWORD = Profile(
    name="doubleword",
    ids=DoublewordIds(),
    create_status=201,
    prefixes=("/v1", "/ai/v1"),
    extensions=True,
    lines_checked_at_upload=True,
    completion_windows=None,
    results_on_finish=False,
    foreign_file_forbidden=True,
    refuse_cancel_when_finished=False,
    http_failures_keep_response=False,
    render_error=_doubleword_error,
    render_file=lambda row, size, email: file_object(row, size, email=email),
    render_batch=lambda view, with_context: batch_object(view, with_context=with_context),
    derive=_derive_doubleword,
)

OPENAI = Profile(
    name="openai",
    ids=OpenAIIds(),
    create_status=200,
    prefixes=("/v1",),
    extensions=False,
    lines_checked_at_upload=False,
    completion_windows=(("24h", DAY),),
    results_on_finish=True,
    foreign_file_forbidden=False,
    refuse_cancel_when_finished=True,
    http_failures_keep_response=True,
    render_error=_openai_error,
    render_file=lambda row, size, email: openai_file_object(row, size),
    render_batch=lambda view, with_context: openai_batch_object(view),
    derive=_derive_openai,
)


def profile_of(settings: Settings) -> Profile:
    return OPENAI if settings.profile == "openai" else DOUBLEWORD

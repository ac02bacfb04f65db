"""The two API profiles' domain rules, side by side: ids, windows, when lines are checked, status
derivation and the flags the services read. What the profiles change on the wire (status codes,
error envelopes, object shapes, routes) is the dialect's (`mockserver/dialect.py`), which also has
the table of every difference.

Chosen once at start (`--profile doubleword|openai`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

from mockserver.domain.paging import canonical_uuid
from mockserver.domain.status import BatchView, Ends, derive, derive_openai
from mockserver.errors import BadRequest, NotFound
from mockserver.settings import DAY, Settings
from mockserver.store import BatchRow

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


@dataclass(frozen=True)
class Policy:
    name: str
    ids: IdScheme
    lines_checked_at_upload: bool  # False: any JSONL is stored; lines are checked when a batch validates
    completion_windows: tuple[tuple[str, int], ...] | None  # None: the settings' windows
    results_on_finish: bool  # output/error file ids appear when the batch ends, and only if non-empty
    foreign_file_forbidden: bool  # creating a batch from another user's file: 403 (else 404)
    refuse_cancel_when_finished: bool
    http_failures_keep_response: bool  # a failed request's line keeps `response` (error null)
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


DOUBLEWORD = Policy(
    name="doubleword",
    ids=DoublewordIds(),
    lines_checked_at_upload=True,
    completion_windows=None,
    results_on_finish=False,
    foreign_file_forbidden=True,
    refuse_cancel_when_finished=False,
    http_failures_keep_response=False,
    derive=_derive_doubleword,
)

OPENAI = Policy(
    name="openai",
    ids=OpenAIIds(),
    lines_checked_at_upload=False,
    completion_windows=(("24h", DAY),),
    results_on_finish=True,
    foreign_file_forbidden=False,
    refuse_cancel_when_finished=True,
    http_failures_keep_response=True,
    derive=_derive_openai,
)


def policy_of(settings: Settings) -> Policy:
    return OPENAI if settings.profile == "openai" else DOUBLEWORD

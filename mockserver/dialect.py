"""The wire dialect of the two API profiles the simulator can play: status codes, error envelopes,
object shapes and the routes served. The table lists every difference between the live Doubleword
Batch API and OpenAI's Batch API that a client can see; the rows the domain decides (ids, windows,
validation, statuses, failed lines, cancel) are data of its `domain.policy.Policy`, which a
`Dialect` carries. Chosen once at start (`--profile doubleword|openai`).

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
fidelity table (docs/fidelity.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mockserver.domain.policy import DOUBLEWORD as DOUBLEWORD_POLICY
from mockserver.domain.policy import OPENAI as OPENAI_POLICY
from mockserver.domain.policy import PROFILES, Policy
from mockserver.domain.status import BatchView
from mockserver.errors import JSON, ApiError, openai_envelope
from mockserver.render import batch_object, file_object, openai_batch_object, openai_file_object
from mockserver.settings import Settings
from mockserver.store import FileRow

__all__ = ["DOUBLEWORD", "OPENAI", "PROFILES", "Dialect", "dialect_of"]


def _doubleword_error(error: ApiError) -> tuple[int, bytes, str]:
    return error.status, error.body(), error.content_type


def _openai_error(error: ApiError) -> tuple[int, bytes, str]:
    status, body = openai_envelope(error)
    return status, body, JSON


@dataclass(frozen=True)
class Dialect:
    policy: Policy  # the domain's half of the profile
    create_status: int  # of POST /files and POST /batches
    prefixes: tuple[str, ...]  # where the emulated routes are served
    extensions: bool  # serve Doubleword's own routes (results, analytics, retry, batch delete, cost estimate)
    render_error: Callable[[ApiError], tuple[int, bytes, str]]
    render_file: Callable[[FileRow, int, str | None], dict[str, Any]]
    render_batch: Callable[[BatchView, bool], dict[str, Any]]

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def openai(self) -> bool:
        return self.policy.openai


DOUBLEWORD = Dialect(
    policy=DOUBLEWORD_POLICY,
    create_status=201,
    prefixes=("/v1", "/ai/v1"),
    extensions=True,
    render_error=_doubleword_error,
    render_file=lambda row, size, email: file_object(row, size, email=email),
    render_batch=lambda view, with_context: batch_object(view, with_context=with_context),
)

OPENAI = Dialect(
    policy=OPENAI_POLICY,
    create_status=200,
    prefixes=("/v1",),
    extensions=False,
    render_error=_openai_error,
    render_file=lambda row, size, email: openai_file_object(row, size),
    render_batch=lambda view, with_context: openai_batch_object(view),
)


def dialect_of(settings: Settings) -> Dialect:
    return OPENAI if settings.profile == "openai" else DOUBLEWORD

"""Typed views of what the API returns: batches, files, content pages and result lines.

Each keeps the server's JSON in `raw`, so fields this client does not name are never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# `cancelling` is final on the live service: a batch shows it only when cancelled while validating,
# and then no request ever runs (it stays there; the simulator moves on to `cancelled`).
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "cancelling", "expired"})


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class RequestCounts:
    total: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.completed + self.failed

    @classmethod
    def from_json(cls, raw: Any) -> RequestCounts:
        raw = raw if isinstance(raw, dict) else {}
        return cls(_int(raw.get("total")), _int(raw.get("completed")), _int(raw.get("failed")))


@dataclass(frozen=True)
class Batch:
    id: str
    status: str
    endpoint: str
    input_file_id: str
    completion_window: str
    created_at: int
    request_counts: RequestCounts
    output_file_id: str | None
    error_file_id: str | None
    metadata: dict[str, str]
    raw: dict[str, Any] = field(repr=False)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def timestamp(self, name: str) -> int | None:
        """`completed_at`, `in_progress_at`, ...: None when the server omits it."""
        value = self.raw.get(name)
        return value if isinstance(value, int) else None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Batch:
        metadata = raw.get("metadata")
        return cls(
            id=str(raw.get("id", "")), status=str(raw.get("status", "")), endpoint=str(raw.get("endpoint", "")),
            input_file_id=str(raw.get("input_file_id") or ""), completion_window=str(raw.get("completion_window", "")),
            created_at=_int(raw.get("created_at")), request_counts=RequestCounts.from_json(raw.get("request_counts")),
            output_file_id=_opt_str(raw.get("output_file_id")), error_file_id=_opt_str(raw.get("error_file_id")),
            metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
            raw=raw,
        )


@dataclass(frozen=True)
class FileObject:
    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    expires_at: int | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FileObject:
        expires = raw.get("expires_at")
        return cls(
            id=str(raw.get("id", "")), bytes=_int(raw.get("bytes")), created_at=_int(raw.get("created_at")),
            filename=str(raw.get("filename", "")), purpose=str(raw.get("purpose", "")),
            expires_at=expires if isinstance(expires, int) else None, raw=raw,
        )


@dataclass(frozen=True)
class ContentPage:
    """One `GET /files/{id}/content` (or `/batches/{id}/results`) answer."""

    lines: list[str]
    last_line: int | None  # X-Last-Line: where the next page starts (skip)
    incomplete: bool  # X-Incomplete: more pages, or the batch may still add lines

    def records(self) -> list[dict[str, Any]]:
        return [parse_record(line) for line in self.lines]


def parse_record(line: str) -> dict[str, Any]:
    """A JSONL record; `{}` for a line that is not a JSON object (kept whole in `ResultLine.raw`)."""
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


@dataclass(frozen=True)
class ResultLine:
    """A line of an output or error file, with `position`: how many lines of the file have been read
    up to and including this one. Pass it back as `start` to resume right after this line."""

    position: int
    raw: str
    data: dict[str, Any]

    @property
    def custom_id(self) -> str | None:
        value = self.data.get("custom_id")
        return value if isinstance(value, str) else None

    @property
    def ok(self) -> bool:
        response = self.data.get("response")
        return isinstance(response, dict) and self.data.get("error") is None

    @property
    def body(self) -> Any:
        """The upstream response body of a successful line, else None."""
        response = self.data.get("response")
        return response.get("body") if isinstance(response, dict) else None

    @property
    def error_message(self) -> str | None:
        error = self.data.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            return message if isinstance(message, str) else orjson.dumps(message).decode()
        return None

    @property
    def failure(self) -> dict[str, Any] | None:
        """The error message parsed, when it is the live tagged form `{"type", "details"}`."""
        message = self.error_message
        if message is None:
            return None
        parsed = parse_record(message)
        return parsed or None

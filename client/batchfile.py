"""Batch files: request lines, the live service's rules for them, and splitting over the limits.

A batch file is JSONL, one `{custom_id, method, url, body}` object per line. The rules checked here
are the ones the service enforces at upload (so a bad file fails before it is sent): `custom_id` a
string of at most 64 bytes without control characters, `method` POST, `url` one of the supported
paths, `body.model` a string, each body at most 10 MiB, at most 50,000 requests and 200 MB per file.
Duplicate `custom_id`s are accepted by the service but make results ambiguous, so they are refused
unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from client.errors import BatchFileError

DEFAULT_MODEL = "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8"
CHAT_URL = "/v1/chat/completions"
SUPPORTED_URLS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages")
MAX_CUSTOM_ID_BYTES = 64

Line = Mapping[str, Any]


@dataclass(frozen=True)
class Limits:
    """Per-file limits. The defaults are the live service's published ones (200 MB read as decimal
    megabytes, the stricter reading)."""

    max_file_bytes: int = 200_000_000
    max_requests: int = 50_000
    max_body_bytes: int = 10 * 1024 * 1024


DEFAULT_LIMITS = Limits()


def chat_request(
    custom_id: str, prompt: str, *, model: str = DEFAULT_MODEL, system: str | None = None, **params: Any,
) -> dict[str, Any]:
    """A chat-completions request line for one prompt; `params` go into the body (`max_tokens`, ...)."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    return {"custom_id": custom_id, "method": "POST", "url": CHAT_URL,
            "body": {"model": model, "messages": messages, **params}}


def encode_line(line: Line) -> bytes:
    """One compact JSON object and a newline (no line break can appear inside it)."""
    return orjson.dumps(line) + b"\n"


def check_line(line: Any, number: int, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise `BatchFileError` naming line `number` (1-based, non-blank lines) if the service would reject it."""

    def bad(message: str) -> BatchFileError:
        return BatchFileError(f"line {number}: {message}")

    if not isinstance(line, Mapping):
        raise bad("not a JSON object")
    for key in ("custom_id", "method", "url", "body"):
        if key not in line:
            raise bad(f"missing field `{key}`")
    custom_id = line["custom_id"]
    if not isinstance(custom_id, str):
        raise bad("custom_id must be a string")
    if len(custom_id.encode()) > MAX_CUSTOM_ID_BYTES:
        raise bad(f"custom_id is {len(custom_id.encode())} bytes, over the maximum of {MAX_CUSTOM_ID_BYTES}")
    if any(ord(c) < 32 or ord(c) == 127 for c in custom_id):
        raise bad("custom_id contains control characters")
    if not isinstance(line["method"], str) or line["method"].upper() != "POST":
        raise bad(f"unsupported method {line['method']!r}; only POST")
    if line["url"] not in SUPPORTED_URLS:
        raise bad(f"unsupported url {line['url']!r}; one of {', '.join(SUPPORTED_URLS)}")
    body = line["body"]
    if not isinstance(body, Mapping) or not isinstance(body.get("model"), str):
        raise bad("body must be an object with a string `model`")
    size = len(orjson.dumps(body))
    if size > limits.max_body_bytes:
        raise bad(f"request body is {size} bytes, over the maximum of {limits.max_body_bytes}")


def check_lines(lines: Sequence[Line], limits: Limits = DEFAULT_LIMITS, *, unique_ids: bool = True) -> None:
    """Check every line, and that `custom_id`s are unique (unless `unique_ids` is False)."""
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        check_line(line, number, limits)
        custom_id = str(line["custom_id"])
        if unique_ids and custom_id in seen:
            raise BatchFileError(f"line {number}: custom_id {custom_id!r} repeats line {seen[custom_id]}")
        seen.setdefault(custom_id, number)


def check_file(lines: Sequence[Line], limits: Limits = DEFAULT_LIMITS, *, unique_ids: bool = True) -> bytes:
    """The JSONL bytes of `lines` as one upload, after checking the lines and the file limits."""
    if not lines:
        raise BatchFileError("the batch file has no requests")
    check_lines(lines, limits, unique_ids=unique_ids)
    data = b"".join(encode_line(line) for line in lines)
    if len(lines) > limits.max_requests:
        raise BatchFileError(f"{len(lines)} requests, over the maximum of {limits.max_requests} per file; split it")
    if len(data) > limits.max_file_bytes:
        raise BatchFileError(f"{len(data)} bytes, over the maximum of {limits.max_file_bytes} per file; split it")
    return data


def split_lines(lines: Iterable[Line], limits: Limits = DEFAULT_LIMITS, *, unique_ids: bool = True) -> list[bytes]:
    """Check `lines` and pack them, in order, into as few JSONL files as fit within `limits`."""
    files: list[bytes] = []
    current: list[bytes] = []
    size = 0
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        check_line(line, number, limits)
        if unique_ids and line["custom_id"] in seen:
            raise BatchFileError(f"line {number}: custom_id {line['custom_id']!r} is not unique")
        seen.add(str(line["custom_id"]))
        encoded = encode_line(line)
        if len(encoded) > limits.max_file_bytes:
            raise BatchFileError(f"line {number}: {len(encoded)} bytes, more than a whole file may hold")
        if current and (len(current) >= limits.max_requests or size + len(encoded) > limits.max_file_bytes):
            files.append(b"".join(current))
            current, size = [], 0
        current.append(encoded)
        size += len(encoded)
    if current:
        files.append(b"".join(current))
    if not files:
        raise BatchFileError("no requests to write")
    return files


def parse_jsonl(data: bytes) -> list[Any]:
    """The JSON values of a JSONL file; blank lines are skipped and not counted, as the service does."""
    values: list[Any] = []
    number = 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        number += 1
        check_utf8(raw, number)
        try:
            values.append(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise BatchFileError(f"line {number}: invalid JSON: {exc}") from None
    return values


def check_utf8(raw: bytes, number: int) -> None:
    """Raise `BatchFileError` if line `number` (its bytes `raw`) is not UTF-8, naming the first bad
    byte and its column (1-based, in characters)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8")) + 1
        raise BatchFileError(
            f"line {number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {column}); the file must be UTF-8",
        ) from None


def decode_utf8(data: bytes) -> str:
    """`data` as text (a leading byte-order mark dropped), or `BatchFileError` naming the first line
    (1-based, every line counted) that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1):
            check_utf8(raw, number)
        raise


def read_batch_file(path: str | Path) -> list[Any]:
    return parse_jsonl(Path(path).read_bytes())


def endpoint_of(lines: Sequence[Line]) -> str:
    """The batch endpoint for these lines: their common `url` (the first one's if they differ)."""
    return str(lines[0]["url"]) if lines else CHAT_URL

"""OpenAI's input-file validation (OpenAI profile only): the upload took any JSONL; when the batch
validates, its file is checked and a bad one fails the batch with `errors.data[{code, line, message,
param}]` instead of a 400 at upload.

Codes as third parties have seen them (research spec-and-style A5, unverified against OpenAI):
`empty_file`, `too_many_tasks`, `invalid_json_line`, `duplicate_custom_id`, `url_mismatch`,
`model_mismatch`; and `model_not_found` for a model the service does not serve. A line missing a
required key or with a method other than POST gets `invalid_request`, with the key in `param`.
`line` counts non-blank lines from 1. At most `MAX_REPORTED` errors are listed, one per bad line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

MAX_REPORTED = 100
_REQUIRED = ("custom_id", "method", "url", "body")


@dataclass(frozen=True)
class FileCheck:
    errors: list[dict[str, Any]]  # empty when the file is good
    model: str | None  # the file's one model, when good


def _error(code: str, message: str, line: int | None = None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "line": line, "message": message, "param": param}


def _line_error(obj: Any, n: int, endpoint: str, models: Mapping[str, str], first_model: str | None,
                seen: set[str]) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return _error("invalid_json_line", "This line is not parseable as valid JSON.", n)
    for key in _REQUIRED:
        expected = dict if key == "body" else str
        if not isinstance(obj.get(key), expected):
            return _error("invalid_request", f"Missing required parameter: '{key}'.", n, key)
    if obj["method"] != "POST":
        return _error("invalid_request", f"Invalid method '{obj['method']}': only POST is supported.", n, "method")
    if obj["url"] != endpoint:
        return _error("url_mismatch", "The URL provided for this request does not match the batch endpoint.", n, "url")
    if obj["custom_id"] in seen:
        return _error("duplicate_custom_id", "The custom_id for this request is a duplicate of another request. "
                      "The custom_id parameter must be unique for each request in a batch.", n, "custom_id")
    seen.add(obj["custom_id"])
    model = obj["body"].get("model")
    if not isinstance(model, str):
        return _error("invalid_request", "Missing required parameter: 'body.model'.", n, "body.model")
    if model not in models:
        return _error("model_not_found", f"The provided model '{model}' is not supported by the Batch API.", n,
                      "body.model")
    if first_model is not None and model != first_model:
        return _error("model_mismatch", "The provided model does not match the model of other requests in the "
                      "batch: a batch file may use only one model.", n, "body.model")
    return None


def check_file(lines: Iterable[bytes], endpoint: str, models: Mapping[str, str], max_requests: int) -> FileCheck:
    """Check the non-blank `lines` of a batch's input file for a batch on `endpoint`."""
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    first_model: str | None = None
    count = 0
    for count, raw in enumerate(lines, start=1):
        if len(errors) >= MAX_REPORTED or (max_requests and count > max_requests):
            continue  # only counted: past the limit the verdict is `too_many_tasks` whatever the lines hold
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        found = _line_error(obj, count, endpoint, models, first_model, seen)
        if found is not None:
            errors.append(found)
        elif first_model is None:
            first_model = str(obj["body"]["model"]) if isinstance(obj, dict) else None
    if count == 0:
        return FileCheck([_error("empty_file", "The batch input file is empty.")], None)
    if max_requests and count > max_requests:
        return FileCheck([_error("too_many_tasks", f"The batch input file contains {count} requests, which exceeds "
                                 f"the limit of {max_requests} requests per batch.")], None)
    return FileCheck(errors, None if errors else first_model)

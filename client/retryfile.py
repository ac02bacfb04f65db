"""A retry file: the input lines of the requests that landed in a batch's error file.

Error lines carry only `custom_id` (and a request id the input file does not have), so the input
lines are matched by `custom_id`. With duplicate ids, as many input lines are taken, in order, as
there are failures with that id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from client.errors import BatchFileError
from client.models import parse_record

TEMPLATE_KEYS = ("custom_id", "method", "url", "body")
# OpenAI's error-file lines carry the response itself: a 4xx other than these says the request is wrong
RETRIABLE_CLIENT_STATUSES = frozenset({408, 409, 429})


def not_worth_retrying(error_line: Mapping[str, Any]) -> str | None:
    """Why resubmitting this failed request would fail the same way, or None if a retry may help.

    Doubleword's `FailureReason` of type `NonRetriableHttpStatus` (the model refused the request
    itself, e.g. a 400 for a bad parameter: the service did not retry it either); or, in OpenAI's
    form, a line whose response is a 4xx other than 408, 409 and 429. The reason is its type and
    status, e.g. `NonRetriableHttpStatus 400`."""
    error = error_line.get("error")
    message = error.get("message") if isinstance(error, Mapping) else None
    if isinstance(message, str):
        reason = parse_record(message)
        if reason.get("type") == "NonRetriableHttpStatus":
            details = reason.get("details")
            status = details.get("status") if isinstance(details, Mapping) else None
            return f"NonRetriableHttpStatus {status}" if isinstance(status, int) else "NonRetriableHttpStatus"
        return None
    response = error_line.get("response")
    status = response.get("status_code") if isinstance(response, Mapping) else None
    if isinstance(status, int) and 400 <= status < 500 and status not in RETRIABLE_CLIENT_STATUSES:
        return f"HTTP {status}"
    return None


def failed_ids(error_lines: Iterable[Mapping[str, Any]]) -> list[str]:
    """The `custom_id` of every error line, in error-file order."""
    ids: list[str] = []
    for number, line in enumerate(error_lines, 1):
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str):
            raise BatchFileError(f"error line {number} has no custom_id; it cannot be matched to its request")
        ids.append(custom_id)
    return ids


def retry_lines(
    input_lines: Iterable[Mapping[str, Any]], error_lines: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The input lines to send again, in input order, as `{custom_id, method, url, body}`."""
    wanted = Counter(failed_ids(error_lines))
    chosen: list[dict[str, Any]] = []
    for line in input_lines:
        custom_id = line.get("custom_id")
        if isinstance(custom_id, str) and wanted[custom_id] > 0:
            wanted[custom_id] -= 1
            chosen.append({key: line[key] for key in TEMPLATE_KEYS if key in line})
    missing = sorted(+wanted)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise BatchFileError(f"{sum(wanted.values())} failed requests are not in the input file: {shown}")
    return chosen

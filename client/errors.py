"""The exceptions the client raises, and how an HTTP error response becomes one.

The live service answers most errors with a `text/plain` message, 429/503 (and 409) with JSON
`{"error": "...", "message": "...", "retry_after_seconds": N}`, and `/models` with the OpenAI
envelope `{"error": {"message", "type", "code"}}`. Every shape ends up as an `APIStatusError`
subclass chosen by status code, keeping the status, the server's message and the raw body.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import orjson


class DoublewordError(Exception):
    """Base of every error this client raises."""


class ConfigurationError(DoublewordError):
    """Missing or malformed configuration (API key, base URL)."""


class BatchFileError(DoublewordError, ValueError):
    """A batch file that the service would reject, found before uploading it."""


class APIConnectionError(DoublewordError):
    """The server could not be reached, or the connection broke before a full answer."""


class WaitTimeoutError(DoublewordError):
    """`wait()` ran out of time; `batch` holds the last state seen."""

    def __init__(self, message: str, batch: Any) -> None:
        super().__init__(message)
        self.batch = batch


class APIStatusError(DoublewordError):
    """The server answered with an error status. `message` is its message, whatever the body's format."""

    def __init__(
        self, status_code: int, message: str, *, body: str = "", code: str | None = None,
        retry_after: float | None = None, method: str = "", url: str = "",
    ) -> None:
        super().__init__(f"{status_code} {message}")
        self.status_code = status_code
        self.message = message
        self.body = body
        self.code = code
        self.retry_after = retry_after
        self.method = method
        self.url = url


class BadRequestError(APIStatusError):
    """400: a malformed request, an invalid id, a rejected batch file line."""


class AuthenticationError(APIStatusError):
    """401: missing or unknown API key."""


class PaymentRequiredError(APIStatusError):
    """402: balance too low or spending cap reached."""


class PermissionDeniedError(APIStatusError):
    """403: a model not available to this key, or another user's file."""


class NotFoundError(APIStatusError):
    """404: no such file or batch (or not yours)."""


class ConflictError(APIStatusError):
    """409."""


class PayloadTooLargeError(APIStatusError):
    """413: the upload is over the service's size limit."""


class UnsupportedMediaTypeError(APIStatusError):
    """415."""


class UnprocessableEntityError(APIStatusError):
    """422: a request body with a missing field or wrong type."""


class RateLimitError(APIStatusError):
    """429: too many uploads in progress, or no capacity; see `retry_after`."""


class InternalServerError(APIStatusError):
    """5xx."""


class ServiceUnavailableError(InternalServerError):
    """503: temporarily unavailable; see `retry_after`."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError, 401: AuthenticationError, 402: PaymentRequiredError, 403: PermissionDeniedError,
    404: NotFoundError, 409: ConflictError, 413: PayloadTooLargeError, 415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError, 429: RateLimitError, 503: ServiceUnavailableError,
}


def error_class(status_code: int) -> type[APIStatusError]:
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    return InternalServerError if status_code >= 500 else APIStatusError


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def message_and_code(text: str) -> tuple[str, str | None, dict[str, Any] | None]:
    """The human message and machine code in an error body, plain text or any of the JSON shapes."""
    obj = _json_object(text)
    if obj is None:
        return text.strip(), None, None
    error = obj.get("error")
    if isinstance(error, dict):  # OpenAI envelope
        code = error.get("code") or error.get("type")
        return str(error.get("message") or text.strip()), None if code is None else str(code), obj
    code = error if isinstance(error, str) else None
    message = obj.get("message")
    return (str(message) if message is not None else code or text.strip()), code, obj


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The exception for an error response (its body must have been read)."""
    text = response.text
    message, code, obj = message_and_code(text)
    if not message:
        message = response.reason_phrase or "error"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is None and obj is not None and isinstance(obj.get("retry_after_seconds"), int | float):
        retry_after = float(obj["retry_after_seconds"])
    try:
        method, url = response.request.method, str(response.request.url)
    except RuntimeError:  # a response built by hand, without its request
        method, url = "", ""
    return error_class(response.status_code)(
        response.status_code, message, body=text, code=code, retry_after=retry_after, method=method, url=url,
    )

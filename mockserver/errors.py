"""The error types of the emulated API, each carrying the live service's status code and body.

Domain code raises these where a rule lives; `app.py` turns them into responses in one place.
Nothing here knows about routes. Bodies follow the live server (dwctl `errors.rs`): most errors are
a plain-text message; 429 and 503 are a small JSON object with `Retry-After`; `GET /models` uses the
OpenAI `{"error": {...}}` envelope.
"""

from __future__ import annotations

import orjson

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


class ApiError(Exception):
    """An error answered to the client. Subclasses fix the status and the body's shape."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def content_type(self) -> str:
        return TEXT

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> bytes:
        return self.message.encode()


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message)


class PaymentRequired(ApiError):
    status = 402


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404

    def __init__(self, resource: str, ident: str) -> None:
        super().__init__(f"{resource} with ID {ident} not found")


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class Unprocessable(ApiError):
    status = 422


class InternalError(ApiError):
    status = 500

    def __init__(self, message: str = "Internal server error") -> None:
        super().__init__(message)


class _RetryLater(ApiError):
    """429 and 503: JSON `{"error", "message", "retry_after_seconds": 30}` plus `Retry-After`."""

    code = ""
    retry_after = "30"

    @property
    def content_type(self) -> str:
        return JSON

    @property
    def headers(self) -> dict[str, str]:
        return {"retry-after": self.retry_after}

    def body(self) -> bytes:
        return orjson.dumps({"error": self.code, "message": self.message, "retry_after_seconds": 30})


class TooManyRequests(_RetryLater):
    status = 429
    code = "too_many_requests"
    retry_after = "60"  # live sends 60 in the header and 30 in the body


class ServiceUnavailable(_RetryLater):
    status = 503
    code = "service_unavailable"


class OpenAIStyleError(ApiError):
    """The OpenAI envelope, used by `GET /models` only."""

    def __init__(self, status: int, message: str, error_type: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.code = code

    @property
    def content_type(self) -> str:
        return JSON

    def body(self) -> bytes:
        error = {"message": self.message, "type": self.error_type, "param": None, "code": self.code}
        return orjson.dumps({"error": error})

"""The error types of the emulated API, each carrying the live service's status code and body.

Domain code raises these where a rule lives; `app.py` turns them into responses in one place (its
exception table: `ApiError` -> the profile's rendering, anything else -> 500). Nothing here knows
about routes. Bodies follow the live server (dwctl `errors.rs`): most errors are a plain-text
message; 429 and 503 are a small JSON object with `Retry-After`; `GET /models` uses the OpenAI
`{"error": {...}}` envelope; the realtime routes answer as the live inference proxy does.

The whole tree (`*`: defined elsewhere, where its rule lives):

* ApiError                      500, text; the OpenAI profile re-envelopes all but the last two
  + BadRequest                  400
  |   + ClockError*             domain/clock.py: a clock move it cannot honour (also a ValueError)
  |   + ClockNotManual*         domain/control.py: moving a clock that is not manual
  |   + ScenarioError*          domain/faults.py: a fault scenario that does not parse (also a ValueError)
  + Unauthorized                401 (`openai_code` invalid_api_key)
  + PaymentRequired             402
  + Forbidden                   403
  + NotFound                    404 "{resource} with ID {id} not found"
  + PayloadTooLarge             413
  + UnsupportedMediaType        415
  + Unprocessable               422 (400 under the OpenAI profile)
  + InternalError               500 "Internal server error": what an unexpected exception becomes
  + _RetryLater                 JSON {"error", "message", "retry_after_seconds"} + Retry-After
  |   + TooManyRequests         429 (Retry-After: 60)
  |   + ServiceUnavailable      503 (Retry-After: 30)
  + OpenAIStyleError            any status, the OpenAI envelope (`GET /models`); sent as is under both profiles
  + ProxyError                  any status, a JSON body sent exactly as given under both profiles: every
                                failure of the realtime routes (`domain/realtime.py`), as the inference
                                proxy answers it (its own envelope, or the upstream's body as it came)

Not in the tree, because no client sees them as such: `domain.nesting.TooDeep` (a ValueError; each
reader of a client's JSON wraps its detail in that route's own message) and the start-up errors of
the command line (`CassetteError`, `ScenarioError` again, ...), which end the process with a message.
"""

from __future__ import annotations

from typing import Any

import orjson

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


class ApiError(Exception):
    """An error answered to the client. Subclasses fix the status and the body's shape.

    Under the OpenAI profile (`mockserver.profile`) the same error is rendered in OpenAI's envelope:
    `openai_message` (when set) replaces the Doubleword wording, `param` and `openai_code` fill the
    envelope's `param` and `code`, `openai_status` (when set) replaces the status.
    """

    status = 500
    openai_status: int | None = None
    openai_code: str | None = None

    def __init__(self, message: str, *, openai_message: str | None = None, param: str | None = None,
                 openai_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.openai_message = openai_message
        self.param = param
        if openai_code is not None:
            self.openai_code = openai_code

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
    openai_code = "invalid_api_key"

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message, openai_message="Incorrect API key provided.")


class PaymentRequired(ApiError):
    status = 402


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404

    def __init__(self, resource: str, ident: str) -> None:
        super().__init__(f"{resource} with ID {ident} not found", openai_message=f"No such {resource} object: {ident}")


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class Unprocessable(ApiError):
    status = 422
    openai_status = 400  # OpenAI answers a malformed JSON body with 400


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
    openai_code = "rate_limit_exceeded"
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


class ProxyError(ApiError):
    """A failure on the realtime routes, answered as the live inference proxy answers it: `status` and
    the JSON object `payload`, byte for byte, under either profile."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        super().__init__(message if isinstance(message, str) else orjson.dumps(payload).decode())
        self.status = status
        self.payload = payload

    @property
    def content_type(self) -> str:
        return JSON

    def body(self) -> bytes:
        return orjson.dumps(self.payload)


def openai_type(status: int) -> str:
    """The envelope's `type` for a status, as OpenAI's API uses them."""
    if status == 429:
        return "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_envelope(error: ApiError) -> tuple[int, bytes]:
    """`error` in OpenAI's `{"error": {message, type, param, code}}` envelope, and its status."""
    if isinstance(error, OpenAIStyleError | ProxyError):  # already in their final shape
        return error.status, error.body()
    status = error.openai_status or error.status
    body = {
        "message": error.openai_message or error.message, "type": openai_type(status), "param": error.param,
        "code": error.openai_code,
    }
    return status, orjson.dumps({"error": body})


class StorageFull(InternalError):
    """The data folder's disk is full (an upload's body, or SQLite, could not be written): nothing of
    the request was stored. Live answers a failed store like any internal error (dwctl `errors.rs`:
    `Error::Internal` is 500 "Internal server error"; the file and batch create handlers map their
    storage errors to it); `reason` (the OS's or SQLite's words) goes to the server's log only."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = " ".join(reason.split())  # one line in the log, whatever the cause says

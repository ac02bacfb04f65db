"""The error types carry the live statuses and bodies (dwctl `errors.rs` IntoResponse)."""

from __future__ import annotations

import orjson
import pytest

from mockserver.errors import NotFound, OpenAIStyleError, ServiceUnavailable, TooManyRequests


def test_most_errors_are_plain_text() -> None:
    error = NotFound("File", "abc")
    assert (error.status, error.body(), error.content_type) == (404, b"File with ID abc not found",
                                                                 "text/plain; charset=utf-8")


def test_429_is_json_with_retry_after_60_and_30_in_the_body() -> None:
    error = TooManyRequests("Too many file uploads in progress. Please retry later.")
    assert error.status == 429
    assert error.headers == {"retry-after": "60"}
    assert orjson.loads(error.body()) == {"error": "too_many_requests", "retry_after_seconds": 30,
                                          "message": "Too many file uploads in progress. Please retry later."}


def test_503_is_json_with_retry_after_30() -> None:
    error = ServiceUnavailable("busy")
    assert (error.status, error.headers) == (503, {"retry-after": "30"})
    assert orjson.loads(error.body())["error"] == "service_unavailable"


def test_models_errors_use_the_openai_envelope() -> None:
    error = OpenAIStyleError(401, "Invalid API key", "authentication_error", "invalid_api_key")
    assert orjson.loads(error.body()) == {"error": {"message": "Invalid API key", "type": "authentication_error",
                                                    "param": None, "code": "invalid_api_key"}}


def test_proxy_errors_are_sent_as_given_under_both_profiles() -> None:
    from mockserver.errors import ProxyError, openai_envelope

    payload = {"error": {"message": "upstream says no", "type": "x", "param": None, "code": 7}, "extra": [1]}
    error = ProxyError(418, payload)
    assert (error.status, error.content_type, error.headers, error.message) == (418, "application/json", {},
                                                                                "upstream says no")
    assert error.body() == orjson.dumps(payload)
    assert openai_envelope(error) == (418, orjson.dumps(payload))  # not wrapped in a second envelope


def test_the_domains_refusals_are_bad_requests_with_their_message() -> None:
    from mockserver.domain.clock import ClockError
    from mockserver.domain.faults import ScenarioError, parse_scenario
    from mockserver.errors import BadRequest

    with pytest.raises(ScenarioError) as scenario:
        parse_scenario({"requests": 1})
    for error in (scenario.value, ClockError("the time must be a finite number")):
        assert isinstance(error, BadRequest) and isinstance(error, ValueError)
        assert (error.status, error.body()) == (400, str(error).encode())

"""The client's HTTP behaviour against stubbed responses (httpx MockTransport): error bodies in every
shape, what is retried and how long it waits, pagination cursors, and reads that break mid-stream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from client import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DoublewordClient,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
)
from client.errors import ConfigurationError, parse_retry_after

BASE = "https://api.example.test/v1"
FILE_ID = "5f2d8a8e-5a1c-4b55-9d32-0d8f0c1d2e3f"
BATCH: dict[str, Any] = {"id": "0b7e3c8e-2f0a-4a8e-9d1b-6c1f7e2a9b10", "object": "batch", "status": "validating",
         "endpoint": "/v1/chat/completions", "input_file_id": FILE_ID, "completion_window": "24h",
         "request_counts": {"total": 1, "completed": 0, "failed": 0}}
LINE = b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}\n'


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


Handler = Callable[[httpx.Request], httpx.Response]


def stub(handler: Handler, clock: FakeClock, **kwargs: Any) -> DoublewordClient:
    return DoublewordClient(api_key="k", base_url=BASE, clock=clock, transport=httpx.MockTransport(handler), **kwargs)


def replies(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering `responses` in turn, and the requests it saw."""
    seen: list[httpx.Request] = []
    queue = iter(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(queue)

    return handler, seen


def too_many(retry_after: str | None = "7") -> httpx.Response:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return httpx.Response(429, headers=headers, json={"error": "too_many_requests", "message": "slow down",
                                                      "retry_after_seconds": 30})


@pytest.mark.parametrize(("response", "kind", "message", "code"), [
    (httpx.Response(404, text=f"File with ID {FILE_ID} not found"), NotFoundError,
     f"File with ID {FILE_ID} not found", None),
    (httpx.Response(400, text="Invalid file ID format", headers={"content-type": "text/plain; charset=utf-8"}),
     BadRequestError, "Invalid file ID format", None),
    (httpx.Response(403, text="Line 2: Model 'x' has not been configured or is not available to user"),
     PermissionDeniedError, "Line 2: Model 'x' has not been configured or is not available to user", None),
    (httpx.Response(503, json={"error": "service_unavailable", "message": "database busy", "retry_after_seconds": 30}),
     ServiceUnavailableError, "database busy", "service_unavailable"),
    (httpx.Response(401, json={"error": {"message": "Missing API key", "type": "invalid_request_error",
                                         "code": "missing_authorization"}}),
     AuthenticationError, "Missing API key", "missing_authorization"),
    (httpx.Response(409, json={"message": "already exists", "resource": "file"}), ConflictError, "already exists",
     None),
    (httpx.Response(500, text=""), InternalServerError, "Internal Server Error", None),
])
def test_error_bodies_become_exceptions(response: httpx.Response, kind: type[APIStatusError], message: str,
                                        code: str | None) -> None:
    handler, _ = replies(response)
    with pytest.raises(kind) as caught, stub(handler, FakeClock(), retry=RetryPolicy(max_retries=0)) as dw:
        dw.get_file(FILE_ID)
    assert caught.value.status_code == response.status_code
    assert caught.value.message == message
    assert caught.value.code == code
    assert caught.value.method == "GET" and caught.value.url.endswith(f"/files/{FILE_ID}")


def test_429_is_retried_after_retry_after() -> None:
    clock = FakeClock()
    handler, seen = replies(too_many("7"), httpx.Response(200, json=BATCH))
    with stub(handler, clock) as dw:
        assert dw.get_batch(BATCH["id"]).status == "validating"
    assert len(seen) == 2
    assert clock.slept == [7.0]  # the header, not the body's retry_after_seconds


def test_503_is_retried_with_backoff_and_the_retries_are_bounded() -> None:
    clock = FakeClock()
    busy = httpx.Response(503, json={"error": "service_unavailable", "message": "busy"})
    handler, seen = replies(*[busy] * 4)
    with pytest.raises(ServiceUnavailableError), stub(handler, clock, retry=RetryPolicy(max_retries=3)) as dw:
        dw.cancel_batch(BATCH["id"])
    assert len(seen) == 4
    assert clock.slept == [1.0, 2.0, 4.0]


def test_a_retry_after_longer_than_allowed_is_not_waited_for() -> None:
    clock = FakeClock()
    handler, seen = replies(too_many("3600"))
    with pytest.raises(RateLimitError) as caught, stub(handler, clock, retry=RetryPolicy(max_wait=120)) as dw:
        dw.get_batch(BATCH["id"])
    assert caught.value.retry_after == 3600 and clock.slept == [] and len(seen) == 1


def test_uploads_and_batch_creation_are_not_retried_when_they_may_have_happened() -> None:
    clock = FakeClock()
    busy = httpx.Response(503, json={"error": "service_unavailable", "message": "busy"})
    handler, seen = replies(busy, busy)
    with stub(handler, clock) as dw:
        with pytest.raises(ServiceUnavailableError):
            dw.upload_file(LINE)
        with pytest.raises(ServiceUnavailableError):
            dw.create_batch(FILE_ID)
    assert [r.method for r in seen] == ["POST", "POST"] and clock.slept == []


def test_uploads_are_not_retried_after_a_dropped_connection() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadError("connection reset", request=request)

    with pytest.raises(APIConnectionError), stub(handler, FakeClock()) as dw:
        dw.upload_file(LINE)
    assert len(calls) == 1


def test_a_refused_upload_429_is_retried_since_nothing_was_stored() -> None:
    clock = FakeClock()
    created = {"id": FILE_ID, "object": "file", "bytes": len(LINE), "created_at": 1, "filename": "b.jsonl",
               "purpose": "batch"}
    handler, seen = replies(too_many("2"), httpx.Response(201, json=created))
    with stub(handler, clock) as dw:
        assert dw.upload_file(LINE, filename="b.jsonl").id == FILE_ID
    assert len(seen) == 2 and clock.slept == [2.0]
    assert b'filename="b.jsonl"' in seen[1].read() and b'name="purpose"' in seen[1].content


def test_reads_are_retried_after_a_dropped_connection() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=BATCH)

    clock = FakeClock()
    with stub(handler, clock) as dw:
        assert dw.get_batch(BATCH["id"]).id == BATCH["id"]
    assert len(calls) == 2 and clock.slept == [1.0]


def test_retry_after_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_missing_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOUBLEWORD_API_KEY", raising=False)
    with pytest.raises(ConfigurationError):
        DoublewordClient(base_url=BASE)


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOUBLEWORD_API_KEY", "env-key")
    monkeypatch.setenv("DOUBLEWORD_BASE_URL", "http://127.0.0.1:8000")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=BATCH)

    with DoublewordClient(transport=httpx.MockTransport(handler)) as dw:
        dw.get_batch(BATCH["id"])
    assert str(seen[0].url) == f"http://127.0.0.1:8000/v1/batches/{BATCH['id']}"
    assert seen[0].headers["authorization"] == "Bearer env-key"
    monkeypatch.delenv("DOUBLEWORD_BASE_URL")
    assert DoublewordClient().base_url == "https://api.doubleword.ai/v1"


def pages(total: int, size: int, *, last_id: bool, has_more_key: bool = True) -> Handler:
    """A list route over `total` items; the cursor is `after`, answered with or without `last_id`."""
    items = [{"id": f"id-{i:03d}", "object": "batch", "status": "completed"} for i in range(total)]

    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), 0)
        data = items[start:start + size]
        body: dict[str, Any] = {"object": "list", "data": data}
        if has_more_key:
            body["has_more"] = start + size < total
        if last_id and data:
            body["first_id"], body["last_id"] = data[0]["id"], data[-1]["id"]
        return httpx.Response(200, json=body)

    return handler


@pytest.mark.parametrize("with_last_id", [True, False])
def test_lists_follow_the_cursor_until_has_more_is_false(with_last_id: bool) -> None:
    with stub(pages(7, 3, last_id=with_last_id), FakeClock()) as dw:
        ids = [b.id for b in dw.list_batches(page_size=3)]
    assert ids == [f"id-{i:03d}" for i in range(7)]


def test_a_list_that_ignores_its_cursor_does_not_loop_forever() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": [{"id": "a"}, {"id": "b"}], "has_more": True,
                                         "first_id": "a", "last_id": "b"})

    with stub(handler, FakeClock()) as dw:
        assert [f.id for f in dw.list_files()] == ["a", "b"]


class Growing:
    """An output file that gains lines over (fake) time, served like the live content route; the first
    unlimited read of each stream is cut after `cut_after` lines by a dropped connection."""

    def __init__(self, clock: FakeClock, total: int, per_second: int, cut_after: int | None = None) -> None:
        self.clock, self.total, self.per_second, self.cut_after = clock, total, per_second, cut_after
        self.skips: list[int] = []

    def available(self) -> int:
        return min(self.total, int(self.clock.now() * self.per_second))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(BATCH["id"]):
            ended = self.available() == self.total
            return httpx.Response(200, json={**BATCH, "status": "completed" if ended else "in_progress",
                                             "output_file_id": FILE_ID})
        skip = int(request.url.params.get("skip", "0"))
        self.skips.append(skip)
        limit = request.url.params.get("limit")
        end = self.available() if limit is None else min(self.available(), skip + int(limit))
        lines = [orjson.dumps({"custom_id": f"c{i}", "response": {"status_code": 200, "body": {}}, "error": None})
                 + b"\n" for i in range(skip, end)]
        incomplete = end < self.available() or self.available() < self.total
        headers = {"x-incomplete": "true" if incomplete else "false", "x-last-line": str(end)}
        if self.cut_after is not None and limit is None:
            cut, self.cut_after = self.cut_after, None
            return httpx.Response(200, headers=headers, stream=Broken(lines[:cut]))
        return httpx.Response(200, headers=headers, content=b"".join(lines))


class Broken(httpx.SyncByteStream):
    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def __iter__(self) -> Iterator[bytes]:
        yield from self.lines
        yield b'{"custom_id":"half'  # then the connection drops
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


@pytest.mark.parametrize("page_size", [None, 4])
def test_following_a_growing_file_yields_each_line_once(page_size: int | None) -> None:
    clock = FakeClock()
    server = Growing(clock, total=23, per_second=2, cut_after=3)
    with stub(server, clock) as dw:
        lines = list(dw.iter_results(BATCH["id"], poll_interval=1.5, page_size=page_size))
    assert [line.custom_id for line in lines] == [f"c{i}" for i in range(23)]
    assert [line.position for line in lines] == list(range(1, 24))
    assert all(b <= a for a, b in zip(server.skips[1:], server.skips, strict=False))  # positions never go back
    assert 1.5 in clock.slept


def test_a_read_that_keeps_breaking_gives_up() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params["skip"])
        fresh = [b'{"custom_id":"x%d"}\n' % skip] if skip < 3 else []  # three lines arrive, then none
        return httpx.Response(200, headers={"x-incomplete": "true"}, stream=Broken(fresh))

    clock = FakeClock()
    with stub(handler, clock, retry=RetryPolicy(max_retries=2)) as dw:
        got = []
        with pytest.raises(APIConnectionError):
            for line in dw.iter_file_lines(FILE_ID, follow=True):
                got.append((line.custom_id, line.position))
    assert got == [("x0", 1), ("x1", 2), ("x2", 3)]  # each attempt resumed after the line before
    assert clock.slept == [1.0, 1.0, 1.0, 2.0]  # progress resets the count; then 2 retries, no more

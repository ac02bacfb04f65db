"""The hot path for `GET /batches/{id}` (`FaultsAndJournal._polled_batch`) answers exactly as the
route does: same status, headers and bytes, under both profiles; errors, faults and other shapes of
path go on to the routes; every call is still journalled."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from contract_tests.helpers import chat_line, jsonl
from mockserver.testing import AsgiTarget


@pytest.fixture(params=["doubleword", "openai"])
def sim(request: pytest.FixtureRequest) -> Iterator[AsgiTarget]:
    target = AsgiTarget(["--seed", "3", "--profile", request.param])
    yield target
    target.close()


def _call(app: Any, path: str, key: str | None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One GET straight into an ASGI app (no client in between)."""
    headers = [(b"host", b"testserver")] + ([(b"authorization", f"Bearer {key}".encode())] if key else [])
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], sorted(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_the_hot_path_answers_as_the_route(sim: AsgiTarget) -> None:
    key = sim.new_key()
    with sim.client(key) as api:
        upload = api.post("/files", data={"purpose": "batch"}, files={"file": ("in.jsonl", jsonl(chat_line("a")))})
        created = api.post("/batches", json={"input_file_id": upload.json()["id"], "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h"}).json()
        sim.advance(30)
        assert api.get(f"/batches/{created['id']}").status_code == 200  # planned
    routes = sim.app.app  # type: ignore[attr-defined]  # the Starlette app inside the middleware
    paths = [f"/v1/batches/{created['id']}", "/v1/batches/" + "0" * 8, f"/v1/batches/{created['id']}/"]
    for path in paths:
        for caller in (key, sim.new_key(), None):
            via_hot_path = _call(sim.app, path, caller)
            via_route = _call(routes, path, caller)
            assert via_hot_path == via_route, (path, caller)
    assert _call(sim.app, paths[0], key)[0] == 200
    last = sim.control("GET", "/_mock/journal")["data"][-1]
    assert (last["method"], last["path"], last["status"]) == ("GET", paths[0], 200)  # journalled as ever


def test_a_fault_on_the_polled_path_still_applies(sim: AsgiTarget) -> None:
    key = sim.new_key()
    sim.control("PUT", "/_mock/faults", {"http": [{"method": "GET", "path": "/v1/batches/*", "status": 503,
                                                    "times": 1}]})
    try:
        assert _call(sim.app, "/v1/batches/whatever", key)[0] == 503
    finally:
        sim.control("DELETE", "/_mock/faults")

"""ASGI middleware on the emulated routes: HTTP faults of the scenario (status, delay, dropped
connection) and the journal of calls. The control API passes through untouched."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.api.batches import batch_json
from mockserver.backend import Backend
from mockserver.domain.faults import HttpRule
from mockserver.errors import ApiError, ServiceUnavailable, TooManyRequests

EMULATED = ("/v1/", "/ai/v1/")


class _Truncated(Exception):
    """Stops the app once a truncated answer's connection is closed."""


class DroppedConnection(ConnectionError):
    """Raised in-process (no socket to close) where a scenario drops a connection."""


def fault_error(rule: HttpRule) -> ApiError:
    """The live body for a status: 429 and 503 JSON with `retry_after_seconds`, others plain text."""
    assert rule.status is not None
    error: ApiError
    if rule.status == 429:
        error = TooManyRequests("Simulated fault: too many requests. Please retry later.")
    elif rule.status == 503:
        error = ServiceUnavailable("Simulated fault: service temporarily unavailable.")
    else:
        error = ApiError("Internal server error" if rule.status == 500 else f"Simulated fault: HTTP {rule.status}")
        error.status = rule.status
    if rule.retry_after is not None and isinstance(error, TooManyRequests | ServiceUnavailable):
        error.retry_after = f"{rule.retry_after:g}"
    return error


def _close_transport(send: Send) -> bool:
    """Close the client's connection under uvicorn (its `send` is bound to the request cycle)."""
    transport: Any = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.close()
    return True


class FaultsAndJournal:
    def __init__(self, app: ASGIApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend
        self._batch_paths = tuple(prefix + "/batches/" for prefix in backend.profile.prefixes)

    async def _polled_batch(self, scope: Scope, path: str, send: Send) -> bool:
        """The hot path: `GET <prefix>/batches/{id}`, the call clients poll, answered here without
        Starlette's routing, request and response objects (the same body and headers as the route).
        Anything but a 200 (an error to render) goes on to the routes: False."""
        for head in self._batch_paths:
            if path.startswith(head):
                batch_id = path[len(head):]
                break
        else:
            return False
        if not batch_id or "/" in batch_id:
            return False
        auth = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        try:
            body = await batch_json(self.backend, auth, batch_id)
        except ApiError:
            return False
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(EMULATED):
            await self.app(scope, receive, send)
            return
        backend = self.backend
        method = scope["method"]
        started, arrived = time.perf_counter(), backend.now()
        rule = backend.faults.http_fault(method, path) if backend.faults.scenario.http else None
        status: list[int | None] = [None]
        fault = None

        left = [rule.truncate if rule is not None and rule.truncate is not None else -1]

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif left[0] >= 0 and message["type"] == "http.response.body":  # a truncated download
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) < left[0] or (len(body) == left[0] and not more):  # the cut is not reached
                    left[0] -= len(body)
                    await send(message)
                    return
                await send({"type": "http.response.body", "body": body[: left[0]], "more_body": True})
                if not _close_transport(send):
                    raise DroppedConnection("download truncated by the scenario")
                raise _Truncated
            await send(message)

        try:
            if rule is None and method == "GET" and await self._polled_batch(scope, path, recording_send):
                return
            if rule is not None and rule.delay_ms:
                fault = f"delay {rule.delay_ms:g} ms"
                await asyncio.sleep(rule.delay_ms / 1000)
            if rule is not None and rule.drop:
                fault = "drop"
                if not _close_transport(send):
                    raise DroppedConnection("connection dropped by the scenario")
                return
            if rule is not None and rule.status is not None:
                fault = f"status {rule.status}"
                error = fault_error(rule)
                code, body, content_type = backend.profile.render_error(error)
                headers = [(b"content-type", content_type.encode())]
                headers += [(k.encode(), v.encode()) for k, v in error.headers.items()]
                await recording_send({"type": "http.response.start", "status": code, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            if rule is not None and rule.truncate is not None:
                fault = f"truncate {rule.truncate} bytes"
            await self.app(scope, receive, recording_send)
        except _Truncated:
            return
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            duration = (time.perf_counter() - started) * 1000
            backend.journal.add((arrived, method, path, query, status[0], fault, round(duration, 3)))

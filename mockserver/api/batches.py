"""`/batches` routes: create, list, retrieve, cancel, delete, results, analytics, retry."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.api.common import (
    backend,
    bounded_body,
    caller,
    content_response,
    datetime_param,
    int_param,
    json_response,
    uuid_param,
)
from mockserver.backend import Backend
from mockserver.domain.batches import ListFilters, includes_analytics
from mockserver.domain.nesting import TooDeep, loads
from mockserver.domain.pages import Window
from mockserver.domain.status import BatchView
from mockserver.errors import BadRequest, UnsupportedMediaType
from mockserver.render import list_object

JSON_BODY_LIMIT = 2 * 1024 * 1024  # axum's DefaultBodyLimit, which live's JSON routes keep


async def json_body(request: Request) -> object:
    """axum's `Json` extractor: 415 without a JSON content type, 400 on a syntax error."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype == "application/json" or (ctype.startswith("application/") and ctype.endswith("+json"))):
        raise UnsupportedMediaType("Expected request with `Content-Type: application/json`")
    raw = await bounded_body(request, JSON_BODY_LIMIT, "Failed to buffer the request body: length limit exceeded")
    try:
        return loads(raw)
    except TooDeep as exc:
        raise BadRequest(f"Failed to parse the request body as JSON: {exc.detail}") from None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Failed to parse the request body as JSON: {exc.msg}: line {exc.lineno} column {exc.colno}") from None


def _batch(request: Request, view: BatchView) -> Response:
    sim = backend(request)
    return Response(sim.batch_json.get(view, True, sim.profile.render_batch), media_type="application/json")


async def create_batch(request: Request) -> Response:
    user = caller(request)
    payload = await json_body(request)
    sim = backend(request)
    view = await sim.batches.create(user.id, user.email, payload)
    return json_response(sim.profile.render_batch(view, False), status=sim.profile.create_status)


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return False
    if raw not in ("true", "false"):
        raise BadRequest(f"Failed to deserialize query string: {name}: provided string was not `true` or `false`")
    return raw == "true"


async def list_batches(request: Request) -> Response:
    user = caller(request)
    q = request.query_params
    sim = backend(request)
    profile = sim.profile
    filters = None if profile.openai else ListFilters(  # OpenAI's list ignores them, unparsed
        created_after=datetime_param(request, "created_after"),
        created_before=datetime_param(request, "created_before"),
        completion_window=q.get("completion_window"), member_id=uuid_param(request, "member_id"),
        include_analytics=includes_analytics(q.get("include")),
    )
    found = await sim.batches.list_batches(
        user.id, after=q.get("after"), limit=int_param(request, "limit"), status=q.get("status"),
        search=q.get("search"), active_first=_flag(request, "active_first"), filters=filters,
    )
    analytics = found.analytics

    def render(view: BatchView) -> dict[str, Any]:
        out = profile.render_batch(view, True)
        if analytics is not None:
            out["analytics"] = analytics[view.row.id]
        return out

    return json_response(list_object(found.page.items, found.page.has_more, render, null_ids=profile.openai))


async def batch_json(sim: Backend, authorization: str | None, batch_id: str) -> bytes:
    """The body of `GET /batches/{id}`; also served by the middleware's hot path (see there)."""
    user = sim.users.from_authorization(authorization)
    view = await sim.batches.get(user.id, batch_id)
    return sim.batch_json.get(view, True, sim.profile.render_batch)


async def get_batch(request: Request) -> Response:
    body = await batch_json(backend(request), request.headers.get("authorization"), request.path_params["batch_id"])
    return Response(body, media_type="application/json")


async def cancel_batch(request: Request) -> Response:
    user = caller(request)
    return _batch(request, await backend(request).batches.cancel(user.id, request.path_params["batch_id"]))


async def delete_batch(request: Request) -> Response:
    user = caller(request)
    await backend(request).batches.delete(user.id, request.path_params["batch_id"])
    return Response(status_code=204)


async def batch_results(request: Request) -> Response:
    user = caller(request)
    q = request.query_params
    window = Window.of(int_param(request, "skip"), int_param(request, "limit"), q.get("search"))
    content = await backend(request).batches.results(user.id, request.path_params["batch_id"], window, q.get("status"))
    return content_response(content)


async def batch_analytics(request: Request) -> Response:
    user = caller(request)
    return json_response(await backend(request).batches.analytics(user.id, request.path_params["batch_id"]))


async def retry_batch(request: Request) -> Response:
    user = caller(request)
    return _batch(request, await backend(request).batches.retry(user.id, request.path_params["batch_id"]))


async def retry_requests(request: Request) -> Response:
    user = caller(request)
    batches = backend(request).batches
    batches.check_batch_id(request.path_params["batch_id"])
    payload = await json_body(request)
    return _batch(request, await batches.retry_requests(user.id, request.path_params["batch_id"], payload))


routes = [
    Route("/batches/{batch_id}", get_batch, methods=["GET"]),  # first: clients poll it
    Route("/batches", create_batch, methods=["POST"]),
    Route("/batches", list_batches, methods=["GET"]),
    Route("/batches/{batch_id}/cancel", cancel_batch, methods=["POST"]),
]
extension_routes = [  # Doubleword's own (not served under the OpenAI profile)
    Route("/batches/{batch_id}", delete_batch, methods=["DELETE"]),
    Route("/batches/{batch_id}/results", batch_results, methods=["GET"]),
    Route("/batches/{batch_id}/analytics", batch_analytics, methods=["GET"]),
    Route("/batches/{batch_id}/retry", retry_batch, methods=["POST"]),
    Route("/batches/{batch_id}/retry-requests", retry_requests, methods=["POST"]),
]

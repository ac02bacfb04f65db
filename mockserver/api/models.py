"""`GET /models`, and `GET /models/{id}` as the inference proxy answers it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.api.common import backend, json_response
from mockserver.domain.catalog import list_models


async def get_models(request: Request) -> Response:
    sim = backend(request)
    listing = list_models(
        sim.users, sim.settings.models, request.headers.get("authorization"), dict(request.query_params)
    )
    return json_response(listing)


async def retrieve_model(request: Request) -> Response:
    """`GET /models/{id}` as live answers it through the inference proxy (see `Realtime.retrieve_model`)."""
    realtime = backend(request).realtime
    realtime.caller(request.headers.get("authorization"))
    answer = realtime.retrieve_model(request.headers.get("model-override"), await request.body())
    return json_response(answer.body, status=answer.status)


routes = [Route("/models", get_models, methods=["GET"])]
extension_routes = [Route("/models/{model_id:path}", retrieve_model, methods=["GET"])]  # Doubleword's proxy

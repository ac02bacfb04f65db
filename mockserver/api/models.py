"""`GET /models`."""

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


routes = [Route("/models", get_models, methods=["GET"])]

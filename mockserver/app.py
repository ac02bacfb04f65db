"""create_app: the route table (every emulated route under `/v1` and `/ai/v1`, the control API under
`/_mock`) and the one place that turns domain errors into responses."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from mockserver import console
from mockserver.api import batches, control, files, models, realtime
from mockserver.api.middleware import FaultsAndJournal
from mockserver.backend import Backend
from mockserver.errors import ApiError, InternalError

log = logging.getLogger("mockserver")

EMULATED_PREFIXES = ("/v1", "/ai/v1")


def emulated_routes() -> list[BaseRoute]:
    return [*batches.routes, *files.routes, *models.routes, *realtime.routes]  # the most polled first


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return Response(exc.body(), status_code=exc.status, media_type=exc.content_type, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    error = InternalError()
    return Response(error.body(), status_code=error.status, media_type=error.content_type)


def create_app(backend: Backend) -> ASGIApp:
    """The ASGI app: the Starlette routes inside the faults-and-journal middleware (outermost, so that
    a scenario can drop a connection under uvicorn)."""
    # flat, not mounted: one routing level less on every call (the most polled route comes first)
    routes: list[BaseRoute] = [
        Route(prefix + route.path, route.endpoint, methods=route.methods)
        for prefix in EMULATED_PREFIXES
        for route in emulated_routes()
        if isinstance(route, Route)
    ]
    routes += control.routes
    routes += console.routes  # the web console at /console, and / redirecting there
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await backend.start()
        yield

    app = Starlette(
        routes=routes, exception_handlers={ApiError: _api_error, Exception: _unexpected}, lifespan=lifespan
    )
    app.state.backend = backend
    return FaultsAndJournal(app, backend)

"""create_app: the route table (every emulated route under `/v1` and `/ai/v1`, the control API under
`/_mock`) and the one place that turns domain errors into responses."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from mockserver import console
from mockserver.api import batches, control, files, models, realtime
from mockserver.api.middleware import FaultsAndJournal
from mockserver.backend import Backend
from mockserver.dialect import DOUBLEWORD, Dialect
from mockserver.errors import ApiError, InternalError, NotFound, StorageFull

log = logging.getLogger("mockserver")

EMULATED_PREFIXES = ("/v1", "/ai/v1")


def emulated_routes(profile: Dialect = DOUBLEWORD) -> list[BaseRoute]:
    routes: list[BaseRoute] = [*batches.routes, *files.routes, *models.routes, *realtime.routes]  # most polled first
    if profile.extensions:
        routes += [*batches.extension_routes, *files.extension_routes, *models.extension_routes]
    return routes


def error_response(request: Request, error: ApiError) -> Response:
    status, body, content_type = request.app.state.backend.profile.render_error(error)
    return Response(body, status_code=status, media_type=content_type, headers=error.headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


async def _storage_full(request: Request, exc: Exception) -> Response:
    """The disk is full: one log line (no traceback; the cause is known), and live's plain 500."""
    assert isinstance(exc, StorageFull)
    log.error("disk full: %s %s answered 500, nothing was stored (%s)", request.method, request.url.path, exc.reason)
    return error_response(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, InternalError())


async def _invalid_url(request: Request, exc: Exception) -> Response:
    """OpenAI profile: a path or method it does not serve."""
    error = NotFound("URL", request.url.path)
    error.openai_message = f"Invalid URL ({request.method} {request.url.path})"
    return error_response(request, error)


def create_app(backend: Backend) -> ASGIApp:
    """The ASGI app: the Starlette routes inside the faults-and-journal middleware (outermost, so that
    a scenario can drop a connection under uvicorn)."""
    # flat, not mounted: one routing level less on every call (the most polled route comes first)
    profile = backend.profile
    routes: list[BaseRoute] = [
        Route(prefix + route.path, route.endpoint, methods=route.methods)
        for prefix in profile.prefixes
        for route in emulated_routes(profile)
        if isinstance(route, Route)
    ]
    routes += control.routes
    routes += console.routes()  # the web console at /console, and / redirecting there
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await backend.start()
        yield

    handlers: dict[Any, Any] = {StorageFull: _storage_full, ApiError: _api_error, Exception: _unexpected}
    if profile.openai:
        handlers |= {404: _invalid_url, 405: _invalid_url}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.backend = backend
    return FaultsAndJournal(app, backend)

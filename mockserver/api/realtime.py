"""The realtime inference routes and the stored Responses API routes. Failures (the proxy's 401, bad
bodies, unknown responses, the model's or the upstream's errors) are `ProxyError`s raised by the
domain and rendered by the app's exception table."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.api.common import backend, json_response
from mockserver.domain.realtime import Answer, Realtime
from mockserver.domain.users import User

INFERENCE_PATHS = ("/chat/completions", "/completions", "/embeddings", "/responses", "/messages")


def _caller(request: Request) -> tuple[Realtime, User]:
    realtime = backend(request).realtime
    return realtime, realtime.caller(request.headers.get("authorization"))


def _send(answer: Answer) -> Response:
    return json_response(answer.body, status=answer.status)


def inference(path: str) -> Route:
    async def handle(request: Request) -> Response:
        realtime, user = _caller(request)  # before the body is read
        override = request.headers.get("x-mock-outcome")
        custom_id = request.headers.get("x-mock-custom-id", "")
        raw = await request.body()
        return _send(await realtime.answer(user.id, "/v1" + path, raw, override, custom_id))

    return Route(path, handle, methods=["POST"])


async def get_response(request: Request) -> Response:
    realtime, user = _caller(request)
    return _send(realtime.get(user.id, request.path_params["rid"]))


async def cancel_response(request: Request) -> Response:
    realtime, user = _caller(request)
    return _send(realtime.cancel(user.id, request.path_params["rid"]))


async def delete_response(request: Request) -> Response:
    realtime, user = _caller(request)
    return _send(realtime.delete(user.id, request.path_params["rid"]))


routes = [
    *(inference(path) for path in INFERENCE_PATHS),
    Route("/responses/{rid}", get_response, methods=["GET"]),
    Route("/responses/{rid}", delete_response, methods=["DELETE"]),
    Route("/responses/{rid}/cancel", cancel_response, methods=["POST"]),
]

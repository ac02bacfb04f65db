"""The realtime inference routes and the stored Responses API routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.api.common import backend, json_response
from mockserver.domain.realtime import UNAUTHENTICATED, Answer
from mockserver.domain.users import User
from mockserver.errors import Unauthorized

INFERENCE_PATHS = ("/chat/completions", "/completions", "/embeddings", "/responses", "/messages")


def _user(request: Request) -> User | None:
    try:
        return backend(request).users.from_authorization(request.headers.get("authorization"))
    except Unauthorized:
        return None


def _send(answer: Answer) -> Response:
    return json_response(answer.body, status=answer.status)


def inference(path: str) -> Route:
    async def handle(request: Request) -> Response:
        user = _user(request)
        if user is None:
            return _send(UNAUTHENTICATED)
        override = request.headers.get("x-mock-outcome")
        custom_id = request.headers.get("x-mock-custom-id", "")
        realtime = backend(request).realtime
        raw = await request.body()
        if realtime.upstream is not None:  # `--upstream`: the real server answers
            return _send(await realtime.answer_upstream(user.id, "/v1" + path, raw, override, custom_id))
        return _send(realtime.answer(user.id, "/v1" + path, raw, override, custom_id))

    return Route(path, handle, methods=["POST"])


async def get_response(request: Request) -> Response:
    user = _user(request)
    return _send(UNAUTHENTICATED if user is None else backend(request).realtime.get(user.id, request.path_params["rid"]))


async def cancel_response(request: Request) -> Response:
    user = _user(request)
    if user is None:
        return _send(UNAUTHENTICATED)
    return _send(backend(request).realtime.cancel(user.id, request.path_params["rid"]))


async def delete_response(request: Request) -> Response:
    user = _user(request)
    if user is None:
        return _send(UNAUTHENTICATED)
    return _send(backend(request).realtime.delete(user.id, request.path_params["rid"]))


routes = [
    *(inference(path) for path in INFERENCE_PATHS),
    Route("/responses/{rid}", get_response, methods=["GET"]),
    Route("/responses/{rid}", delete_response, methods=["DELETE"]),
    Route("/responses/{rid}/cancel", cancel_response, methods=["POST"]),
]

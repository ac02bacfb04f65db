"""The control API under `/_mock`: the clock and reset. Never part of the emulated surface."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.api.common import backend, json_response
from mockserver.domain.clock import ClockError, ManualClock
from mockserver.errors import BadRequest, Unauthorized


def _guard(request: Request) -> None:
    """With `--control-token`, only its holder may steer the simulator."""
    token = backend(request).settings.control_token
    if token is not None and request.headers.get("authorization") != f"Bearer {token}":
        raise Unauthorized("control API: a valid control token is required")


def _clock_state(request: Request) -> dict[str, Any]:
    clock = backend(request).clock
    return {"now": clock.now(), "mode": clock.mode}


async def _number(request: Request, key: str) -> float:
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadRequest(f'expected a JSON body {{"{key}": <number>}}') from None
    value = payload.get(key) if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f'expected a JSON body {{"{key}": <number>}}')
    return float(value)


def _manual(request: Request) -> ManualClock:
    clock = backend(request).clock
    if not isinstance(clock, ManualClock):
        raise BadRequest("the clock is not manual; start the simulator with --clock manual to move it")
    return clock


async def get_clock(request: Request) -> Response:
    _guard(request)
    return json_response(_clock_state(request))


async def advance_clock(request: Request) -> Response:
    _guard(request)
    clock = _manual(request)
    try:
        clock.advance(await _number(request, "seconds"))
    except ClockError as exc:
        raise BadRequest(str(exc)) from None
    return json_response(_clock_state(request))


async def set_clock(request: Request) -> Response:
    _guard(request)
    clock = _manual(request)
    try:
        clock.set(await _number(request, "now"))
    except ClockError as exc:
        raise BadRequest(str(exc)) from None
    return json_response(_clock_state(request))


async def reset(request: Request) -> Response:
    _guard(request)
    backend(request).reset()
    return json_response({"reset": True})


routes = [
    Route("/_mock/clock", get_clock, methods=["GET"]),
    Route("/_mock/clock/advance", advance_clock, methods=["POST"]),
    Route("/_mock/clock/set", set_clock, methods=["POST"]),
    Route("/_mock/reset", reset, methods=["POST"]),
]

"""The control API under `/_mock`: the clock, the fault scenario, the journal and reset. Never part of
the emulated surface; with `--control-token`, only its holder may use it."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.api.common import backend, bounded_body, json_response
from mockserver.domain.clock import ClockError, ManualClock
from mockserver.domain.faults import ScenarioError, parse_scenario
from mockserver.errors import BadRequest, Unauthorized

CONTROL_BODY_LIMIT = 1024 * 1024
TOO_LARGE = f"control API: a request body may have at most {CONTROL_BODY_LIMIT} bytes"


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
        payload = orjson.loads(await bounded_body(request, CONTROL_BODY_LIMIT, TOO_LARGE))
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


async def _move_clock(request: Request, key: str) -> Response:
    """`{"seconds": N}` advances a manual clock, `{"now": T}` sets it."""
    _guard(request)
    clock = _manual(request)
    move = clock.advance if key == "seconds" else clock.set
    try:
        move(await _number(request, key))
    except ClockError as exc:
        raise BadRequest(str(exc)) from None
    return json_response(_clock_state(request))


async def advance_clock(request: Request) -> Response:
    return await _move_clock(request, "seconds")


async def set_clock(request: Request) -> Response:
    return await _move_clock(request, "now")


async def reset(request: Request) -> Response:
    _guard(request)
    backend(request).reset()
    return json_response({"reset": True})


async def put_faults(request: Request) -> Response:
    _guard(request)
    try:
        scenario = parse_scenario(orjson.loads(await bounded_body(request, CONTROL_BODY_LIMIT, TOO_LARGE)))
    except orjson.JSONDecodeError:
        raise BadRequest("expected a JSON scenario document") from None
    except ScenarioError as exc:
        raise BadRequest(str(exc)) from None
    backend(request).faults.install(scenario)
    return json_response(scenario.document)


async def get_faults(request: Request) -> Response:
    _guard(request)
    return json_response(backend(request).faults.scenario.document)


async def delete_faults(request: Request) -> Response:
    _guard(request)
    backend(request).faults.clear()
    return json_response({})


async def get_journal(request: Request) -> Response:
    _guard(request)
    return json_response({"data": backend(request).journal.entries()})


async def delete_journal(request: Request) -> Response:
    _guard(request)
    backend(request).journal.clear()
    return json_response({"data": []})


routes = [
    Route("/_mock/faults", put_faults, methods=["PUT"]),
    Route("/_mock/faults", get_faults, methods=["GET"]),
    Route("/_mock/faults", delete_faults, methods=["DELETE"]),
    Route("/_mock/journal", get_journal, methods=["GET"]),
    Route("/_mock/journal", delete_journal, methods=["DELETE"]),
    Route("/_mock/clock", get_clock, methods=["GET"]),
    Route("/_mock/clock/advance", advance_clock, methods=["POST"]),
    Route("/_mock/clock/set", set_clock, methods=["POST"]),
    Route("/_mock/reset", reset, methods=["POST"]),
]

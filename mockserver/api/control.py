"""The control API under `/_mock`: the clock, the fault scenario, the journal and reset. Never part of
the emulated surface; with `--control-token`, only its holder may use it. Each handler reads the
request and calls the one control service (`domain.control`), which the console's panel calls too."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.api.common import backend, bounded_body, json_response
from mockserver.domain.control import Control
from mockserver.errors import BadRequest

CONTROL_BODY_LIMIT = 1024 * 1024
TOO_LARGE = f"control API: a request body may have at most {CONTROL_BODY_LIMIT} bytes"
BEARER = "Bearer "


def _control(request: Request) -> Control:
    """The control service, once the caller's `Authorization: Bearer <token>` unlocks it."""
    control = backend(request).control
    header = request.headers.get("authorization")
    control.authorize(header[len(BEARER):] if header is not None and header.startswith(BEARER) else None)
    return control


async def _document(request: Request, expected: str) -> object:
    try:
        found: object = orjson.loads(await bounded_body(request, CONTROL_BODY_LIMIT, TOO_LARGE))
    except orjson.JSONDecodeError:
        raise BadRequest(f"expected a JSON {expected}") from None
    return found


async def _number(request: Request, key: str) -> float:
    payload = await _document(request, f'body {{"{key}": <number>}}')
    value = payload.get(key) if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f'expected a JSON body {{"{key}": <number>}}')
    return float(value)


async def get_clock(request: Request) -> Response:
    return json_response(_control(request).clock_state())


async def advance_clock(request: Request) -> Response:
    """`{"seconds": N}` advances a manual clock."""
    control = _control(request)
    control.manual_clock()  # a clock that cannot move is refused before its body is read
    control.advance(await _number(request, "seconds"))
    return json_response(control.clock_state())


async def set_clock(request: Request) -> Response:
    """`{"now": T}` sets a manual clock."""
    control = _control(request)
    control.manual_clock()
    control.set_time(await _number(request, "now"))
    return json_response(control.clock_state())


async def reset(request: Request) -> Response:
    _control(request).reset()
    return json_response({"reset": True})


async def put_faults(request: Request) -> Response:
    control = _control(request)
    return json_response(control.install(await _document(request, "scenario document")).document)


async def get_faults(request: Request) -> Response:
    return json_response(_control(request).scenario())


async def delete_faults(request: Request) -> Response:
    _control(request).clear_faults()
    return json_response({})


async def get_journal(request: Request) -> Response:
    return json_response({"data": _control(request).journal_entries()})


async def delete_journal(request: Request) -> Response:
    _control(request).clear_journal()
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

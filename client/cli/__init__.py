"""The command line, `python -m client COMMAND ...`: `main` runs one command and returns its exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

import orjson

from client.cli import exits
from client.cli.commands import COMMANDS, Context
from client.cli.parser import build_parser
from client.clock import Clock
from client.errors import (
    APIConnectionError,
    APIStatusError,
    BatchFileError,
    ConfigurationError,
    DoublewordError,
    WaitTimeoutError,
)


def _fail(ctx: Context, exc: BaseException, code: int) -> int:
    status = exc.status_code if isinstance(exc, APIStatusError) else None
    message = exc.message if isinstance(exc, APIStatusError) else str(exc)
    print(f"error: {status} {message}" if status else f"error: {message}", file=ctx.err, flush=True)
    if ctx.json:
        error = {"type": type(exc).__name__, "status": status, "message": message}
        print(orjson.dumps({"error": error}).decode(), file=ctx.out, flush=True)
    return code


def main(
    argv: Sequence[str] | None = None, *, clock: Clock | None = None, stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command. `clock` replaces real time for every wait (tests pass a `SimulatorClock`)."""
    args = build_parser().parse_args(argv)
    ctx = Context(args, stdout or sys.stdout, stderr or sys.stderr, clock)
    try:
        return COMMANDS[args.command](ctx)
    except (BatchFileError, ConfigurationError, FileNotFoundError, IsADirectoryError) as exc:
        return _fail(ctx, exc, exits.USAGE)
    except WaitTimeoutError as exc:
        return _fail(ctx, exc, exits.RUNNING)
    except (APIStatusError, APIConnectionError, DoublewordError, OSError) as exc:
        return _fail(ctx, exc, exits.ERROR)
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    finally:
        ctx.close()

"""The command line, `dw-batch COMMAND ...` (or `python -m client`): `main` runs one command and
returns its exit code."""

from __future__ import annotations

import contextlib
import os
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


def _silence(out: TextIO) -> None:
    """Point a closed stdout at /dev/null, so that the interpreter's last flush at exit (of what is
    still buffered) does not raise BrokenPipeError again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, out.fileno())
        finally:
            os.close(devnull)


def main(
    argv: Sequence[str] | None = None, *, clock: Clock | None = None, stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command. `clock` replaces real time for every wait (tests pass a `SimulatorClock`).

    When stdout is closed by its reader (`dw-batch list | head -1`), the command stops quietly:
    exit 141, nothing on stderr, no traceback."""
    out = stdout or sys.stdout
    try:
        args = build_parser().parse_args(argv)  # (argparse itself is quiet on a closed pipe)
        ctx = Context(args, out, stderr or sys.stderr, clock)
        try:
            return _run(ctx)
        finally:
            ctx.close()
    except BrokenPipeError:  # whoever read stdout stopped: nothing more to say, to anyone
        _silence(out)
        return exits.PIPE_CLOSED


def _run(ctx: Context) -> int:
    try:
        return COMMANDS[ctx.args.command](ctx)
    except BrokenPipeError:
        raise
    except (BatchFileError, ConfigurationError, FileNotFoundError, IsADirectoryError) as exc:
        return _fail(ctx, exc, exits.USAGE)
    except WaitTimeoutError as exc:
        return _fail(ctx, exc, exits.RUNNING)
    except (APIStatusError, APIConnectionError, DoublewordError, OSError) as exc:
        return _fail(ctx, exc, exits.ERROR)
    except KeyboardInterrupt:
        return exits.INTERRUPTED

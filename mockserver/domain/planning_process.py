"""The planning process: big plans are made in a child `python -m mockserver.domain.planning_process`,
so that a plan runs on a core of its own and the server's event loop keeps answering polls (a thread
would share the GIL with it).

A plain child process with a pipe each way, not `multiprocessing`'s pools: those re-import the
parent's `__main__` in the child, which runs again the top-level code of any script that embeds the
simulator in-process. One job at a time: the parent sends a pickled `(function, args)` and waits for
the pickled result (or the exception it raised). The child ends when its input closes (the server
stopped) or, checking twice a second, when the server that started it is gone (killed), so it never
outlives the server nor writes a plan after a restart planned the batch again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

PARENT_CHECK = 0.5  # real seconds between the child's looks at whether the server is still there


class ProcessDied(RuntimeError):
    """The planning process ended before answering."""


class PlanningProcess:
    """The server's side: started with the first job, started again if it died. Not thread-safe: the
    planning thread is its only caller."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._receive: Connection | None = None

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` in the planning process (both picklable; `function` by module and name)."""
        send, receive = self._connections()
        try:
            send.send((function, args))
            ok, value = receive.recv()
        except (EOFError, OSError) as exc:
            self.close()
            raise ProcessDied("the planning process ended before answering") from exc
        if not ok:
            raise value
        return value

    def _connections(self) -> tuple[Connection, Connection]:
        if self._proc is None or self._proc.poll() is not None or self._send is None or self._receive is None:
            self.close()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "mockserver.domain.planning_process", str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._send = Connection(os.dup(self._proc.stdin.fileno()), readable=False)  # the connections own
            self._receive = Connection(os.dup(self._proc.stdout.fileno()), writable=False)  # the pipes now
            self._proc.stdin.close()
            self._proc.stdout.close()
        return self._send, self._receive

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def close(self) -> None:
        """Close the pipes (the child then ends) and reap it."""
        proc, connections = self._proc, (self._send, self._receive)
        self._proc, self._send, self._receive = None, None, None
        for connection in connections:
            if connection is not None:
                connection.close()
        if proc is None:
            return
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _watch(server: int) -> None:
    while os.getppid() == server:
        time.sleep(PARENT_CHECK)
    os._exit(0)


def serve(server: int) -> None:
    """The child's side: answer jobs until the input closes or the server is gone."""
    threading.Thread(target=_watch, args=(server,), name="watch-server", daemon=True).start()
    receive = Connection(os.dup(sys.stdin.fileno()), writable=False)
    send = Connection(os.dup(sys.stdout.fileno()), readable=False)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not break the channel
    while True:
        try:
            function, args = receive.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[bool, Any] = (True, function(*args))
        except Exception as exc:  # handed back to the server, which raises it there
            reply = (False, exc)
        send.send(reply)


if __name__ == "__main__":
    serve(int(sys.argv[1]))

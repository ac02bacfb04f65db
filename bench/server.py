"""The server processes the benchmarks start: each logs to a file, is stopped with SIGINT (killed after a
grace period), and a failed start raises `BenchFailed` with the end of its log."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from mockserver.testing import stop_process

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class BenchFailed(Exception):
    """A benchmark could not measure (a server did not start, a call failed)."""


def drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


class Process:
    """A server subprocess: stdout piped (to read its start line), stderr to `log_path`."""

    def __init__(self, cmd: list[str], log_path: Path) -> None:
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.log_path = log_path
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, text=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGINT, grace=30)
        self._log.close()

    def fail(self, what: str) -> BenchFailed:
        self.stop()
        return BenchFailed(f"{what}; see {self.log_path}:\n{self.log_path.read_text()[-2000:]}")


class Simulator(Process):
    """`python -m mockserver` on a free port with its own data folder: `base_url` (ends in /v1), `root`."""

    def __init__(self, data_dir: Path, log_path: Path, flags: Sequence[str] = ()) -> None:
        cmd = [sys.executable, "-m", "mockserver", "--port", "0", "--data-dir", str(data_dir),
               "--log-level", "warning", *flags]
        super().__init__(cmd, log_path)
        found: list[str] = []

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if "listening on " in line:
                    found.append(line.split("listening on ", 1)[1].split()[0].rstrip("/"))
                    break
            drain(self.proc.stdout)  # keeps the pipe from filling up

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not found and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.02)
        if not found:
            raise self.fail("simulator did not start")
        self.base_url = found[0]
        self.root = self.base_url.removesuffix("/v1")

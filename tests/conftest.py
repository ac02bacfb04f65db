"""Fixtures shared by the client tests: one simulator process (manual clock, seed 7) for the session,
and a client on it for a fresh user whose waits advance the simulator's clock instead of sleeping."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client import DoublewordClient, SimulatorClock
from contract_tests.targets import HttpTarget


@pytest.fixture(scope="session")
def sim() -> Iterator[HttpTarget]:
    target = HttpTarget()
    yield target
    target.close()


@pytest.fixture
def sim_clock(sim: HttpTarget) -> Iterator[SimulatorClock]:
    clock = SimulatorClock(sim.base_url)
    yield clock
    clock.close()


@pytest.fixture
def dw(sim: HttpTarget, sim_clock: SimulatorClock) -> Iterator[DoublewordClient]:
    with DoublewordClient(api_key=sim.new_key(), base_url=sim.base_url, clock=sim_clock, poll_interval=1.0) as client:
        yield client


class UpstreamProcess:
    """`tests/upstream_app.py`, a tiny OpenAI-compatible server, as a second process on `port`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        app = Path(__file__).with_name("upstream_app.py")
        self.proc = subprocess.Popen([sys.executable, str(app), str(port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.kill()
                    raise RuntimeError("the test upstream did not start") from None
                time.sleep(0.05)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=5).json()
        return stats

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def start_upstream() -> Iterator[Callable[[int], UpstreamProcess]]:
    """Start test upstreams (on a given port, so one can come back where it was); all killed at the end."""
    started: list[UpstreamProcess] = []

    def start(port: int) -> UpstreamProcess:
        started.append(UpstreamProcess(port))
        return started[-1]

    yield start
    for upstream in started:
        if upstream.proc.poll() is None:
            upstream.kill()

"""Fixtures shared by the client tests: one simulator process (manual clock, seed 7) for the session,
and a client on it for a fresh user whose waits advance the simulator's clock instead of sleeping."""

from __future__ import annotations

from collections.abc import Iterator

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

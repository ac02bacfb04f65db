"""Fixtures of the fuzz suite: one simulator for the session (`DWSIM_FUZZ_TARGET`: `asgi`, the
default, or `http`), and fresh users on it. Profiles are in `profiles.py`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fuzz.target import LIVE, TARGET_ENV, FuzzTarget


@pytest.fixture(scope="session")
def fuzz_target() -> Iterator[FuzzTarget]:
    started = FuzzTarget(os.environ.get(TARGET_ENV, "asgi"))
    yield started
    started.close()


@pytest.fixture(autouse=True)
def _live_etiquette(request: pytest.FixtureRequest) -> Iterator[None]:
    """On live: skip what only a simulator can do; delete what each test created."""
    if not LIVE:
        yield
        return
    marker = request.node.get_closest_marker("simulator_only")
    if marker is not None:
        pytest.skip(f"simulator only: {marker.args[0] if marker.args else ''}")
    yield
    if "fuzz_target" in request.fixturenames:
        request.getfixturevalue("fuzz_target").clean_up()

"""Fixtures of the contract suite. The targets come from the `mockserver` pytest plugin (`--dwsim-target`,
default `asgi,http`: every test runs against the in-process app and a real server process). This suite
keeps `--target` and `--record` as short aliases of `--dwsim-target` and `--dwsim-record`, registered
here and not by the plugin, so the plugin claims no generic option name in its users' projects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mockserver.testing import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    # the plugin's options' destinations, and no defaults of their own: the plugin's (env DWSIM_TARGET)
    parser.addoption("--target", dest="dwsim_target", help="this suite's short alias of --dwsim-target")
    parser.addoption("--record", dest="dwsim_record", metavar="FILE", help="this suite's short alias of --dwsim-record")


@pytest.fixture
def api(target: Target) -> Iterator[httpx.Client]:
    """A client for a fresh user (a new key on the simulator)."""
    with target.client(target.new_key()) as client:
        yield client


@pytest.fixture
def other_api(target: Target) -> Iterator[httpx.Client]:
    """A client for a second, different user."""
    with target.client(target.new_key()) as client:
        yield client


@pytest.fixture
def anon(target: Target) -> Iterator[httpx.Client]:
    with target.client(None) as client:
        yield client

"""Fixtures of the contract suite. `--target` (or DWSIM_TARGET) names where it runs: `asgi`, `http`,
`live`, or a comma-separated list (default `asgi,http`: every test runs against both simulator targets)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from contract_tests.targets import Target, make_target


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--target",
        default=os.environ.get("DWSIM_TARGET", "asgi,http"),
        help="asgi | http | live, or a comma-separated list (default: asgi,http)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames:
        names = [n.strip() for n in metafunc.config.getoption("--target").split(",") if n.strip()]
        metafunc.parametrize("target", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    started = make_target(request.param)
    yield started
    started.close()


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

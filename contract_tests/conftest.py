"""Fixtures of the contract suite. The targets come from the `mockserver` pytest plugin (`--target`,
default `asgi,http`: every test runs against the in-process app and a real server process)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mockserver.testing import Target


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

"""Fixtures of the fuzz suite: one simulator for the session (`DWSIM_FUZZ_TARGET`: `asgi`, the
default, or `http`), and fresh users on it. Profiles are in `profiles.py`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fuzz.target import TARGET_ENV, FuzzTarget


@pytest.fixture(scope="session")
def fuzz_target() -> Iterator[FuzzTarget]:
    started = FuzzTarget(os.environ.get(TARGET_ENV, "asgi"))
    yield started
    started.close()

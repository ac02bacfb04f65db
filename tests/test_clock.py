"""The clock of a data folder: a manual clock moves only forward and by finite amounts, and switching a
folder between the real (scaled) and the manual clock never takes time backwards."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from mockserver.backend import open_clock
from mockserver.domain.clock import ClockError, ManualClock
from mockserver.store import Store

DAY = 86_400.0
WALL = 1_700_000_000.0


@pytest.mark.parametrize("seconds", [math.inf, math.nan, -1.0, -math.inf])
def test_a_manual_clock_refuses_to_advance_by_anything_but_a_finite_non_negative_number(seconds: float) -> None:
    clock = ManualClock(WALL)
    with pytest.raises(ClockError):
        clock.advance(seconds)
    with pytest.raises(ClockError):
        clock.set(WALL + seconds)
    assert clock.now() == WALL


def test_real_then_manual_then_real_never_goes_back(tmp_path: Path) -> None:
    # a real clock reads wall time, so each start is given the true wall time, as the server does
    store = Store(tmp_path)
    start = time.time()
    assert open_clock(store, "real", 1.0, time.time()).now() >= start
    manual = open_clock(store, "manual", 1.0, time.time())
    assert isinstance(manual, ManualClock)
    assert manual.now() >= start
    manual.advance(2 * DAY)
    moved = manual.now()
    real = open_clock(store, "real", 1.0, time.time())
    assert real.now() >= moved  # before the fix it stood 2 days behind the manual clock


def test_a_fast_real_clock_then_manual_starts_where_the_real_one_stands(tmp_path: Path) -> None:
    store = Store(tmp_path)
    open_clock(store, "manual", 1.0, WALL)  # the folder's manual clock at WALL
    open_clock(store, "real", 3600.0, WALL)  # then an hour a second
    manual = open_clock(store, "manual", 1.0, WALL + 10)  # 10 real seconds later: 10 virtual hours on
    assert manual.now() >= WALL + 10 * 3600


def test_a_bad_speed_saves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    open_clock(store, "real", 2.0, WALL)
    saved = store.get_meta("scaled_clock")
    with pytest.raises(ClockError):
        open_clock(store, "real", 0.0, WALL + 1)
    assert store.get_meta("scaled_clock") == saved

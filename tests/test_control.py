"""The one control service (`domain.control`) that the control API and the console's panel share:
its token check, its clock moves and its reset."""

from __future__ import annotations

import pytest

from mockserver.domain.clock import ClockError, ManualClock, RealClock
from mockserver.domain.control import ClockNotManual, Control
from mockserver.domain.faults import Faults, ScenarioError
from mockserver.domain.journal import Journal
from mockserver.errors import BadRequest, Unauthorized

START = 4_000_000_000.0


def control(token: str | None = None, clock: ManualClock | RealClock | None = None,
            forgotten: list[str] | None = None) -> Control:
    forget = () if forgotten is None else (lambda: forgotten.append("store"), lambda: forgotten.append("batches"))
    return Control(token, clock or ManualClock(START), Faults(), Journal(), forget=forget)


def test_without_a_token_anyone_may_steer() -> None:
    open_ = control()
    assert not open_.locked
    assert open_.unlocks(None) and open_.unlocks("") and open_.unlocks("anything")
    open_.authorize(None)


@pytest.mark.parametrize("given", [None, "", "sekri", "sekrit ", "Sekrit", "sekrit-and-more", "é"])
def test_with_a_token_only_that_token_unlocks(given: str | None) -> None:
    locked = control("sekrit")
    assert locked.locked and locked.unlocks("sekrit")
    assert not locked.unlocks(given)
    with pytest.raises(Unauthorized) as refused:
        locked.authorize(given)
    assert refused.value.message == "control API: a valid control token is required"


def test_a_token_outside_ascii_is_compared_whole() -> None:
    assert control("clé").unlocks("clé") and not control("clé").unlocks("cle")


def test_the_clock_moves_only_when_manual_and_only_forward() -> None:
    steer = control()
    assert steer.advance(10) == START + 10
    assert steer.set_time(START + 100) == START + 100
    assert steer.clock_state() == {"now": START + 100, "mode": "manual"}
    with pytest.raises(ClockError):
        steer.set_time(START)
    with pytest.raises(ClockError):
        steer.advance(-1)
    real = control(clock=RealClock())
    with pytest.raises(ClockNotManual) as refused:
        real.advance(1)
    assert isinstance(refused.value, BadRequest)
    assert refused.value.message == "the clock is not manual; start the simulator with --clock manual to move it"


def test_a_scenario_is_parsed_and_installed_and_reset_forgets_everything() -> None:
    forgotten: list[str] = []
    steer = control(forgotten=forgotten)
    with pytest.raises(ScenarioError):
        steer.install({"requests": 1})
    assert steer.scenario() == {}
    doc = {"requests": [{"match": {"custom_id": "a"}, "outcome": {"status": 500}}]}
    assert steer.install(doc).document == doc
    assert steer.scenario() == doc
    steer.journal.add((START, "GET", "/v1/files", "", 200, None, 1.0))
    assert len(steer.journal_entries()) == 1
    steer.reset()
    assert forgotten == ["store", "batches"]
    assert steer.scenario() == {} and steer.journal_entries() == []
    assert steer.clock_state()["now"] == START  # the clock keeps its time

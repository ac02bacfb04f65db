"""The control actions: what steers the simulator rather than the emulated API. The control API
(`/_mock`) and the console's simulator panel both call this one service, so they check the control
token the same way and move the clock, install scenarios, read the journal and reset alike.

- `unlocks(token)` is the one token check (constant time); `authorize(token)` refuses with 401.
- The clock moves only when it is manual (`ClockNotManual` otherwise); `ClockError` when the move
  itself cannot be honoured. Both are `BadRequest`s: the exception table renders them.
- A scenario document is parsed here (`ScenarioError`, a `BadRequest`, when it does not have the
  documented form) and installed in the faults.

No HTTP here: callers read the token and the documents from their requests and render the results.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mockserver.domain.clock import Clock, ManualClock
from mockserver.domain.faults import Faults, Scenario, parse_scenario
from mockserver.domain.journal import Journal
from mockserver.errors import BadRequest, Unauthorized


class ClockNotManual(BadRequest):
    """A move of a clock that is not manual."""

    def __init__(self) -> None:
        super().__init__("the clock is not manual; start the simulator with --clock manual to move it")


class Control:
    def __init__(
        self, token: str | None, clock: Clock, faults: Faults, journal: Journal,
        forget: Sequence[Callable[[], None]] = (),
    ) -> None:
        """`token`: the `--control-token` (None: anyone may steer). `forget`: what a reset runs, besides
        clearing the faults and the journal (the store's and the batch service's forgetting)."""
        self._token = token
        self.clock = clock
        self.faults = faults
        self.journal = journal
        self._forget = tuple(forget)

    # -- the token ------------------------------------------------------------------------------
    @property
    def locked(self) -> bool:
        """Whether steering needs the control token at all."""
        return self._token is not None

    def unlocks(self, token: str | None) -> bool:
        """Whether `token` (None: none given) may steer: any, without `--control-token`; else exactly it."""
        if self._token is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), self._token.encode())

    def authorize(self, token: str | None) -> None:
        if not self.unlocks(token):
            raise Unauthorized("control API: a valid control token is required")

    # -- the clock ------------------------------------------------------------------------------
    def clock_state(self) -> dict[str, Any]:
        return {"now": self.clock.now(), "mode": self.clock.mode}

    def manual_clock(self) -> ManualClock:
        """The clock, when it may be moved; else `ClockNotManual`."""
        if not isinstance(self.clock, ManualClock):
            raise ClockNotManual()
        return self.clock

    def advance(self, seconds: float) -> float:
        """Move the manual clock `seconds` forward; the new time."""
        return self.manual_clock().advance(seconds)

    def set_time(self, when: float) -> float:
        """Move the manual clock to `when` (never back); the new time."""
        return self.manual_clock().set(when)

    # -- the scenario, the journal, reset ---------------------------------------------------------
    def scenario(self) -> Mapping[str, Any]:
        """The installed scenario's document (empty: none)."""
        return self.faults.scenario.document

    def install(self, document: Any) -> Scenario:
        """Parse a scenario document and put it in force in place of the current one."""
        scenario = parse_scenario(document)
        self.faults.install(scenario)
        return scenario

    def clear_faults(self) -> None:
        self.faults.clear()

    def journal_entries(self) -> list[dict[str, Any]]:
        return self.journal.entries()

    def clear_journal(self) -> None:
        self.journal.clear()

    def reset(self) -> None:
        """Forget every file, batch, response, fault rule and journal entry; the clock keeps its mode and time."""
        for forget in self._forget:
            forget()
        self.faults.clear()
        self.journal.clear()

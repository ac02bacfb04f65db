"""The one source of `now` for everything the simulator does: real, scaled or manual time.

No other module reads wall time. Time is unix seconds as a float. A manual clock only moves when
told and never goes backwards; a scaled clock runs `speed` virtual seconds per real second from the
moment it was made.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Literal, Protocol

from mockserver.errors import BadRequest

ClockMode = Literal["real", "manual"]


class ClockError(BadRequest, ValueError):
    """A request the clock cannot honour (a bad speed, a bad number of seconds, going backwards); a
    client that asks for one gets a 400 with the message."""


class Clock(Protocol):
    mode: ClockMode

    def now(self) -> float: ...


class RealClock:
    """Wall time, optionally scaled: `speed` virtual seconds pass per real second."""

    mode: ClockMode = "real"

    def __init__(
        self, speed: float = 1.0, wall: Callable[[], float] = time.time, origin: tuple[float, float] | None = None
    ) -> None:
        """`origin` is (virtual time, wall time) of one instant; by default, now and now."""
        if not 0 < speed < math.inf:
            raise ClockError("speed must be a positive number")
        self.speed = speed
        self._wall = wall
        now = wall()
        self.origin = origin if origin is not None else (now, now)

    def now(self) -> float:
        virtual, wall = self.origin
        return virtual + (self._wall() - wall) * self.speed


class ManualClock:
    """Time that moves only through `advance` and `set`; `on_change` hears every move (to persist it)."""

    mode: ClockMode = "manual"

    def __init__(self, start: float, on_change: Callable[[float], None] | None = None) -> None:
        self._now = start
        self._on_change = on_change

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if not 0 <= seconds < math.inf:
            raise ClockError("seconds must be a non-negative number")
        return self.set(self._now + seconds)

    def set(self, when: float) -> float:
        if not math.isfinite(when):
            raise ClockError("the time must be a finite number")
        if not when >= self._now:
            raise ClockError(f"the manual clock never goes backwards (now is {self._now})")
        self._now = when
        if self._on_change is not None:
            self._on_change(when)
        return when

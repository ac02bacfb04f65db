"""Time as the client sees it: `now()` and `sleep()`, injectable so that waiting can be driven.

`SystemClock` is real time. `SimulatorClock` is the simulator's manual clock: `sleep(s)` moves the
simulator's virtual time forward by `s` instead of sleeping, so a poll loop runs for real against a
batch that progresses in virtual time (start the simulator with `--clock manual`).
"""

from __future__ import annotations

import time
from typing import Protocol

import httpx
import orjson

from client.config import root_url


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale (only differences matter)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatorClock:
    """The simulator's manual clock, through its control API (`/_mock/clock`)."""

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=root_url(base_url), timeout=30, transport=transport)
        self.slept: list[float] = []

    def now(self) -> float:
        response = self._http.get("/_mock/clock")
        response.raise_for_status()
        return float(orjson.loads(response.content)["now"])

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds > 0:
            self._http.post("/_mock/clock/advance", json={"seconds": seconds}).raise_for_status()

    def close(self) -> None:
        self._http.close()

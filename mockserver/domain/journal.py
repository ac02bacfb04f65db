"""The journal: the emulated-API calls the simulator received and what it answered, newest last, so a
test can assert on what a client did (its retries, its polling intervals). Bounded; reset clears it."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Entry:
    at: float  # the simulator's clock when the call arrived
    method: str
    path: str
    query: str
    status: int | None  # None: the connection was dropped without an answer
    fault: str | None  # what the scenario did to this call, if anything
    duration_ms: float


class Journal:
    def __init__(self) -> None:
        self._entries: deque[Entry] = deque(maxlen=MAX_ENTRIES)

    def add(self, entry: Entry) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def entries(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self._entries]

"""The journal: the emulated-API calls the simulator received and what it answered, newest last, so a
test can assert on what a client did (its retries, its polling intervals). Bounded; reset clears it."""

from __future__ import annotations

from collections import deque
from typing import Any

MAX_ENTRIES = 10_000


# one entry: when the call arrived (the simulator's clock), method, path, query, the status answered
# (None: the connection was dropped), what the scenario did to it (or None), how long it took
FIELDS = ("at", "method", "path", "query", "status", "fault", "duration_ms")
Entry = tuple[float, str, str, str, int | None, str | None, float]


class Journal:
    def __init__(self) -> None:
        self._entries: deque[Entry] = deque(maxlen=MAX_ENTRIES)

    def add(self, entry: Entry) -> None:
        """Cheap on purpose: it runs on every call; entries become dicts only when read."""
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def entries(self) -> list[dict[str, Any]]:
        return [dict(zip(FIELDS, e, strict=True)) for e in self._entries]

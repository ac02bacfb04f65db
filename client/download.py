"""Saving a batch's output or error lines to a local file, resuming where the file ends.

The file itself is the resume point: a `FileSink` counts the complete lines already in it (cutting
off a half-written last line, say from a killed run), and its `position` is the `start` to read the
server file from, so running the same download again, in this program or a later one, appends
exactly the lines that are missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from client.models import ResultLine


def complete_lines(path: Path) -> int:
    """The number of newline-terminated lines in `path`, after removing a partial last line."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
    return sum(1 for line in data[:end].split(b"\n") if line.strip())


class FileSink:
    """Appends lines to `path`; `fresh` empties it first. `position` is how many lines it holds."""

    def __init__(self, path: str | Path, *, fresh: bool = False) -> None:
        self.path = Path(path)
        if fresh or not self.path.exists():
            self.path.write_bytes(b"")
        self.position = complete_lines(self.path)

    def append(self, lines: Iterable[ResultLine]) -> int:
        """Write each line as it comes (flushed, so a stop loses nothing written); the number written."""
        added = 0
        with self.path.open("a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line.raw + "\n")
                handle.flush()
                self.position = line.position
                added += 1
        return added

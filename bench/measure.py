"""What the benchmarks share to measure and report: a server process's memory, and how a figure is
printed against its goal."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence


def proc_status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/<pid>/status, in bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for row in fh:
            key, _, value = row.partition(":")
            parts = value.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[key] = int(parts[0]) * 1024
    return out


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (the server's planning process, for one)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    queue.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return found


def tree_rss(pid: int) -> int:
    """The resident memory of `pid` and its descendants, in bytes."""
    total = 0
    for each in descendants(pid):
        try:
            total += proc_status(each).get("VmRSS", 0)
        except OSError:
            continue
    return total


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so startup peaks do not count; False if not possible."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """`median (min-max)` of several runs; the value alone for one."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def goal(ok: bool) -> str:
    return "goal met" if ok else "goal missed"


def table(rows: Sequence[tuple[str, str, str]]) -> str:
    """Rows of (name, value, note) as aligned columns."""
    if not rows:
        return ""
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    return "\n".join(f"{k:<{width}}  {v:<{vwidth}}  {note}".rstrip() for k, v, note in rows)

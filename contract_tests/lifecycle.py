"""Driving a batch through time in tests: advance the clock in small steps until a condition holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import httpx

TERMINAL = ("completed", "failed", "cancelled", "expired")


class Clock(Protocol):
    """What moves the simulator's clock: a target, or a test's own server."""

    def advance(self, seconds: float) -> None: ...


def poll(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    response = client.get(f"/batches/{batch_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def advance_until(
    target: Clock, client: httpx.Client, batch_id: str, done: Callable[[dict[str, Any]], bool],
    step: float = 0.25, limit: float = 3600,
) -> dict[str, Any]:
    """Advance the clock by `step` until `done(batch)` holds; fail after `limit` virtual seconds."""
    moved = 0.0
    batch = poll(client, batch_id)
    while not done(batch):
        assert moved < limit, f"condition not reached after {limit} s: {batch}"
        target.advance(step)
        moved += step
        batch = poll(client, batch_id)
    return batch


def run_to_end(target: Clock, client: httpx.Client, batch_id: str) -> dict[str, Any]:
    return advance_until(target, client, batch_id, lambda b: b["status"] in TERMINAL, step=5)


def partly_done(batch: dict[str, Any]) -> bool:
    counts = batch["request_counts"]
    ended: int = counts["completed"] + counts["failed"]
    return bool(batch["status"] == "in_progress" and 0 < ended < counts["total"])

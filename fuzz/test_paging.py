"""Partial downloads (api-notes item 12): pages of `skip`/`limit` concatenate to the full download,
for any limit (clamped to 1..101) and any starting point; `X-Last-Line` is `skip + lines returned`;
`X-Incomplete` is true while more pages remain or the owning batch is unfinished; without `limit`,
`X-Last-Line` comes only with a live batch's output and error files."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz.checks import NDJSON, no_5xx, upload
from fuzz.profiles import fuzz_settings
from fuzz.strategies import BatchFile, batch_files, dump
from fuzz.target import FUZZ_LIMITS, FuzzTarget

LIMITS = FUZZ_LIMITS
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
limits = st.one_of(st.integers(1, 101), st.integers(-3, 0), st.integers(102, 500))
starts = st.one_of(st.integers(0, 210), st.integers(-5, -1))


def full_download(api: httpx.Client, file_id: str, *, live_batch: bool, growing: bool, skip: int = 0) -> list[bytes]:
    params = {"skip": skip} if skip else {}
    response = no_5xx(api.get(f"/files/{file_id}/content", params=params))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == NDJSON
    lines = response.content.splitlines(keepends=True)
    assert response.headers["x-incomplete"] == ("true" if growing else "false")
    if live_batch:
        assert response.headers["x-last-line"] == str(max(0, skip) + len(lines))
    else:
        assert "x-last-line" not in response.headers
    return lines


def check_pages(api: httpx.Client, file_id: str, full: list[bytes], limit: int, start: int, *, growing: bool) -> None:
    """Page through from `start` by `limit`, resuming at each `X-Last-Line`, as a client would."""
    size = max(1, min(101, limit))
    skip = max(0, start)
    params: dict[str, Any] = {"skip": start, "limit": limit}  # the first request as drawn, unclamped
    pages: list[bytes] = []
    while True:
        response = no_5xx(api.get(f"/files/{file_id}/content", params=params))
        assert response.status_code == 200, response.text
        lines = response.content.splitlines(keepends=True)
        assert lines == full[skip : skip + size], (skip, size)
        last = skip + len(lines)
        assert response.headers["x-last-line"] == str(last)
        more = last < len(full)
        assert response.headers["x-incomplete"] == ("true" if more or growing else "false"), (skip, last, len(full))
        pages += lines
        if not more:
            break
        skip = int(response.headers["x-last-line"])
        params = {"skip": skip, "limit": limit}
    assert b"".join(pages) == b"".join(full[max(0, start) :])


@fuzz_settings(30)
@given(f=batch_files(LIMITS, budget=128 * 1024), limit=limits, start=starts)
def test_pages_of_an_input_file_concatenate_to_the_download(
    fuzz_target: FuzzTarget, f: BatchFile, limit: int, start: int
) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = upload(api, f.render())
        assert response.status_code == 201, response.text
        file_id = response.json()["id"]
        full = full_download(api, file_id, live_batch=False, growing=False)
        assert len(full) == len(f.texts)
        assert full_download(api, file_id, live_batch=False, growing=False, skip=start) == full[max(0, start) :]
        offset = no_5xx(api.get(f"/files/{file_id}/content", params={"offset": start}))  # ignored, as live
        assert offset.content.splitlines(keepends=True) == full
        check_pages(api, file_id, full, limit, start, growing=False)


@pytest.mark.simulator_only("drives the manual clock")
@fuzz_settings(25)
@given(f=batch_files(LIMITS, budget=128 * 1024), waits=st.lists(st.sampled_from([0.3, 1, 2, 4, 30]), max_size=3),
       cancel=st.booleans(), limit=limits, start=starts)
def test_pages_of_output_and_error_files_concatenate_while_the_batch_runs(
    fuzz_target: FuzzTarget, f: BatchFile, waits: list[float], cancel: bool, limit: int, start: int
) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = upload(api, f.render())
        assert response.status_code == 201, response.text
        created = no_5xx(api.post("/batches", json={"input_file_id": response.json()["id"],
                                                    "endpoint": "/v1/chat/completions", "completion_window": "24h"}))
        assert created.status_code == 201, created.text
        batch_id = created.json()["id"]
        for seconds in waits:
            fuzz_target.advance(seconds)
        if cancel:
            assert no_5xx(api.post(f"/batches/{batch_id}/cancel")).status_code == 200
        # the clock stands still from here on, so every read sees the same moment
        batch = no_5xx(api.get(f"/batches/{batch_id}")).json()
        growing = batch["status"] in ACTIVE
        counts = batch["request_counts"]
        for key, count in (("output_file_id", counts["completed"]), ("error_file_id", counts["failed"])):
            full = full_download(api, batch[key], live_batch=True, growing=growing)
            assert len(full) == count
            tail = full_download(api, batch[key], live_batch=True, growing=growing, skip=max(0, start))
            assert tail == full[max(0, start) :]
            check_pages(api, batch[key], full, limit, start, growing=growing)


def test_every_limit_pages_an_input_file_the_same(fuzz_target: FuzzTarget) -> None:
    """Every limit from 1 to 101 (and the clamped values around), from a few starting points."""
    line: dict[str, Any] = {"custom_id": "", "method": "POST", "url": "/v1/embeddings", "body": {"model": "Qwen/Qwen3-Embedding-8B"}}
    content = b"\n".join(dump({**line, "custom_id": f"r{k}", "body": {**line["body"], "input": "é" * k}})
                         for k in range(103)) + b"\n"
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = upload(api, content)
        assert response.status_code == 201, response.text
        file_id = response.json()["id"]
        full = full_download(api, file_id, live_batch=False, growing=False)
        assert len(full) == 103
        for limit in range(0, 103):
            check_pages(api, file_id, full, limit, limit % 7 * 15, growing=False)

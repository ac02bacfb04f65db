"""Uploads whose lines a worker process checks (`--scan-in-worker-from 1` sends every upload there) get
exactly the answers of the inline path: every valid file round-trips, every broken one gets the live
status, line number and message and changes nothing. The inline path is `test_uploads.py`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import given

from fuzz.checks import check_accepted, check_nothing_stored, check_rejected, upload
from fuzz.profiles import fuzz_settings
from fuzz.strategies import MUTATIONS, BatchFile, Broken, batch_files, broken_files
from fuzz.target import FUZZ_LIMITS, TARGET_ENV, FuzzTarget
from mockserver.testing import AsgiTarget

NAMES = sorted(name for name, m in MUTATIONS.items() if m.known_bug is None)


@pytest.fixture(scope="module")
def worker_target() -> Iterator[FuzzTarget]:
    started = FuzzTarget(os.environ.get(TARGET_ENV, "asgi"), ("--scan-in-worker-from", "1", "--scan-workers", "1"))
    yield started
    started.close()


@fuzz_settings(20)
@given(f=batch_files(FUZZ_LIMITS))
def test_a_valid_file_round_trips(worker_target: FuzzTarget, f: BatchFile) -> None:
    content = f.render()
    with worker_target.watch(), worker_target.user() as api:
        check_accepted(api, upload(api, content), size=len(content), filename="batch.jsonl", expected=f.stored())
    if isinstance(worker_target.inner, AsgiTarget):  # in-process we can see the worker was used
        assert worker_target.inner.backend.files.scan_pool.started == 1


@pytest.mark.parametrize("name", NAMES)
def test_a_broken_file_gets_the_inline_answer(worker_target: FuzzTarget, name: str) -> None:
    @fuzz_settings(4)
    @given(broken=broken_files(name, FUZZ_LIMITS))
    def run(broken: Broken) -> None:
        with worker_target.watch(), worker_target.user() as api:
            before = worker_target.store_state()
            response = upload(api, broken.content, chunked=broken.chunked)
            check_rejected(response, broken.expect)
            check_nothing_stored(worker_target, api, before)

    run()

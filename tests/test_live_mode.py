"""The contract suite's live mode, exercised without the live service: a simulator process stands in
for it (DOUBLEWORD_BASE_URL), so the live plumbing runs for real: two keys for two users, tests that
need the control API skipped with their reason, and every object a test created cleaned up after it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mockserver.testing import HttpTarget


@pytest.fixture(scope="module")
def stand_in() -> Iterator[HttpTarget]:
    target = HttpTarget(["--seed", "2", "--clock", "real"])  # live time passes by itself
    yield target
    target.close()


def test_live_mode_runs_cleans_up_and_skips_what_needs_the_simulator(stand_in: HttpTarget) -> None:
    env = {**os.environ, "DOUBLEWORD_BASE_URL": stand_in.base_url, "DOUBLEWORD_API_KEY": "live-a",
           "DOUBLEWORD_API_KEY_2": "live-b"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--target", "live", "-rs",
         "contract_tests/test_batches_create.py", "contract_tests/test_batch_lifecycle.py"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "needs the simulator's control API" in run.stdout
    for key in ("live-a", "live-b"):  # nothing left behind: no batches, no input or virtual files
        with stand_in.client(key) as api:
            assert api.get("/batches").json()["data"] == []
            assert api.get("/files").json()["data"] == []


def test_the_fuzz_suite_on_live_is_a_differential_run(stand_in: HttpTarget) -> None:
    """`DWSIM_FUZZ_TARGET=live` against a simulator standing in for live: what the simulator alone can do
    is skipped, the known differences run as plain tests (no xfail), all pass (every difference found
    so far is fixed), and nothing is left behind."""
    env = {**os.environ, "DOUBLEWORD_BASE_URL": stand_in.base_url, "DOUBLEWORD_API_KEY": "fuzz-a",
           "DOUBLEWORD_API_KEY_2": "fuzz-b", "DWSIM_FUZZ_TARGET": "live"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "fuzz"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "simulator only: drives the manual clock" in run.stdout and "xfail" not in run.stdout
    for key in ("fuzz-a", "fuzz-b"):
        with stand_in.client(key) as api:
            assert api.get("/batches").json()["data"] == []
            assert api.get("/files").json()["data"] == []

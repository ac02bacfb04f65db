"""The pytest plugin as a user's project sees it: installed next to other plugins, in a fresh run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

import mockserver
from mockserver import testing
from mockserver.testing import LIVE_MAX_ADVANCE, LiveClockError, LiveTarget

ROOT = Path(mockserver.__file__).resolve().parent.parent  # this checkout, ahead of any installed copy


def _pytest(where: Path, *args: str, plugins: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """pytest in `where` with only this plugin (and `plugins`) loaded (no entry points), on this checkout's
    code: PYTHONPATH is this checkout's root only, so `mockserver` comes from here and the run's own test
    files from `where` (its rootdir); nothing of this repo's tests is on the path or collected."""
    env = {k: v for k, v in os.environ.items()  # not the variables of the xdist worker running this test
           if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "DWSIM_"))}
    env.update(PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    loaded = [arg for plugin in ("mockserver.pytest_plugin", *plugins) for arg in ("-p", plugin)]
    return subprocess.run([sys.executable, "-m", "pytest", *loaded, "-p", "no:cacheprovider", *args],
                          cwd=where, env=env, capture_output=True, text=True, timeout=300)


def test_the_profile_option_coexists_with_pytest_profilings(tmp_path: Path) -> None:
    # pytest-profiling defines `--profile`; a second plugin adding it makes pytest abort at start
    (tmp_path / "conftest.py").write_text(
        "def pytest_addoption(parser):\n"
        "    parser.addoption('--profile', action='store_true', help='as pytest-profiling does')\n"
    )
    (tmp_path / "test_mine.py").write_text(
        "def test_plays_the_chosen_profile(dwsim, request):\n"
        "    assert request.config.getoption('--profile')\n"
        "    assert dwsim.profile == 'openai'\n"
    )
    helped = _pytest(tmp_path, "--help")
    assert helped.returncode == 0, helped.stdout[-3000:] + helped.stderr[-3000:]
    assert "--dwsim-profile" in helped.stdout
    run = _pytest(tmp_path, "-v", "--profile", "--dwsim-target", "asgi", "--dwsim-profile", "openai")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "test_plays_the_chosen_profile[asgi-openai] PASSED" in run.stdout


def test_loading_the_plugin_imports_no_test_client() -> None:
    # without httpx2 (only in the [test] extra) importing starlette.testclient warns, in every user's run
    code = "import sys, mockserver.pytest_plugin; print('starlette.testclient' in sys.modules)"
    run = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "False"


def test_the_plugin_claims_no_generic_option_names(tmp_path: Path) -> None:
    # a user's project (or another plugin) may have its own --target or --record
    (tmp_path / "conftest.py").write_text(
        "def pytest_addoption(parser):\n"
        "    parser.addoption('--target', help='the project own')\n"
        "    parser.addoption('--record', help='the project own')\n"
    )
    (tmp_path / "test_mine.py").write_text(
        "def test_both_are_the_projects(dwsim, request):\n"
        "    assert (request.config.getoption('--target'), request.config.getoption('--record')) == ('x', 'y')\n"
        "    assert dwsim.name == 'asgi'\n"
    )
    run = _pytest(tmp_path, "-v", "--target", "x", "--record", "y", "--dwsim-target", "asgi")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "test_both_are_the_projects[asgi] PASSED" in run.stdout


def test_this_suite_keeps_target_and_record_as_its_own_aliases() -> None:
    # registered by contract_tests/conftest.py, not by the plugin
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "DWSIM_"))}
    helped = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "contract_tests", "--help"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0, helped.stderr[-3000:]
    for alias in ("--target=DWSIM_TARGET", "--record=FILE", "--dwsim-target=DWSIM_TARGET", "--dwsim-record=FILE"):
        assert alias in helped.stdout
    collected = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only",
                                "--target", "http", "contract_tests/test_auth_and_models.py"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert collected.returncode == 0, collected.stdout[-3000:]
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert ids and all("[http" in line and "asgi" not in line for line in ids)


OUTSIDE_TESTS = """
import json
import os

import openai
import pytest

LINE = {"custom_id": "q1", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8", "messages": [{"role": "user", "content": "Hi"}]}}


@pytest.mark.parametrize("n", range(6))
def test_a_batch_runs_to_its_end(dwsim, n):
    client = openai.OpenAI(base_url=dwsim.base_url, api_key=dwsim.new_key(), http_client=dwsim.client(None))
    f = client.files.create(file=("in.jsonl", json.dumps(LINE).encode() + b"\\n"), purpose="batch")
    batch = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    dwsim.advance(3600)
    assert client.batches.retrieve(batch.id).status == "completed"
    assert client.batches.list().data[0].id == batch.id  # a fresh user sees only its own batch
    with open(os.environ["SEEN"], "a") as seen:  # which worker ran it, on which simulator
        seen.write(json.dumps([os.environ["PYTEST_XDIST_WORKER"], dwsim.name, dwsim.base_url, os.getpid()]) + "\\n")
"""


def test_an_outside_project_runs_under_xdist_with_a_simulator_per_worker(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    (project / "tests" / "test_pipeline.py").write_text(textwrap.dedent(OUTSIDE_TESTS))
    seen_file, record = tmp_path / "seen.jsonl", tmp_path / "record.json"
    os.environ["SEEN"] = str(seen_file)  # read by the run's tests (the helper passes os.environ on)
    try:
        run = _pytest(project, "-n", "2", "-v", "--dwsim-target", "asgi,http", "--dwsim-record", str(record),
                      plugins=("xdist",))
    finally:
        del os.environ["SEEN"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "12 passed" in run.stdout
    passed_on = {line.split()[0] for line in run.stdout.splitlines() if " PASSED " in line}
    assert passed_on == {"[gw0]", "[gw1]"}, run.stdout[-3000:]
    seen = [tuple(orjson.loads(line)) for line in seen_file.read_text().splitlines()]
    assert len(seen) == 12 and {worker for worker, *_ in seen} == {"gw0", "gw1"}
    pids = {worker: {pid for w, _, _, pid in seen if w == worker} for worker in ("gw0", "gw1")}
    assert all(len(p) == 1 for p in pids.values()) and pids["gw0"] != pids["gw1"]  # two processes
    http_urls = {worker: {url for w, name, url, _ in seen if w == worker and name == "http"} for worker in pids}
    for worker, urls in http_urls.items():  # each worker's http tests on one server, not the other's
        assert len(urls) <= 1, (worker, urls)
    if all(http_urls.values()):
        assert http_urls["gw0"] != http_urls["gw1"]
    recorded = orjson.loads(record.read_bytes())  # one record, with the calls of every worker's tests
    assert {test.rsplit("::", 1)[-1] for test in recorded} >= {f"test_a_batch_runs_to_its_end[{n}]" for n in range(6)}
    assert sum(len(calls) for calls in recorded.values()) >= 12 * 5


def _live(monkeypatch: pytest.MonkeyPatch) -> tuple[LiveTarget, list[float]]:
    monkeypatch.setenv("DOUBLEWORD_API_KEY", "live-a")
    slept: list[float] = []
    monkeypatch.setattr(testing, "time", SimpleNamespace(sleep=slept.append))  # nothing really waits here
    return LiveTarget(), slept


def test_the_live_target_refuses_to_advance_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    live, slept = _live(monkeypatch)
    with pytest.raises(LiveClockError) as refused:
        live.advance(3600)
    message = str(refused.value)
    assert "advance(3600) on the live target" in message and "simulator_only" in message
    assert slept == []


def test_the_live_target_waits_real_time_for_a_short_advance(monkeypatch: pytest.MonkeyPatch) -> None:
    live, slept = _live(monkeypatch)
    live.advance(1)
    live.advance(LIVE_MAX_ADVANCE)
    assert slept == [1, LIVE_MAX_ADVANCE]
    with pytest.raises(LiveClockError):
        live.advance(LIVE_MAX_ADVANCE + 0.5)
    assert slept == [1, LIVE_MAX_ADVANCE]

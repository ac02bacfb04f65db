"""pytest plugin (entry point `mockserver`): a running simulator for your own tests.

    def test_my_pipeline(dwsim):                       # in-process and over HTTP (see --dwsim-target)
        client = openai.OpenAI(base_url=dwsim.base_url, api_key=dwsim.new_key(), http_client=dwsim.client(None))
        ...                                            # upload, create a batch
        dwsim.advance(3600)                            # an hour passes, instantly

Options: `--dwsim-target asgi|http|live` or a comma-separated list (env `DWSIM_TARGET`, default
`asgi,http`): every test using `dwsim` (or `target`) runs once per target. `--dwsim-profile
doubleword|openai` or a list (env `DWSIM_PROFILE`, ini `dwsim_profiles`, default `doubleword`): and once
per API profile; a test marked `@pytest.mark.profile("openai")` runs only under the profiles it names
(live plays only `doubleword`). The ini option `dwsim_flags` passes command-line flags to the simulators
started (the clock is manual unless the flags say otherwise). `--dwsim-record FILE` writes what each
test's HTTP calls saw, for `python -m mockserver.drift`. Every option is prefixed `dwsim`, so the plugin
claims no generic name in the projects it is installed in.

On `live`, `advance(seconds)` cannot move the service's clock: it waits `seconds` of real time up to
`mockserver.testing.LIVE_MAX_ADVANCE` (10 s) and refuses anything longer (`LiveClockError`).

Under pytest-xdist (`pytest -n 2`) each worker starts its own simulators, lazily, the first time one of
its tests asks for them, and stops them when it ends. Not one shared simulator: the manual clock is
the simulator's, not a user's, so a test's `advance` on a shared simulator would move the batches of
the tests running at the same time on other workers; the in-process (`asgi`) target cannot be shared
between processes at all; and a per-worker simulator needs no coordination (no lock files, no
server started by whichever worker comes first, no question of who stops it). It costs a simulator
start per worker and target (about a second each). `--dwsim-record FILE` works under xdist too: the
workers send what they saw to the controller, which writes the one file. The live target is one
account whatever the workers: run tests that expect its lists to start empty without `-n`.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from mockserver.drift import Recorder
from mockserver.testing import LiveTarget, Target, make_target

TARGET_FIXTURES = ("target", "dwsim")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--dwsim-target", dest="dwsim_target",
        default=os.environ.get("DWSIM_TARGET", "asgi,http"),
        help="where simulator tests run: asgi (in-process), http (a real server process), live (the live "
        "service, needs DOUBLEWORD_API_KEY), or a comma-separated list (env DWSIM_TARGET; default: asgi,http)",
    )
    parser.addoption("--dwsim-record", dest="dwsim_record", default=None, metavar="FILE",
                     help="write what each test's HTTP calls saw (shapes, statuses, headers) to FILE; "
                     "compare two records with `python -m mockserver.drift A B`")
    parser.addoption(
        "--dwsim-profile", default=os.environ.get("DWSIM_PROFILE"),
        help="which API the simulator plays: doubleword, openai, or a comma-separated list (default: the "
        "dwsim_profiles ini option, else doubleword)",
    )
    parser.addini("dwsim_flags", "command-line flags for the simulators the dwsim fixture starts", default="")
    parser.addini("dwsim_profiles", "the profiles tests run under (comma-separated)", default="doubleword")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "simulator_only(reason): needs the simulator's control API; skipped on live")
    config.addinivalue_line("markers", "profile(*names): run only under these API profiles (doubleword, openai)")


_recorder: Recorder | None = None
RECORD_KEY = "dwsim_record"  # what an xdist worker saw, in its workeroutput (JSON), for the controller


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    global _recorder
    if session.config.getoption("--dwsim-record"):
        _recorder = Recorder()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _recorder is not None:
        _recorder.test_started(item.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--dwsim-record")
    if _recorder is None or not path:
        return
    if _is_xdist_worker(session.config):  # the controller writes the file, from every worker's calls
        output: dict[str, Any] = session.config.workeroutput  # type: ignore[attr-defined]
        output[RECORD_KEY] = orjson.dumps(_recorder.calls).decode()
    else:
        _recorder.write(Path(path))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist, on the controller: a worker ended; keep what it recorded."""
    recorded = getattr(node, "workeroutput", {}).get(RECORD_KEY)
    if _recorder is not None and recorded:
        for test, calls in orjson.loads(recorded).items():
            _recorder.calls[test].extend(calls)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    used = [name for name in TARGET_FIXTURES if name in metafunc.fixturenames]
    if used:
        config = metafunc.config
        names = [n.strip() for n in config.getoption("--dwsim-target").split(",") if n.strip()]
        chosen = config.getoption("--dwsim-profile") or str(config.getini("dwsim_profiles"))
        profiles = [p.strip() for p in chosen.split(",") if p.strip()]
        marker = metafunc.definition.get_closest_marker("profile")
        if marker is not None:
            profiles = [p for p in profiles if p in marker.args]
        combos = [n if p == "doubleword" else f"{n}-{p}" for p in profiles for n in names
                  if n != "live" or p == "doubleword"]
        metafunc.parametrize("_dwsim_name", combos, indirect=True, scope="session")


@pytest.fixture(scope="session")
def _dwsim_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


_running: dict[str, Target] = {}


@pytest.fixture(scope="session")
def dwsim(request: pytest.FixtureRequest, _dwsim_name: str) -> Iterator[Target]:
    """A running simulator (or the live service), shared by the session (by each xdist worker's session:
    one simulator per worker): `base_url`, `new_key()`, `client(key)` (`client(None)`: no Authorization
    header, for an SDK that sends its own key), `advance(seconds)`, `control(method, path)` for the
    `/_mock` API."""
    if _dwsim_name not in _running:
        flags = shlex.split(str(request.config.getini("dwsim_flags")))
        name, _, profile = _dwsim_name.partition("-")
        if profile:
            flags += ["--profile", profile]
        _running[_dwsim_name] = make_target(name, flags)
        if _recorder is not None:
            _running[_dwsim_name].response_hooks.append(_recorder.hook)
        request.config.add_cleanup(_running[_dwsim_name].close)
    yield _running[_dwsim_name]


@pytest.fixture(scope="session")
def target(dwsim: Target) -> Target:
    return dwsim


@pytest.fixture(autouse=True)
def _live_etiquette(request: pytest.FixtureRequest) -> Iterator[None]:
    """On the live service: skip what needs the control API, and clean up what each test created."""
    if "_dwsim_name" not in request.fixturenames or request.getfixturevalue("_dwsim_name") != "live":
        yield
        return
    marker = request.node.get_closest_marker("simulator_only")
    if marker is not None:
        pytest.skip(f"needs the simulator's control API: {marker.args[0] if marker.args else 'clock or faults'}")
    live = request.getfixturevalue("dwsim")
    yield
    if isinstance(live, LiveTarget):
        live.clean_up()

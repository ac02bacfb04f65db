"""pytest plugin (entry point `mockserver`): a running simulator for your own tests.

    def test_my_pipeline(dwsim):                       # in-process and over HTTP (see --target)
        client = openai.OpenAI(base_url=dwsim.base_url, api_key=dwsim.new_key(), http_client=dwsim.client(None))
        ...                                            # upload, create a batch
        dwsim.advance(3600)                            # an hour passes, instantly

Options: `--target asgi|http|live` or a comma-separated list (env `DWSIM_TARGET`, default `asgi,http`):
every test using `dwsim` (or `target`) runs once per target. `--dwsim-profile doubleword|openai` or a
list (env `DWSIM_PROFILE`, ini `dwsim_profiles`, default `doubleword`): and once per API profile; a test
marked `@pytest.mark.profile("openai")` runs only under the profiles it names (live plays only
`doubleword`). The ini option `dwsim_flags` passes command-line flags to the simulators started (the
clock is manual unless the flags say otherwise).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.drift import Recorder
from mockserver.testing import LiveTarget, Target, make_target

TARGET_FIXTURES = ("target", "dwsim")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--target",
        default=os.environ.get("DWSIM_TARGET", "asgi,http"),
        help="where simulator tests run: asgi (in-process), http (a real server process), live (the live "
        "service, needs DOUBLEWORD_API_KEY), or a comma-separated list (default: asgi,http)",
    )
    parser.addoption("--record", default=None, metavar="FILE",
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


def pytest_sessionstart(session: pytest.Session) -> None:
    global _recorder
    if session.config.getoption("--record"):
        _recorder = Recorder()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _recorder is not None:
        _recorder.test_started(item.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--record")
    if _recorder is not None and path:
        _recorder.write(Path(path))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    used = [name for name in TARGET_FIXTURES if name in metafunc.fixturenames]
    if used:
        config = metafunc.config
        names = [n.strip() for n in config.getoption("--target").split(",") if n.strip()]
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
    """A running simulator (or the live service), shared by the session: `base_url`, `new_key()`,
    `client(key)`, `advance(seconds)`, `control(method, path)` for the `/_mock` API."""
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

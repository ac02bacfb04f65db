"""The pytest plugin as a user's project sees it: installed next to other plugins, in a fresh run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mockserver

ROOT = Path(mockserver.__file__).resolve().parent.parent  # this checkout, ahead of any installed copy


def _pytest(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in `where` with only this plugin loaded (no entry points), on this checkout's code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("DWSIM_PROFILE", None)
    env.pop("DWSIM_TARGET", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "mockserver.pytest_plugin", "-p", "no:cacheprovider",
                           *args], cwd=where, env=env, capture_output=True, text=True, timeout=300)


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
    run = _pytest(tmp_path, "-v", "--profile", "--target", "asgi", "--dwsim-profile", "openai")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "test_plays_the_chosen_profile[asgi-openai] PASSED" in run.stdout


def test_loading_the_plugin_imports_no_test_client() -> None:
    # without httpx2 (only in the [test] extra) importing starlette.testclient warns, in every user's run
    code = "import sys, mockserver.pytest_plugin; print('starlette.testclient' in sys.modules)"
    run = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "False"

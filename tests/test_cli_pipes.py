"""`dw-batch` as a program in a pipeline (issue #21): a reader that stops early (`| head`) ends it
quietly (exit 141, no traceback, nothing on stderr); its usage and `--version` name `dw-batch`.
Each test runs the installed `dw-batch` (or `python -m client`) as a process on a real pipe."""

from __future__ import annotations

import fcntl
import importlib.metadata
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client import DoublewordClient, SimulatorClock
from client.batchfile import chat_request, encode_line
from client.cli import main
from contract_tests.targets import HttpTarget

DW_BATCH = Path(sys.executable).with_name("dw-batch")
PROGRAMS = [[str(DW_BATCH)], [sys.executable, "-m", "client"]]


def write_batch(path: Path, n: int) -> Path:
    path.write_bytes(b"".join(encode_line(chat_request(f"job-{i}", f"q{i}")) for i in range(n)))
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of the child: no Doubleword settings, and a HOME without ~/.dw."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOUBLEWORD_")}
    return {**clean, "HOME": str(tmp_path / "home")}


@pytest.fixture
def user(sim: HttpTarget, sim_clock: SimulatorClock, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """A user with one completed 40-request batch: the global flags to reach it, and its id."""
    key = sim.new_key()
    with DoublewordClient(api_key=key, base_url=sim.base_url, clock=sim_clock) as dw:
        batch = dw.submit(write_batch(tmp_path / "b.jsonl", 40))
        assert dw.wait(batch.id).status == "completed"
    yield ["--base-url", sim.base_url, "--api-key", key], batch.id


def run_into_closed_pipe(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout a pipe whose reader has already gone: the first write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(argv, stdout=write, stderr=subprocess.PIPE, env=env, timeout=60, check=False)
    finally:
        os.close(write)


def run_and_stop_reading(argv: list[str], env: dict[str, str], keep: int) -> tuple[int, bytes, bytes]:
    """`argv | head -c keep`: read `keep` bytes of stdout, then close it while the program still writes
    (the pipe is shrunk to one page so that a few KiB of output outlast it)."""
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen(argv, stdout=write, stderr=subprocess.PIPE, env=env)
    os.close(write)
    got = b""
    while len(got) < keep:
        chunk = os.read(read, keep - len(got))
        if not chunk:
            break
        got += chunk
    os.close(read)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, got, err


@pytest.mark.parametrize("program", PROGRAMS, ids=["dw-batch", "python-m-client"])
@pytest.mark.parametrize("command", [["--json", "status"], ["status"], ["list"], ["--json", "list"]])
def test_a_closed_stdout_ends_the_command_quietly(
    program: list[str], command: list[str], user: tuple[list[str], str], env: dict[str, str],
) -> None:
    flags, batch_id = user
    argv = [*program, *flags, *command, *([batch_id] if "status" in command else [])]
    done = run_into_closed_pipe(argv, env)
    assert done.stderr == b""  # no "error: [Errno 32] Broken pipe", no traceback
    assert done.returncode in (0, 141)


def test_results_into_head_stop_quietly_once_head_has_enough(user: tuple[list[str], str], env: dict[str, str]) -> None:
    flags, batch_id = user
    code, got, err = run_and_stop_reading([str(DW_BATCH), *flags, "results", batch_id], env, keep=100)
    assert len(got) == 100 and got.startswith(b'{"id":"batch_req_')
    assert err == b"" and code == 141


@pytest.mark.parametrize("program", PROGRAMS, ids=["dw-batch", "python-m-client"])
def test_usage_names_the_program_dw_batch(program: list[str], env: dict[str, str]) -> None:
    top = subprocess.run([*program, "--help"], capture_output=True, env=env, timeout=60, check=True)
    assert top.stdout.startswith(b"usage: dw-batch ") and b"python -m client" not in top.stdout
    sub = subprocess.run([*program, "submit", "--help"], capture_output=True, env=env, timeout=60, check=True)
    assert sub.stdout.startswith(b"usage: dw-batch submit ")
    bad = subprocess.run([*program, "frobnicate"], capture_output=True, env=env, timeout=60, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith(b"usage: dw-batch ")


@pytest.mark.parametrize("program", PROGRAMS, ids=["dw-batch", "python-m-client"])
def test_version_is_the_installed_package_version(program: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([*program, "--version"], capture_output=True, env=env, timeout=60, check=True)
    assert done.stdout.decode() == f"dw-batch {importlib.metadata.version('dw-batch-sim')}\n"
    assert done.stderr == b""


def test_in_process_help_says_dw_batch(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["retry-failed", "--help"], stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: dw-batch retry-failed ") and "--all" in shown

"""How often `dw-batch` polls (issue #21): short against a loopback host (a local simulator), the
live default elsewhere, and `--poll-interval` / `DOUBLEWORD_POLL_INTERVAL` (flag > env > default)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from client import DoublewordClient, SimulatorClock
from client.batchfile import chat_request, encode_line
from client.cli import main
from client.config import is_loopback
from client.polling import LIVE_POLL, LOCAL_POLL, PollSchedule, schedule_for
from contract_tests.targets import HttpTarget


def write_batch(path: Path, n: int) -> Path:
    path.write_bytes(b"".join(encode_line(chat_request(f"job-{i}", f"q{i}")) for i in range(n)))
    return path


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/v1", "http://127.45.6.7/v1", "http://localhost:8000", "http://LOCALHOST./v1",
    "http://app.localhost/v1", "http://[::1]:8000/v1",
])
def test_loopback_hosts_poll_often(url: str) -> None:
    assert is_loopback(url)
    assert schedule_for(url) == LOCAL_POLL == PollSchedule(1.0, 1.2, 5.0)


@pytest.mark.parametrize("url", [
    "https://api.doubleword.ai/v1", "http://10.0.0.7:8000/v1", "http://128.0.0.1/v1", "http://localhost.example.com/v1",
    "http://[::2]/v1",
])
def test_other_hosts_keep_the_live_default(url: str) -> None:
    assert not is_loopback(url)
    assert schedule_for(url) == LIVE_POLL == PollSchedule(30.0, 1.25, 60.0)


def test_the_client_picks_the_schedule_of_its_target() -> None:
    with DoublewordClient(api_key="k", base_url="https://api.doubleword.ai") as live:
        assert live.poll == LIVE_POLL and live.poll_interval == 30.0
    with DoublewordClient(api_key="k", base_url="http://127.0.0.1:8000") as local:
        assert local.poll == LOCAL_POLL and local.poll_interval == 1.0
    with DoublewordClient(api_key="k", base_url="http://127.0.0.1:8000", poll_interval=0.5) as given:
        assert given.poll == PollSchedule(0.5, 1.2, 5.0)


def _submit_wait(sim: HttpTarget, clock: SimulatorClock, tmp_path: Path, *flags: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(["--base-url", sim.base_url, "--api-key", sim.new_key(), *flags, "submit",
                 str(write_batch(tmp_path / "b.jsonl", 5)), "--wait"], clock=clock, stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def test_submit_wait_on_a_local_simulator_waits_about_as_long_as_the_batch(
    sim: HttpTarget, sim_clock: SimulatorClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOUBLEWORD_POLL_INTERVAL", raising=False)
    code, err = _submit_wait(sim, sim_clock, tmp_path)
    assert code == 0, err
    assert sim_clock.slept[0] == 1.0 and max(sim_clock.slept) <= 5.0  # the 5-request batch ends within ~2 s
    assert sum(sim_clock.slept) < 6, sim_clock.slept  # not 30 s and more


def test_poll_interval_flag_beats_the_environment_which_beats_the_default(
    sim: HttpTarget, sim_clock: SimulatorClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOUBLEWORD_POLL_INTERVAL", "0.25")
    assert _submit_wait(sim, sim_clock, tmp_path)[0] == 0
    assert set(sim_clock.slept) == {0.25}  # an interval asked for is kept: every 0.25 s
    sim_clock.slept.clear()
    assert _submit_wait(sim, sim_clock, tmp_path, "--poll-interval", "0.5")[0] == 0
    assert set(sim_clock.slept) == {0.5}
    monkeypatch.setenv("DOUBLEWORD_POLL_INTERVAL", "soon")
    code, err = _submit_wait(sim, sim_clock, tmp_path)
    assert code == 2 and "DOUBLEWORD_POLL_INTERVAL must be a number of seconds, got 'soon'" in err
    code, err = _submit_wait(sim, sim_clock, tmp_path, "--poll-interval", "0")
    assert code == 2 and "must be a positive number" in err

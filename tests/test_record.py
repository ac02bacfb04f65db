"""`python -m client.record`'s edges: what it blanks in a cassette, what it refuses before it writes
anything (exit 2), and how a run that fails ends (exit 1): never with a traceback, never with an
existing cassette damaged or a partial one (`OUTPUT.part`) left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from client import record
from contract_tests.helpers import chat_line, jsonl

LONG_KEY = "sekrit-recording-key-5555"
OLD = '{"type": "cassette", "version": 1, "source": "upstream", "base_url": "x", "recorded_at": 0}\n'


@pytest.fixture(scope="module")
def upstream() -> Iterator[Any]:
    """The test upstream (`tests/upstream_app.py`), one process for the module."""
    from conftest import UpstreamProcess, free_port

    process = UpstreamProcess(free_port())
    yield process
    process.kill()


def run_record(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "client.record", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def batch_file(tmp_path: Path, *lines: dict[str, Any]) -> Path:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(jsonl(*(lines or (chat_line("q1", "hello"),))))
    return path


def nothing_partial(cassette: Path) -> bool:
    return not Path(f"{cassette}.part").exists()


# -- redaction ---------------------------------------------------------------------------------------
def test_a_short_key_is_not_blanked_and_the_cassette_stays_intact(tmp_path: Path, upstream: Any) -> None:
    lines = [chat_line("a-1", "a cat and a bat"), chat_line("a-2", "banana")]
    cassette = tmp_path / "cassette.jsonl"
    run = run_record(str(batch_file(tmp_path, *lines)), "-o", str(cassette), "--upstream", upstream.url,
                     "--upstream-key", "a")
    assert run.returncode == 0, run.stderr
    assert nothing_partial(cassette)
    text = cassette.read_text()
    assert "<redacted>" not in text
    items = [orjson.loads(line) for line in text.splitlines()]  # every line still JSON
    assert items[0]["type"] == "cassette" and items[0]["source"] == "upstream"
    requests = {x["custom_id"]: x for x in items if x["type"] == "request"}
    assert {c: r["body"] for c, r in requests.items()} == {str(x["custom_id"]): x["body"] for x in lines}
    real = {a["content"]: a["body"] for a in upstream.stats()["answers"]}
    assert requests["a-1"]["attempts"][0]["body"] == real["a cat and a bat"]
    assert requests["a-2"]["attempts"][0]["body"] == real["banana"]
    assert {r["authorization"] for r in upstream.stats()["received"]} >= {"Bearer a"}  # it was the key


def test_a_long_key_that_reaches_a_body_is_blanked(tmp_path: Path, upstream: Any) -> None:
    cassette = tmp_path / "cassette.jsonl"
    run = run_record(str(batch_file(tmp_path, chat_line("leak", f"my key is {LONG_KEY}"))), "-o", str(cassette),
                     "--upstream", upstream.url, "--upstream-key", LONG_KEY)
    assert run.returncode == 0, run.stderr
    text = cassette.read_text()
    assert LONG_KEY not in text
    request = next(x for x in map(orjson.loads, text.splitlines()) if x["type"] == "request")
    assert request["body"]["messages"][-1]["content"] == "my key is <redacted>"  # the request as sent
    assert request["attempts"][0]["body"]["choices"][0]["message"]["content"] == "echo: my key is <redacted>"


# -- refused before anything is written: exit 2 ----------------------------------------------------
@pytest.mark.parametrize(("flags", "says"), [
    (["--upstream", "http://127.0.0.1:9", "--upstream-model", "no-equals"], "--upstream-model wants LOCAL=REMOTE"),
    (["--upstream", "notaurl"], "--upstream wants an http:// or https:// URL"),
    (["--upstream", "http://127.0.0.1:9", "--timeout", "-1"], "--timeout > 0"),
    (["--upstream", "http://127.0.0.1:9", "--timeout", "0"], "--timeout > 0"),
    (["--upstream", "http://127.0.0.1:9", "--concurrency", "0"], "--concurrency >= 1"),
    (["--base-url", "notaurl", "--key", LONG_KEY], "--base-url"),
    (["--base-url", "http://127.0.0.1:9", "--key", LONG_KEY, "--poll", "0"], "--poll > 0"),
    (["--base-url", "http://127.0.0.1:9"], "pass --key or set DOUBLEWORD_API_KEY"),
], ids=["model-map", "upstream-url", "timeout-negative", "timeout-zero", "concurrency", "base-url", "poll", "no-key"])
def test_bad_arguments_are_refused_and_an_existing_cassette_is_kept(
    tmp_path: Path, flags: list[str], says: str
) -> None:
    cassette = tmp_path / "cassette.jsonl"
    cassette.write_text(OLD)
    env = {k: v for k, v in os.environ.items() if k != "DOUBLEWORD_API_KEY"}
    run = run_record(str(batch_file(tmp_path)), "-o", str(cassette), *flags, env=env)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: ") and says in run.stderr and "Traceback" not in run.stderr
    assert "--api-key" not in run.stderr
    assert cassette.read_text() == OLD
    assert nothing_partial(cassette)


@pytest.mark.parametrize("where", ["missing-folder", "a-folder"])
def test_an_unwritable_output_is_refused(tmp_path: Path, where: str) -> None:
    cassette = tmp_path / "no-such-folder" / "cassette.jsonl" if where == "missing-folder" else tmp_path
    run = run_record(str(batch_file(tmp_path)), "-o", str(cassette), "--upstream", "http://127.0.0.1:9")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"error: -o {cassette}: ") and "Traceback" not in run.stderr
    assert not Path(f"{cassette}.part").exists()


# -- a run that fails: exit 1 ------------------------------------------------------------------------
def test_a_service_that_cannot_be_reached(tmp_path: Path) -> None:
    from conftest import free_port

    cassette = tmp_path / "cassette.jsonl"
    cassette.write_text(OLD)
    nobody = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    run = run_record(str(batch_file(tmp_path)), "-o", str(cassette), "--base-url", nobody, "--key", LONG_KEY)
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith(f"error: recording from {nobody} failed: ") and "Traceback" not in run.stderr
    assert cassette.read_text() == OLD  # not truncated, not half-written
    assert nothing_partial(cassette)


def test_a_service_that_answers_with_an_http_error(tmp_path: Path, upstream: Any) -> None:
    """The test upstream is no Batch API: the upload is a 404, after the cassette's header was written."""
    cassette = tmp_path / "cassette.jsonl"
    run = run_record(str(batch_file(tmp_path)), "-o", str(cassette), "--base-url", upstream.url, "--key", LONG_KEY)
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith(f"error: recording from {upstream.url} failed: 404") and "Traceback" not in run.stderr
    assert LONG_KEY not in run.stderr
    assert not cassette.exists()
    assert nothing_partial(cassette)


def test_record_help_never_shows_the_upstream_key(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DWSIM_UPSTREAM_KEY", "sk-record-secret-9")
    with pytest.raises(SystemExit):
        record.build_parser().parse_args(["--help"])
    shown = capsys.readouterr().out
    assert "--upstream-key" in shown and "sk-record-secret-9" not in shown

"""`python -m mockserver.record`'s edges: what it blanks in a cassette."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from contract_tests.helpers import chat_line, jsonl

LONG_KEY = "sekrit-recording-key-5555"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Any]:
    """The test upstream (`tests/upstream_app.py`), one process for the module."""
    from conftest import UpstreamProcess, free_port

    process = UpstreamProcess(free_port())
    yield process
    process.kill()


def run_record(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver.record", *args], capture_output=True, text=True,
                          timeout=60)


def batch_file(tmp_path: Path, *lines: dict[str, Any]) -> Path:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(jsonl(*(lines or (chat_line("q1", "hello"),))))
    return path


# -- redaction ---------------------------------------------------------------------------------------
def test_a_short_key_is_not_blanked_and_the_cassette_stays_intact(tmp_path: Path, upstream: Any) -> None:
    lines = [chat_line("a-1", "a cat and a bat"), chat_line("a-2", "banana")]
    cassette = tmp_path / "cassette.jsonl"
    run = run_record(str(batch_file(tmp_path, *lines)), "-o", str(cassette), "--upstream", upstream.url,
                     "--upstream-key", "a")
    assert run.returncode == 0, run.stderr
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

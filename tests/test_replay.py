"""Record and replay: `python -m client.record` writes a cassette from a real server (the test
upstream, a second process), and `--replay` answers from it with the recorded latencies on the manual
clock: the same output and error files and the same status timeline on every run, without the upstream."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from contract_tests.helpers import chat_line, jsonl, start_batch
from contract_tests.targets import CHAT_MODEL
from mockserver.testing import HttpTarget

KEY = "sekrit-recording-key-9876"
LINES = [chat_line(f"ok-{k}", f"hello {k}") for k in range(4)] + [
    chat_line("bad", "fail400 nope"), chat_line("slowish", "wait a bit"), chat_line("down", "fail500 boom"),
]
STEP = 0.1


def record(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "client.record", *args], capture_output=True, text=True,
                          timeout=60, check=True)


def replay_run(cassette: Path, content: bytes) -> tuple[list[tuple[float, str, int, int]], bytes, bytes]:
    """A fresh simulator replaying `cassette`: one batch of `content`, stepped through the manual clock;
    its (time, status, completed, failed) after each step, and its output and error files."""
    sim = HttpTarget(["--replay", str(cassette), "--seed", "5", "--concurrency", "64"])
    try:
        with sim.client("replayer") as api:
            batch = start_batch(api, content, window="1h")
            timeline = []
            moved = 0.0
            while True:
                now = api.get(f"/batches/{batch['id']}").json()
                counts = now["request_counts"]
                timeline.append((round(moved, 3), now["status"], counts["completed"], counts["failed"]))
                if now["status"] in ("completed", "failed"):
                    break
                step = STEP if moved < 3 else 600
                sim.advance(step)
                moved += step
            output = api.get(f"/files/{batch['output_file_id']}/content").content
            errors = api.get(f"/files/{batch['error_file_id']}/content").content
        return timeline, output, errors
    finally:
        sim.close()


def test_a_recorded_run_replays_the_same_every_time(tmp_path: Path, start_upstream: Callable[[int], Any]) -> None:
    from conftest import free_port

    upstream = start_upstream(free_port())
    batch_file = tmp_path / "batch.jsonl"
    batch_file.write_bytes(jsonl(*LINES))
    cassette = tmp_path / "cassette.jsonl"
    record([str(batch_file), "-o", str(cassette), "--upstream", upstream.url, "--upstream-key", KEY,
            "--concurrency", "4"])
    real = {a["content"]: a for a in upstream.stats()["answers"]}
    upstream.kill()  # replay never needs it

    text = cassette.read_text()
    assert KEY not in text
    items = [orjson.loads(line) for line in text.splitlines()]
    assert items[0]["type"] == "cassette" and items[0]["source"] == "upstream"
    requests = {x["custom_id"]: x for x in items if x["type"] == "request"}
    assert set(requests) == {str(line["custom_id"]) for line in LINES}
    assert requests["slowish"]["attempts"][0]["latency"] >= 0.3
    assert requests["ok-1"]["attempts"][0]["body"] == real["hello 1"]["body"]
    assert [x["status"] for x in items if x["type"] == "status"][-1] == "completed"

    first = replay_run(cassette, batch_file.read_bytes())
    second = replay_run(cassette, batch_file.read_bytes())
    assert first == second  # same timeline, byte-identical output and error files

    timeline, output, errors = first
    outputs = {x["custom_id"]: x for x in map(orjson.loads, output.splitlines())}
    failures = {x["custom_id"]: orjson.loads(x["error"]["message"]) for x in map(orjson.loads, errors.splitlines())}
    assert set(outputs) == {"ok-0", "ok-1", "ok-2", "ok-3", "slowish"}
    for custom_id, content in [("ok-0", "hello 0"), ("ok-3", "hello 3"), ("slowish", "wait a bit")]:
        assert outputs[custom_id]["response"]["body"] == real[content]["body"]  # what the upstream really said
    assert failures["bad"] == {"type": "NonRetriableHttpStatus",
                               "details": {"status": 400, "body": orjson.dumps(real["fail400 nope"]["body"]).decode()}}
    assert failures["down"] == {"type": "RetriableHttpStatus",
                                "details": {"status": 500, "body": "upstream exploded on fail500 boom"}}
    # the timeline follows the recorded latencies: validation takes 1 s, then request i ends latency_i later
    for moved, status, completed, failed in timeline:
        if moved >= 3:
            break
        ended = [c for c, r in requests.items() if c != "down" and 1 + r["attempts"][0]["latency"] <= moved]
        assert completed == len([c for c in ended if c != "bad"]), (moved, timeline)
        assert failed == len([c for c in ended if c == "bad"])
        if abs(moved - 1) > 1e-6:  # (a sum of 0.1 steps is not exactly 1)
            assert status == ("validating" if moved < 1 else "in_progress")
    assert timeline[-1][1:] == ("completed", 5, 2)


def test_a_request_missing_from_the_cassette(tmp_path: Path) -> None:
    cassette = tmp_path / "empty.jsonl"
    cassette.write_text('{"type": "cassette", "version": 1, "source": "upstream", "base_url": "x", "recorded_at": 0}\n')
    line = chat_line("new", "never recorded")
    for missing, expect_ok in (("error", False), ("simulate", True)):
        sim = HttpTarget(["--replay", str(cassette), "--replay-missing", missing])
        try:
            with sim.client("k") as api:
                batch = start_batch(api, jsonl(line))
                sim.advance(60)
                done = api.get(f"/batches/{batch['id']}").json()
                assert done["request_counts"]["completed"] == int(expect_ok)
                realtime = api.post("/chat/completions", json={"model": CHAT_MODEL, "messages": line["body"]["messages"]})
                if expect_ok:
                    assert realtime.status_code == 200
                else:
                    error = orjson.loads(api.get(f"/files/{batch['error_file_id']}/content").text)["error"]
                    reason = orjson.loads(error["message"])
                    assert reason["type"] == "NonRetriableHttpStatus" and "cassette_miss" in reason["details"]["body"]
                    assert realtime.status_code == 400 and realtime.json()["error"]["code"] == "cassette_miss"
        finally:
            sim.close()


def test_record_through_a_batch_api_then_replay(tmp_path: Path) -> None:
    """The Batch API recorder, against a simulator (its simulated model, on its manual clock)."""
    batch_file = tmp_path / "batch.jsonl"
    batch_file.write_bytes(jsonl(*(chat_line(f"q-{k}", f"question {k}") for k in range(3))))
    cassette = tmp_path / "cassette.jsonl"
    source = HttpTarget(["--seed", "9"])
    try:
        record([str(batch_file), "-o", str(cassette), "--base-url", source.base_url, "--key", KEY, "--poll", "0.5",
                "--simulator-clock"])
        with httpx.Client(base_url=source.base_url, headers={"Authorization": f"Bearer {KEY}"}) as api:
            batch = api.get("/batches").json()["data"][0]
            recorded_output = {x["custom_id"]: x["response"]["body"]
                               for x in map(orjson.loads, api.get(f"/files/{batch['output_file_id']}/content").text.splitlines())}
    finally:
        source.close()
    items = [orjson.loads(line) for line in cassette.read_text().splitlines()]
    assert KEY not in cassette.read_text()
    assert [x["status"] for x in items if x["type"] == "status"][-1] == "completed"
    _, output, errors = replay_run(cassette, batch_file.read_bytes())
    assert errors == b""
    assert {x["custom_id"]: x["response"]["body"] for x in map(orjson.loads, output.splitlines())} == recorded_output


@pytest.mark.parametrize("content", [b"{not json\n", b'{"custom_id": "a"}\n', b"\n \n"], ids=["json", "fields", "empty"])
def test_record_refuses_a_bad_input_file_and_writes_nothing(tmp_path: Path, content: bytes) -> None:
    batch_file = tmp_path / "batch.jsonl"
    batch_file.write_bytes(content)
    cassette = tmp_path / "cassette.jsonl"
    run = subprocess.run([sys.executable, "-m", "client.record", str(batch_file), "-o", str(cassette),
                          "--upstream", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"error: {batch_file}: ") and "Traceback" not in run.stderr
    assert not cassette.exists()


HEADER = '{"type": "cassette", "version": 1, "source": "upstream", "base_url": "x", "recorded_at": 0}\n'
URL = "/v1/chat/completions"


def request_line(body: Any, attempts: Any, **more: Any) -> str:
    return orjson.dumps({"type": "request", "custom_id": "c", "url": URL, "body": body, "attempts": attempts,
                         **more}).decode() + "\n"


MALFORMED = {
    "attempt-not-object": [1],
    "attempts-a-string": "ab",
    "negative-latency": [{"status": 200, "body": {}, "latency": -0.5}],
    "infinite-latency": [{"status": 200, "body": {}, "latency": "inf"}],
    "nan-latency": [{"status": 200, "body": {}, "latency": "nan"}],
}


@pytest.mark.parametrize("attempts", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_cassette_is_refused_with_its_line(tmp_path: Path, attempts: Any) -> None:
    from mockserver.cassette import CassetteError, load

    bad = tmp_path / "bad.jsonl"
    bad.write_text(HEADER + request_line({"model": CHAT_MODEL}, attempts))
    with pytest.raises(CassetteError, match=f"^{re.escape(str(bad))}:2: not a cassette line"):
        load(bad)


@pytest.mark.parametrize("attempts", [MALFORMED["attempt-not-object"], MALFORMED["negative-latency"]],
                         ids=["attempt-not-object", "negative-latency"])
def test_the_server_refuses_a_malformed_cassette_at_start(tmp_path: Path, attempts: Any) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(HEADER + request_line({"model": CHAT_MODEL}, attempts))
    run = subprocess.run([sys.executable, "-m", "mockserver", "--replay", str(bad), "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"error: --replay {bad}:2: not a cassette line (") and "Traceback" not in run.stderr


def test_the_key_is_recomputed_from_url_and_body(tmp_path: Path) -> None:
    from mockserver.cassette import load, request_key

    answer = [{"status": 200, "body": {"ok": True}, "latency": 0.5}]
    recorded = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "as recorded"}]}
    edited = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "edited by hand"}]}
    stale = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "wrong key"}]}
    old = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "an old cassette's line"}]}
    path = tmp_path / "cassette.jsonl"
    path.write_text(HEADER
                    + request_line(edited, answer, key=request_key(URL, recorded))  # body changed after recording
                    + request_line(stale, answer, key="0" * 32)
                    + request_line(old, answer, key=request_key(URL, old)))
    cassette = load(path)
    assert cassette.find(URL, edited) is not None
    assert cassette.find(URL, recorded) is None  # the stored key no longer says which body it was
    assert cassette.find(URL, stale) is not None
    assert cassette.find(URL, {**old, "priority": 5}) is not None  # old cassettes still match as before
    assert set(cassette.requests) == {request_key(URL, edited), request_key(URL, stale), request_key(URL, old)}

"""Faults on purpose: scenario rules for batch requests, HTTP faults on the emulated API, live limits,
the journal; reproducible from the seed. Error-file lines use the live `FailureReason` forms."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from client import DoublewordClient
from client.errors import RateLimitError
from contract_tests.helpers import chat_line, custom_ids, jsonl, start_batch, upload, upload_ok
from contract_tests.lifecycle import run_to_end
from contract_tests.targets import CHAT_MODEL
from mockserver.testing import AsgiTarget, HttpTarget, Target

pytestmark = pytest.mark.profile("doubleword")  # Doubleword's own behaviour (OpenAI's: test_openai_profile.py)

FLAGS = ["--seed", "11"]


@pytest.fixture(scope="module")
def sim() -> Iterator[AsgiTarget]:
    target = AsgiTarget(FLAGS)
    yield target
    target.close()


@pytest.fixture(autouse=True)
def _no_scenario(sim: AsgiTarget) -> Iterator[None]:
    yield
    sim.control("DELETE", "/_mock/faults")


def scenario(target: Target, doc: dict[str, Any]) -> None:
    target.control("PUT", "/_mock/faults", doc)


def errors_of(api: httpx.Client, batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    lines = map(orjson.loads, api.get(f"/files/{batch['error_file_id']}/content").text.splitlines())
    return {x["custom_id"]: orjson.loads(x["error"]["message"]) for x in lines}


def test_request_rules_fail_lines_in_the_live_forms(sim: AsgiTarget) -> None:
    scenario(sim, {"requests": [
        {"match": {"custom_id": "bad"}, "outcome": {"status": 422, "body": {"detail": "nope"}}},
        {"match": {"custom_id_prefix": "down-"}, "outcome": {"status": 503}},
        {"match": {"custom_id_regex": "^slow"}, "outcome": {"timeout": True}},
        {"match": {"line": 5}, "outcome": {"network_error": True}},
    ]})
    with sim.client(sim.new_key()) as api:
        batch = start_batch(api, jsonl(chat_line("ok"), chat_line("bad"), chat_line("down-1"), chat_line("slow-1"),
                                       chat_line("fifth")), window="1h")
        done = run_to_end(sim, api, batch["id"])
        assert done["request_counts"] == {"total": 5, "completed": 1, "failed": 4}
        errors = errors_of(api, batch)
    assert errors["bad"] == {"type": "NonRetriableHttpStatus", "details": {"status": 422, "body": '{"detail":"nope"}'}}
    assert errors["down-1"]["type"] == "RetriableHttpStatus"  # retried until 15 min before the deadline
    assert errors["down-1"]["details"]["status"] == 503
    assert errors["slow-1"]["type"] == "Timeout"
    assert errors["fifth"]["type"] == "NetworkError"
    # the 1h batch's retried requests gave up about 45 minutes in
    assert done["completed_at"] - done["created_at"] > 40 * 60


def test_retriable_then_success_is_not_failed_meanwhile(sim: AsgiTarget) -> None:
    # research §10 item 22: requests being retried are not counted as failed
    scenario(sim, {"requests": [{"match": {"custom_id": "flaky"},
                                 "outcome": {"status": 500, "retriable_times": 3, "then_status": 200}}]})
    with sim.client(sim.new_key()) as api:
        batch = start_batch(api, jsonl(chat_line("flaky")))
        sim.advance(3)  # validation and the first attempts, all failing
        mid = api.get(f"/batches/{batch['id']}").json()
        assert mid["status"] == "in_progress"
        assert mid["request_counts"]["failed"] == 0
        done = run_to_end(sim, api, batch["id"])
        assert done["request_counts"] == {"total": 1, "completed": 1, "failed": 0}


def test_model_and_rate_matches_are_reproducible(tmp_path: Path) -> None:
    doc = {"seed": 3, "requests": [{"match": {"model": CHAT_MODEL, "rate": 0.5}, "outcome": {"status": 400}}]}
    files = []
    for _ in range(2):
        target = AsgiTarget(FLAGS)
        try:
            scenario(target, doc)
            target.control("POST", "/_mock/clock/set", {"now": 4_000_000_000})  # the same start for both runs
            with target.client("same-user") as api:
                batch = start_batch(api, jsonl(*(chat_line(f"r{i}") for i in range(40))))
                run_to_end(target, api, batch["id"])
                files.append((api.get(f"/files/{batch['output_file_id']}/content").content,
                              api.get(f"/files/{batch['error_file_id']}/content").content))
        finally:
            target.close()
    assert files[0] == files[1]  # same seed, same scenario: byte for byte
    failed = custom_ids(files[0][1].decode())
    assert 8 < len(failed) < 32  # about half of 40


def test_http_faults_on_the_api(sim: AsgiTarget) -> None:
    scenario(sim, {"http": [
        {"method": "POST", "path": "/v1/files", "status": 429, "retry_after": 1, "times": 2},
        {"method": "GET", "path": "/v1/batches/*", "status": 503, "times": 1},
        {"method": "GET", "path": "/v1/models", "status": 500},
    ]})
    with sim.client(sim.new_key()) as api:
        first = upload(api, jsonl(chat_line("a")))
        assert first.status_code == 429
        assert first.headers["retry-after"] == "1"
        assert first.json() == {"error": "too_many_requests", "retry_after_seconds": 30,
                                "message": "Simulated fault: too many requests. Please retry later."}
        assert api.post(sim.root_url + "/ai/v1/files", files={"file": ("a.jsonl", jsonl(chat_line("a")))}).status_code == 429
        batch = start_batch(api, jsonl(chat_line("a")))  # the third upload goes through
        unavailable = api.get(f"/batches/{batch['id']}")
        assert unavailable.status_code == 503
        assert unavailable.json()["error"] == "service_unavailable"
        assert api.get(f"/batches/{batch['id']}").status_code == 200
        broken = api.get("/models")
        assert (broken.status_code, broken.text) == (500, "Internal server error")
    journal = sim.control("GET", "/_mock/journal")["data"]
    faults = [(e["method"], e["path"], e["status"], e["fault"]) for e in journal[-7:]]
    assert ("POST", "/v1/files", 429, "status 429") in faults
    assert ("GET", "/v1/models", 500, "status 500") in faults


def test_sdk_and_reference_client_survive_retry_after() -> None:
    target = HttpTarget(FLAGS)
    try:
        scenario(target, {"http": [{"path": "/v1/files", "method": "GET", "status": 429, "retry_after": 0.01,
                                    "times": 2}]})
        with openai.OpenAI(base_url=target.base_url, api_key=target.new_key(), max_retries=2) as sdk:
            assert sdk.files.list().data == []
        slept: list[float] = []

        class Clock:
            def now(self) -> float:
                return 0.0

            def sleep(self, seconds: float) -> None:
                slept.append(seconds)

        scenario(target, {"http": [{"path": "/v1/files", "method": "GET", "status": 503, "retry_after": 0.01,
                                    "times": 1}]})
        with DoublewordClient(api_key=target.new_key(), base_url=target.base_url, clock=Clock()) as dw:
            assert list(dw.list_files()) == []
        assert slept == [pytest.approx(0.01)]
        scenario(target, {"http": [{"path": "/v1/files", "method": "GET", "status": 429, "retry_after": 0.01}]})
        with DoublewordClient(api_key=target.new_key(), base_url=target.base_url, clock=Clock()) as dw, \
                pytest.raises(RateLimitError):
            list(dw.list_files())
    finally:
        target.close()


def test_live_limits_balance_and_capacity(sim: AsgiTarget) -> None:
    with sim.client(sim.new_key()) as api:
        file_id = upload_ok(api, jsonl(*(chat_line(f"r{i}") for i in range(5))))["id"]
        scenario(sim, {"limits": {"negative_balance": True}})
        broke = api.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                           "completion_window": "24h"})
        assert (broke.status_code, broke.text) == (402, "Account balance too low. Please add credits to continue.")
        scenario(sim, {"limits": {"model_capacity": {CHAT_MODEL: 7}}})
        start = api.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                           "completion_window": "24h"})
        assert start.status_code == 201
        sim.advance(1.1)  # planned and running: 5 of the 7 are taken
        full = api.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                          "completion_window": "1h"})
        assert full.status_code == 429
        assert full.json()["message"] == (f"Insufficient capacity for 1h completion window. The following models "
                                          f"are currently at capacity: {CHAT_MODEL}. Try again later or use a "
                                          "longer completion window.")
        assert full.headers["retry-after"] == "60"


def test_realtime_override_header(sim: AsgiTarget) -> None:
    with sim.client(sim.new_key()) as api:
        body = chat_line("x")["body"]
        failed = api.post("/chat/completions", json=body, headers={"X-Mock-Outcome": '{"status": 500}'})
        assert failed.status_code == 500
        slow = api.post("/chat/completions", json=body, headers={"X-Mock-Outcome": '{"timeout": true}'})
        assert (slow.status_code, slow.json()["error"]["code"]) == (504, "gateway_timeout")
        assert api.post("/chat/completions", json=body).status_code == 200
        bad = api.post("/chat/completions", json=body, headers={"X-Mock-Outcome": '{"status": "x"}'})
        assert bad.status_code == 400


def test_bad_scenarios_are_refused_clearly(sim: AsgiTarget, tmp_path: Path) -> None:
    with sim.client(None) as anon:
        response = anon.put(sim.root_url + "/_mock/faults", json={"requests": [{"match": {"rate": 2},
                                                                                 "outcome": {"status": 500}}]})
    assert response.status_code == 400
    assert response.text == "scenario.requests[0].match.rate: must be between 0 and 1"
    bad = tmp_path / "bad.yaml"
    bad.write_text("http:\n  - path: /v1/files\n    colour: red\n")
    run = subprocess.run([sys.executable, "-m", "mockserver", "--scenario", str(bad), "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "scenario.http[0]: unknown key(s) colour" in run.stderr


def test_a_dropped_connection_and_a_scenario_file_at_start(tmp_path: Path) -> None:
    doc = tmp_path / "faults.yaml"
    doc.write_text("http:\n  - method: GET\n    path: /v1/files\n    drop: true\n    times: 1\n")
    target = HttpTarget(["--scenario", str(doc)])
    try:
        with target.client(target.new_key()) as api:
            with pytest.raises(httpx.TransportError):
                api.get("/files")
            assert api.get("/files").status_code == 200
        journal = target.control("GET", "/_mock/journal")["data"]
        assert [(e["status"], e["fault"]) for e in journal[:2]] == [(None, "drop"), (200, None)]
    finally:
        target.close()


@pytest.mark.parametrize("expiry", ["openai", "live"])
def test_expiry_openai_style_or_live(expiry: str) -> None:
    target = AsgiTarget(["--expiry", expiry, "--latency-min", "1000", "--latency-max", "1000", "--concurrency", "1"])
    try:
        with target.client(target.new_key()) as api:
            batch = start_batch(api, jsonl(*(chat_line(f"r{i}") for i in range(5))), window="1h")
            target.advance(3700)
            late = api.get(f"/batches/{batch['id']}").json()
            errors = api.get(f"/files/{batch['error_file_id']}/content")
            if expiry == "openai":
                assert late["status"] == "expired"
                assert late["request_counts"] == {"total": 5, "completed": 3, "failed": 2}
                lines = [orjson.loads(x) for x in errors.text.splitlines()]
                assert [x["custom_id"] for x in lines] == ["r3", "r4"]
                assert {x["error"]["code"] for x in lines} == {"batch_expired"}
                assert errors.headers["x-incomplete"] == "false"
                assert [b["id"] for b in api.get("/batches", params={"status": "expired"}).json()["data"]] == [batch["id"]]
            else:  # live: nothing expires a batch; it keeps going past its window
                assert late["status"] == "in_progress"
                assert late["expired_at"] == late["expires_at"]
                assert errors.text == ""
                target.advance(3000)
                assert api.get(f"/batches/{batch['id']}").json()["status"] == "completed"
    finally:
        target.close()


def test_a_truncated_download() -> None:
    target = HttpTarget(FLAGS)
    try:
        scenario(target, {"http": [{"method": "GET", "path": "/v1/files/*", "truncate": 100, "times": 1}]})
        with target.client(target.new_key()) as api:
            file_id = upload_ok(api, jsonl(*(chat_line(f"r{i}") for i in range(20))))["id"]
            with pytest.raises(httpx.TransportError):
                api.get(f"/files/{file_id}/content")  # cut after 100 bytes, connection closed
            assert len(api.get(f"/files/{file_id}/content").text.splitlines()) == 20  # the next one is whole
        journal = target.control("GET", "/_mock/journal")["data"]
        assert any(e["fault"] == "truncate 100 bytes" for e in journal)
    finally:
        target.close()


def test_a_download_shorter_than_the_cut_arrives_whole() -> None:
    target = HttpTarget(FLAGS)
    try:
        scenario(target, {"http": [{"method": "GET", "path": "/v1/files/*", "truncate": 10_000_000, "times": 2}]})
        with target.client(target.new_key()) as api:
            content = jsonl(*(chat_line(f"r{i}") for i in range(20)))
            file_id = upload_ok(api, content)["id"]
            got = api.get(f"/files/{file_id}/content")  # shorter than the cut: complete, nothing closed
            assert got.status_code == 200 and len(got.text.splitlines()) == 20
            assert api.get(f"/files/{file_id}").json()["id"] == file_id
    finally:
        target.close()


def test_latency_rules_and_api_delays(sim: AsgiTarget) -> None:
    scenario(sim, {"requests": [{"match": {"custom_id": "slow"}, "outcome": {"latency_ms": 600_000}}],
                   "http": [{"method": "GET", "path": "/v1/models", "delay_ms": 30, "times": 1}]})
    with sim.client(sim.new_key()) as api:
        batch = start_batch(api, jsonl(chat_line("fast"), chat_line("slow")))
        sim.advance(60)
        mid = api.get(f"/batches/{batch['id']}").json()
        assert mid["request_counts"]["completed"] == 1  # the slow one takes ten virtual minutes
        sim.advance(600)
        assert api.get(f"/batches/{batch['id']}").json()["status"] == "completed"
        assert api.get("/models").status_code == 200
    journal = sim.control("GET", "/_mock/journal")["data"]
    delayed = [e for e in journal if e["fault"] == "delay 30 ms"]
    assert len(delayed) == 1 and delayed[0]["duration_ms"] >= 30


def test_a_scenario_over_1_mib_is_413(sim: AsgiTarget) -> None:
    huge = {"http": [{"method": "GET", "path": "/v1/files", "status": 500, "note": "x" * (1024 * 1024)}]}
    with sim.client(None) as client:
        response = client.put(sim.root_url + "/_mock/faults", json=huge)
    assert response.status_code == 413 and "at most 1048576 bytes" in response.text
    assert sim.control("GET", "/_mock/faults") == {}  # nothing installed

"""`--upstream`: batch requests and realtime calls answered by a real OpenAI-compatible server (a
second process, `tests/upstream_app.py`), each batch request sent when the manual clock reaches it.
Every expectation compares with what the upstream itself says it received and answered."""

from __future__ import annotations

import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from contract_tests.helpers import chat_line, jsonl, start_batch
from contract_tests.lifecycle import poll
from contract_tests.targets import CHAT_MODEL
from mockserver.testing import HttpTarget, ServerProcess

KEY = "sekrit-upstream-key-1234"
REMOTE = "tiny-remote-model"
Start = Callable[[int], Any]


def proxy_flags(url: str, *more: str) -> list[str]:
    return ["--seed", "3", "--upstream", url, "--upstream-key", KEY, "--upstream-model", f"{CHAT_MODEL}={REMOTE}",
            "--upstream-concurrency", "2", "--upstream-timeout", "1", *more]


@pytest.fixture
def proxied(start_upstream: Start) -> Iterator[tuple[HttpTarget, Any]]:
    from conftest import free_port

    upstream = start_upstream(free_port())
    sim = HttpTarget(proxy_flags(upstream.url))
    yield sim, upstream
    sim.close()


def wait_for(check: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    """Poll `check` (real subprocess I/O) until it returns something true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class NobodyThere:
    """The port of a dead upstream, watched: each connection is taken, its request read and the
    connection closed unanswered (a network error to the simulator); `contents` lists the last
    message of each request that came."""

    def __init__(self, port: int) -> None:
        self.contents: list[str] = []
        self._server = socket.create_server(("127.0.0.1", port))
        self._server.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                content = _content_of_request(conn)
            if content is not None:
                self.contents.append(content)

    def __enter__(self) -> NobodyThere:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._server.close()


def _content_of_request(conn: socket.socket) -> str | None:
    """The last message's content of the chat request on `conn`, or None if it did not come whole."""
    conn.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if length is None:
            return None
        while len(body) < int(length.group(1)):
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
    except TimeoutError:
        return None
    return str(orjson.loads(body)["messages"][-1]["content"])


def lines_of(api: httpx.Client, file_id: str) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in api.get(f"/files/{file_id}/content").text.splitlines()]


def sent(upstream: Any, content_prefix: str) -> list[dict[str, Any]]:
    return [r for r in upstream.stats()["received"] if r["body"]["messages"][-1]["content"].startswith(content_prefix)]


def answered(upstream: Any, content: str) -> list[dict[str, Any]]:
    return [a for a in upstream.stats()["answers"] if a["content"] == content]


def test_answers_and_failures_of_the_upstream_land_in_the_live_files(proxied: tuple[HttpTarget, Any]) -> None:
    sim, upstream = proxied
    lines = [chat_line(f"ok-{k}", f"hello {k}") for k in range(3)]
    lines += [chat_line("bad", "fail400 please"), chat_line("down", "fail500 always"),
              chat_line("flaky", "flaky one"), chat_line("slow", "slow once")]
    with sim.client(sim.new_key()) as api:
        batch = start_batch(api, jsonl(*lines), window="1h")
        assert poll(api, batch["id"])["status"] == "validating"  # the first GET waits for the plan
        # a realtime call goes out on the upstream's loop and slots after anything the planned batch sent
        marker = api.post("/chat/completions", json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "marker"}]})
        assert marker.status_code == 200, marker.text
        # validating: nothing is sent before the clock says so
        assert [r["body"]["messages"][-1]["content"] for r in upstream.stats()["received"]] == ["marker"]
        sim.advance(1.5)
        wait_for(lambda: len(sent(upstream, "")) >= 8, "the first attempts")  # the marker and 7
        mid = poll(api, batch["id"])
        assert mid["status"] == "in_progress" and mid["request_counts"]["failed"] <= 1  # only `bad` may have failed
        sim.advance(3600)  # the retries of `down` run until 15 minutes before the deadline
        done = wait_for(lambda: (b := poll(api, batch["id"]))["status"] == "completed" and b, "the batch's end")
        assert done["request_counts"] == {"total": 7, "completed": 5, "failed": 2}
        outputs = {x["custom_id"]: x for x in lines_of(api, batch["output_file_id"])}
        errors = {x["custom_id"]: x for x in lines_of(api, batch["error_file_id"])}
    assert set(outputs) == {"ok-0", "ok-1", "ok-2", "flaky", "slow"} and set(errors) == {"bad", "down"}
    for custom_id, content in [("ok-0", "hello 0"), ("ok-2", "hello 2"), ("flaky", "flaky one"), ("slow", "slow once")]:
        line = outputs[custom_id]
        real = [a for a in answered(upstream, content) if a["status"] == 200]
        assert len(real) == 1
        assert line["response"] == {"status_code": 200, "request_id": None, "body": real[0]["body"]}
        assert line["error"] is None and line["id"].startswith("batch_req_")
    assert outputs["ok-0"]["response"]["body"]["model"] == REMOTE  # the model map reached the upstream
    bad_answer = answered(upstream, "fail400 please")
    assert len(bad_answer) == 1  # a 400 is not retried
    assert errors["bad"]["response"] is None
    assert errors["bad"]["error"]["code"] is None
    assert orjson.loads(errors["bad"]["error"]["message"]) == {
        "type": "NonRetriableHttpStatus",
        "details": {"status": 400, "body": orjson.dumps(bad_answer[0]["body"]).decode()},
    }
    down_tries = answered(upstream, "fail500 always")
    assert len(down_tries) > 100  # retried with the live backoff, about every 10 s for 45 minutes
    assert orjson.loads(errors["down"]["error"]["message"]) == {
        "type": "RetriableHttpStatus", "details": {"status": 500, "body": "upstream exploded on fail500 always"},
    }
    assert len(sent(upstream, "flaky one")) == 3  # 503, 503, then the answer
    assert len(sent(upstream, "slow once")) == 2  # timed out (1 s), retried, answered
    assert {r["authorization"] for r in upstream.stats()["received"]} == {f"Bearer {KEY}"}
    assert {r["body"]["model"] for r in upstream.stats()["received"]} == {REMOTE}
    assert upstream.stats()["max_in_flight"] <= 2
    # the key is never written: not in what the simulator printed, nor in its data folder
    assert not any(KEY in line for line in sim.server.output)
    for path in Path(sim._tmp.name).rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_the_upstream_concurrency_limit_holds(proxied: tuple[HttpTarget, Any]) -> None:
    sim, upstream = proxied
    with sim.client(sim.new_key()) as api:
        batch = start_batch(api, jsonl(*(chat_line(f"w-{k}", f"wait {k}") for k in range(8))))
        sim.advance(2)
        done = wait_for(lambda: (b := poll(api, batch["id"]))["request_counts"]["completed"] == 8 and b,
                        "eight answers")
        assert done["status"] == "completed"
        assert sorted(x["custom_id"] for x in lines_of(api, batch["output_file_id"])) == [f"w-{k}" for k in range(8)]
    assert upstream.stats()["max_in_flight"] == 2  # the limit, and used to the full


def test_realtime_calls_are_proxied(proxied: tuple[HttpTarget, Any]) -> None:
    sim, upstream = proxied
    with sim.client(sim.new_key()) as api:
        ok = api.post("/chat/completions", json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi rt"}]})
        bad = api.post("/chat/completions", json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "fail400 rt"}]})
        slow = api.post("/chat/completions", json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "slow rt"}]})
    assert ok.status_code == 200 and ok.json() == answered(upstream, "hi rt")[0]["body"]
    assert bad.status_code == 400 and bad.json() == answered(upstream, "fail400 rt")[0]["body"]
    assert slow.status_code == 504 and slow.json()["error"]["code"] == "gateway_timeout"


def test_nothing_is_lost_when_the_upstream_dies_mid_batch_and_comes_back(start_upstream: Start) -> None:
    from conftest import free_port

    port = free_port()
    first = start_upstream(port)
    sim = HttpTarget(proxy_flags(first.url))
    try:
        with sim.client(sim.new_key()) as api:
            batch = start_batch(api, jsonl(*(chat_line(f"r-{k}", f"wait r{k}") for k in range(6))))
            sim.advance(1.5)
            wait_for(lambda: len(first.stats()["received"]) >= 2, "the first requests")
            before = first.stats()["answers"]
            first.kill()  # two requests in flight die with it; the rest find nobody there
            with NobodyThere(port) as nobody:

                def each_request_dropped_twice() -> bool:
                    sim.advance(15)  # the retries wait for the clock
                    return all(nobody.contents.count(f"wait r{k}") >= 2 for k in range(6))

                # a request sent again after its connection was dropped was retried, not failed
                wait_for(each_request_dropped_twice, "every request retried after a dropped connection")
                mid = poll(api, batch["id"])
                assert mid["status"] == "in_progress"
                assert mid["request_counts"]["failed"] == 0  # network errors are retried, not failed
            second = start_upstream(port)

            def completed() -> dict[str, Any] | None:
                sim.advance(15)  # the retries wait for the clock
                got = poll(api, batch["id"])
                return got if got["status"] == "completed" else None

            done = wait_for(completed, "the end")
            assert done["request_counts"] == {"total": 6, "completed": 6, "failed": 0}
            outputs = lines_of(api, batch["output_file_id"])
            assert sorted(x["custom_id"] for x in outputs) == [f"r-{k}" for k in range(6)]
            assert lines_of(api, batch["error_file_id"]) == []
        # every answer in the output file is one an upstream really sent
        real = {a["body"]["id"] for a in before + second.stats()["answers"] if a["status"] == 200}
        assert {x["response"]["body"]["id"] for x in outputs} <= real
    finally:
        sim.close()


def test_fault_rules_still_come_first(proxied: tuple[HttpTarget, Any]) -> None:
    sim, upstream = proxied
    sim.control("PUT", "/_mock/faults", {"requests": [
        {"match": {"custom_id": "forced"}, "outcome": {"status": 422, "body": {"detail": "nope"}}}]})
    with sim.client(sim.new_key()) as api:
        batch = start_batch(api, jsonl(chat_line("forced", "never sent"), chat_line("real", "sent for real")))
        sim.advance(2)
        done = wait_for(lambda: (b := poll(api, batch["id"]))["status"] == "completed" and b, "the end")
        assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
        error = lines_of(api, batch["error_file_id"])[0]
    assert error["custom_id"] == "forced"
    assert orjson.loads(error["error"]["message"])["details"] == {"status": 422, "body": '{"detail":"nope"}'}
    assert sent(upstream, "never sent") == [] and len(sent(upstream, "sent for real")) == 1


def test_a_restarted_simulator_sends_what_was_pending(tmp_path: Path, start_upstream: Start) -> None:
    from conftest import free_port

    upstream = start_upstream(free_port())
    flags = [*proxy_flags(upstream.url), "--clock", "manual", "--data-dir", str(tmp_path), "--log-level", "warning"]
    first = ServerProcess(flags)
    headers = {"Authorization": "Bearer restart-user"}
    try:
        with httpx.Client(base_url=first.root + "/v1", headers=headers) as api:
            batch = start_batch(api, jsonl(*(chat_line(f"p-{k}", f"wait p{k}") for k in range(6))))
            httpx.post(first.root + "/_mock/clock/advance", json={"seconds": 2}).raise_for_status()
            wait_for(lambda: len(upstream.stats()["received"]) >= 2, "the first requests")
    finally:
        first.proc.kill()  # mid-batch: two requests in flight, four never sent
        first.proc.wait(timeout=10)
    second = ServerProcess(flags)
    try:
        with httpx.Client(base_url=second.root + "/v1", headers=headers) as api:
            httpx.post(second.root + "/_mock/clock/advance", json={"seconds": 5}).raise_for_status()
            done = wait_for(lambda: (b := poll(api, batch["id"]))["status"] == "completed" and b, "the end")
            assert done["request_counts"] == {"total": 6, "completed": 6, "failed": 0}
            outputs = lines_of(api, batch["output_file_id"])
        assert sorted(x["custom_id"] for x in outputs) == [f"p-{k}" for k in range(6)]
        real = {a["body"]["id"] for a in upstream.stats()["answers"] if a["status"] == 200}
        assert {x["response"]["body"]["id"] for x in outputs} <= real
    finally:
        second.proc.send_signal(signal.SIGINT)
        second.proc.wait(timeout=10)


def test_cancel_stops_sending_and_retry_sends_the_rest(proxied: tuple[HttpTarget, Any]) -> None:
    sim, upstream = proxied
    with sim.client(sim.new_key()) as api:
        batch = start_batch(api, jsonl(*(chat_line(f"c-{k}", f"wait c{k}") for k in range(6))))
        sim.advance(2)
        wait_for(lambda: len(sent(upstream, "wait c")) >= 2, "the first requests")
        cancelled = api.post(f"/batches/{batch['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        # what was in flight comes back; nothing more is sent (a run notices the cancel within 0.2 s,
        # so at most one more pair may have gone out)
        wait_for(lambda: upstream.stats()["in_flight"] == 0, "nothing in flight")
        assert len(sent(upstream, "wait c")) <= 4
        assert api.post(f"/batches/{batch['id']}/retry").status_code == 200
        sim.advance(1)
        done = wait_for(lambda: (b := poll(api, batch["id"]))["status"] == "completed" and b, "the end")
        assert done["request_counts"] == {"total": 6, "completed": 6, "failed": 0}
        assert sorted(x["custom_id"] for x in lines_of(api, batch["output_file_id"])) == [f"c-{k}" for k in range(6)]


def test_restarted_without_the_upstream_the_simulated_model_finishes_the_batch(
    tmp_path: Path, start_upstream: Start
) -> None:
    """Nothing is left pending for ever: the requests the upstream never answered get simulated answers."""
    from conftest import free_port

    upstream = start_upstream(free_port())
    flags = ["--clock", "manual", "--data-dir", str(tmp_path), "--log-level", "warning"]
    first = ServerProcess([*proxy_flags(upstream.url), *flags])
    headers = {"Authorization": "Bearer orphan-user"}
    try:
        with httpx.Client(base_url=first.root + "/v1", headers=headers) as api:
            batch = start_batch(api, jsonl(*(chat_line(f"o-{k}", f"wait o{k}") for k in range(4))))
            assert poll(api, batch["id"])["status"] == "validating"  # planned: its rows stored as pending
    finally:
        first.proc.kill()  # nothing sent yet (the clock has not moved): every request pending
        first.proc.wait(timeout=10)
    upstream.kill()
    second = ServerProcess(flags)  # no --upstream any more
    try:
        with httpx.Client(base_url=second.root + "/v1", headers=headers) as api:
            httpx.post(second.root + "/_mock/clock/advance", json={"seconds": 60}).raise_for_status()
            done = wait_for(lambda: (b := poll(api, batch["id"]))["status"] == "completed" and b, "the end")
            assert done["request_counts"] == {"total": 4, "completed": 4, "failed": 0}
            assert sorted(x["custom_id"] for x in lines_of(api, batch["output_file_id"])) == [f"o-{k}" for k in range(4)]
    finally:
        second.proc.send_signal(signal.SIGINT)
        second.proc.wait(timeout=10)

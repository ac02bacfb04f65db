"""What the simulator adds works the same under `--profile openai`: durability across a hard stop,
faults on purpose (in OpenAI's envelope), the control API; and a data folder written before the
profile existed opens and gains its columns."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import httpx
import orjson

from contract_tests.helpers import chat_line, jsonl
from mockserver.store import Store
from mockserver.testing import AsgiTarget, ServerProcess


def _server(data_dir: Path) -> tuple[ServerProcess, httpx.Client]:
    server = ServerProcess(["--profile", "openai", "--clock", "manual", "--seed", "5", "--data-dir", str(data_dir),
                            "--log-level", "warning"])
    return server, httpx.Client(base_url=server.root + "/v1", headers={"Authorization": "Bearer durable"})


def _create(api: httpx.Client, content: bytes) -> dict[str, object]:
    upload = api.post("/files", data={"purpose": "batch"}, files={"file": ("in.jsonl", content)})
    assert upload.status_code == 200, upload.text
    created = api.post("/batches", json={"input_file_id": upload.json()["id"], "endpoint": "/v1/chat/completions",
                                         "completion_window": "24h"})
    assert created.status_code == 200, created.text
    body: dict[str, object] = created.json()
    return body


def test_an_openai_profile_batch_survives_a_kill(tmp_path: Path) -> None:
    first, api = _server(tmp_path)
    good = _create(api, jsonl(*(chat_line(f"r{i}") for i in range(40))))
    bad = _create(api, jsonl(chat_line("a"), chat_line("a")))
    api.post(first.root + "/_mock/clock/advance", json={"seconds": 2}).raise_for_status()
    before = api.get(f"/batches/{good['id']}").json()
    failed = api.get(f"/batches/{bad['id']}").json()
    assert before["status"] == "in_progress" and failed["status"] == "failed"
    api.close()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    second, api = _server(tmp_path)
    try:
        assert api.get(f"/batches/{good['id']}").json() == before
        assert api.get(f"/batches/{bad['id']}").json() == failed  # the validation errors were stored
        api.post(second.root + "/_mock/clock/advance", json={"seconds": 600}).raise_for_status()
        done = api.get(f"/batches/{good['id']}").json()
        assert done["status"] == "completed" and done["request_counts"]["completed"] == 40
        lines = api.get(f"/files/{done['output_file_id']}/content").content.splitlines()
        assert sorted(orjson.loads(line)["custom_id"] for line in lines) == sorted(f"r{i}" for i in range(40))
    finally:
        api.close()
        second.proc.send_signal(signal.SIGINT)
        second.proc.wait(timeout=10)


def test_http_faults_answer_in_the_openai_envelope() -> None:
    sim = AsgiTarget(["--profile", "openai", "--seed", "1"])
    try:
        sim.control("PUT", "/_mock/faults", {"http": [{"method": "GET", "path": "/v1/files", "status": 429,
                                                        "retry_after": 2, "times": 1}]})
        with sim.client(sim.new_key()) as api:
            limited = api.get("/files")
            assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
            assert limited.json()["error"]["code"] == "rate_limit_exceeded"
            assert set(limited.json()["error"]) == {"message", "type", "param", "code"}
            assert api.get("/files").status_code == 200
    finally:
        sim.close()


def test_a_data_folder_from_before_the_profiles_gains_its_columns(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "state.sqlite3")
    old.execute("CREATE TABLE batches (id TEXT PRIMARY KEY, owner TEXT NOT NULL, input_file_id TEXT, "
                "source_file_id TEXT NOT NULL, endpoint TEXT NOT NULL, completion_window TEXT NOT NULL, "
                "metadata TEXT NOT NULL, created_at REAL NOT NULL, ready_at REAL NOT NULL, expires_at REAL NOT NULL, "
                "total INTEGER NOT NULL, output_file_id TEXT, error_file_id TEXT, cancelled_at REAL, "
                "scheduled INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0)")
    old.execute("INSERT INTO batches VALUES ('b', 'o', 'f', 'f', '/v1/chat/completions', '24h', '{}', 1, 2, 3, 0, "
                "NULL, NULL, NULL, 1, 0)")
    old.commit()
    old.close()
    store = Store(tmp_path)
    try:
        row = store.get_batch("b")
        assert row is not None and row.errors is None and row.model is None
    finally:
        store.close()

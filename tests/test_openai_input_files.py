"""OpenAI-profile input files (any JSONL, checked per batch): the spans kept stop at the request
limit while the batch-time check still counts every line."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_tests.helpers import chat_line, jsonl
from mockserver.domain import files as files_module
from mockserver.domain.files import closed_spans, raw_lines
from mockserver.domain.line_scan import OPEN_END, LineScanner
from mockserver.domain.validation import LineRules
from mockserver.testing import AsgiTarget

LIMIT = 5
RULES = LineRules(allowed_url_paths=("/v1/chat/completions",), model_kinds={}, max_body_size=0)


@pytest.fixture(scope="module")
def sim() -> Iterator[AsgiTarget]:
    target = AsgiTarget(["--profile", "openai", "--seed", "4", "--max-requests-per-file", str(LIMIT)])
    yield target
    target.close()


def scan(content: bytes, max_requests: int, chunk: int = 7) -> LineScanner:
    scanner = LineScanner(RULES, max_requests, check_lines=False)
    for at in range(0, len(content), chunk):
        scanner.feed(content[at : at + chunk])
    scanner.end_part()
    return scanner


def request_lines(content: bytes) -> list[bytes]:
    return [line.strip() for line in content.split(b"\n") if line.strip()]


def upload(sim: AsgiTarget, key: str, content: bytes) -> str:
    with sim.client(key) as api:
        got = api.post("/files", data={"purpose": "batch"}, files={"file": ("in.jsonl", content)})
    assert got.status_code == 200, got.text
    file_id: str = got.json()["id"]
    return file_id


# -- the spans kept ---------------------------------------------------------------------------------
def test_past_the_limit_one_open_span_stands_for_the_rest() -> None:
    content = b"\n".join(b"{}" if i % 3 else b"  " for i in range(3000)) + b"\n"
    scanner = scan(content, LIMIT)
    assert scanner.lines == 2000
    assert len(scanner.spans) == 2 * (LIMIT + 1) and scanner.spans[-1] == OPEN_END
    assert scan(content, 0).lines == 2000 and len(scan(content, 0).spans) == 2 * 2000  # no limit: all kept


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.sampled_from([b"{}", b'{"a": 1}', b"", b"  ", b"\r", b"x" * 20, b" y "]), max_size=40),
       end=st.sampled_from([b"", b"\n", b"\r\n"]), limit=st.integers(0, 12), chunk=st.integers(1, 30),
       read=st.integers(1, 16))
def test_raw_lines_read_every_line_through_an_open_span(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], end: bytes, limit: int, chunk: int, read: int
) -> None:
    content = b"\n".join(lines) + end
    scanner = scan(content, limit, chunk)
    expected = request_lines(content)
    assert scanner.lines == len(expected)
    assert len(scanner.spans) <= 2 * (limit + 1 if limit else len(expected))
    path = tmp_path_factory.mktemp("blob") / "file"
    path.write_bytes(content)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(files_module, "READ_CHUNK", read)  # lines cut across reads
        assert list(raw_lines(path, scanner.spans, range(len(scanner.spans) // 2))) == expected


def test_an_upload_over_the_limit_keeps_limit_plus_one_spans_and_its_batch_fails(sim: AsgiTarget) -> None:
    key = sim.new_key()
    content = jsonl(*(chat_line(f"r{i}") for i in range(40))).replace(b"\n", b"\n\n", 7)
    file_id = upload(sim, key, content)
    row = sim.backend.store.get_file(file_id)
    assert row is not None and row.line_count == 40
    assert len(sim.backend.store.file_spans(file_id)) <= 2 * (LIMIT + 1)
    with sim.client(key) as api:
        created = api.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h"})
        assert created.status_code == 200, created.text
        sim.advance(5)
        batch = api.get(f"/batches/{created.json()['id']}").json()
    assert batch["status"] == "failed"
    assert batch["errors"]["data"] == [{
        "code": "too_many_tasks", "line": None, "param": None,
        "message": f"The batch input file contains 40 requests, which exceeds the limit of {LIMIT} requests per batch.",
    }]


def test_a_file_at_the_limit_still_runs(sim: AsgiTarget) -> None:
    key = sim.new_key()
    file_id = upload(sim, key, jsonl(*(chat_line(f"r{i}") for i in range(LIMIT))))
    with sim.client(key) as api:
        created = api.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h"}).json()
        sim.advance(3600)
        batch = api.get(f"/batches/{created['id']}").json()
        assert batch["status"] == "completed" and batch["request_counts"]["completed"] == LIMIT
        out = api.get(f"/files/{batch['output_file_id']}/content").content
    assert sorted(orjson.loads(line)["custom_id"] for line in out.splitlines()) == [f"r{i}" for i in range(LIMIT)]


def test_a_file_written_before_the_spans_were_capped_reads_the_same(tmp_path: Path) -> None:
    """Spans of every line (as stored before the cap) still read the same."""
    content = b"{}\n\n[1]\n2\n"
    path = tmp_path / "blob"
    path.write_bytes(content)
    full = scan(content, 0).spans
    assert list(raw_lines(path, full, range(3))) == [b"{}", b"[1]", b"2"]


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.sampled_from([b"{}", b'{"a": 1}', b"", b"  ", b"\r", b" y "]), max_size=30),
       end=st.sampled_from([b"", b"\n", b"\r\n"]), limit=st.integers(1, 8))
def test_closed_spans_are_the_spans_of_every_line(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], end: bytes, limit: int
) -> None:
    content = b"\n".join(lines) + end
    path = tmp_path_factory.mktemp("blob") / "file"
    path.write_bytes(content)
    assert closed_spans(path, scan(content, limit).spans) == scan(content, 0).spans


def test_a_limit_raised_after_the_upload_runs_every_line() -> None:
    # e.g. restarted with a higher --max-requests-per-file: the batch's check passes, so it plans every line
    target = AsgiTarget(["--profile", "openai", "--seed", "4", "--max-requests-per-file", str(LIMIT)])
    try:
        key = target.new_key()
        file_id = upload(target, key, jsonl(*(chat_line(f"r{i}") for i in range(12))))
        batches = target.backend.batches
        batches.settings = dataclasses.replace(batches.settings, max_requests_per_file=0)
        with target.client(key) as api:
            created = api.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                                 "completion_window": "24h"}).json()
            target.advance(3600)
            batch = api.get(f"/batches/{created['id']}").json()
            assert batch["status"] == "completed" and batch["request_counts"]["completed"] == 12
            out = api.get(f"/files/{batch['output_file_id']}/content").content
        assert sorted(orjson.loads(line)["custom_id"] for line in out.splitlines()) == sorted(f"r{i}" for i in range(12))
    finally:
        target.close()

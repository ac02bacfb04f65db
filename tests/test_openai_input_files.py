"""OpenAI-profile input files (any JSONL, checked per batch): the spans kept stop at the request
limit while the batch-time check still counts every line; the content is the file as uploaded,
streamed in chunks, with `skip` and `limit` counting request lines (README: "`skip`/`limit` still
answered"), also past the spans kept for a file over `--max-requests-per-file`."""

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
from mockserver.domain.pages import Content
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
        planning = target.backend.planning  # the limit the batch's check reads
        planning.settings = dataclasses.replace(planning.settings, max_requests_per_file=0)
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


# -- content: the file as uploaded, streamed, paged by request lines -------------------------------
def line_starts(content: bytes) -> list[int]:
    """Where each non-blank line starts (the reference for content pages)."""
    starts, at = [], 0
    for line in content.split(b"\n"):
        if line.strip():
            starts.append(at)
        at += len(line) + 1
    return starts


def streamed(content: Content) -> list[bytes]:
    assert isinstance(content.chunks, Iterator), "streamed from disk, not read whole"
    return list(content.chunks)


# -- content ----------------------------------------------------------------------------------------
def test_content_is_streamed_not_read_whole(sim: AsgiTarget) -> None:
    key = sim.new_key()
    content = b'{"not": "a request"}\n\nnot json\n'
    file_id = upload(sim, key, content)
    owner = sim.backend.users.from_authorization(f"Bearer {key}").id
    assert b"".join(streamed(sim.backend.files.content(owner, file_id, None, None, None))) == content


def test_a_big_file_streams_in_chunks(sim: AsgiTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files_module, "READ_CHUNK", 1000)
    key = sim.new_key()
    content = jsonl(*(chat_line(f"r{i}") for i in range(200)))
    file_id = upload(sim, key, content)
    owner = sim.backend.users.from_authorization(f"Bearer {key}").id
    chunks = streamed(sim.backend.files.content(owner, file_id, None, None, None))
    assert len(chunks) == -(-len(content) // 1000) and max(map(len, chunks)) == 1000
    assert b"".join(chunks) == content


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.sampled_from([b"{}", b'{"custom_id": "x"}', b"", b"   ", b"not json", b"\r"]), max_size=25),
       end=st.sampled_from([b"", b"\n"]), skip=st.one_of(st.none(), st.integers(-2, 30)),
       limit=st.one_of(st.none(), st.integers(-1, 30)))
def test_skip_and_limit_count_request_lines_and_pages_keep_the_bytes(
    sim: AsgiTarget, lines: list[bytes], end: bytes, skip: int | None, limit: int | None
) -> None:
    """With more lines than `--max-requests-per-file`, pages past the stored spans are found too."""
    content = b"\n".join(lines) + end
    key = sim.new_key()
    file_id = upload(sim, key, content)
    params = {k: str(v) for k, v in (("skip", skip), ("limit", limit)) if v is not None}
    with sim.client(key) as api:
        got = api.get(f"/files/{file_id}/content", params=params)
    assert got.status_code == 200
    starts = line_starts(content)
    total = len(starts)
    first = max(0, skip or 0)

    def start_of(i: int) -> int:
        return starts[i] if i < total else len(content)

    lo = 0 if first == 0 else start_of(first)
    if limit is None:
        assert got.content == content[lo:]
        assert got.headers["x-incomplete"] == "false" and "x-last-line" not in got.headers
        return
    size = max(1, min(101, limit))
    assert got.content == content[lo : max(lo, start_of(first + size))]
    last = first + max(0, min(size, total - first))
    assert got.headers["x-last-line"] == str(last)
    assert got.headers["x-incomplete"] == ("true" if last < total else "false")


def test_pages_joined_are_the_file(sim: AsgiTarget) -> None:
    content = b"\n\n" + jsonl(*(chat_line(f"r{i}") for i in range(23))).replace(b"\n", b"\r\n\n", 5) + b"  \n"
    key = sim.new_key()
    file_id = upload(sim, key, content)
    pages, skip = [], 0
    with sim.client(key) as api:
        while True:
            got = api.get(f"/files/{file_id}/content", params={"skip": skip, "limit": 4})
            pages.append(got.content)
            skip = int(got.headers["x-last-line"])
            if got.headers["x-incomplete"] == "false":
                break
    assert skip == 23 and len(pages) == 6
    assert b"".join(pages) == content


def test_spans_of_every_line_page_the_same(tmp_path: Path) -> None:
    """Spans of every line (as stored before the cap) find the pages too."""
    content = b"{}\n\n[1]\n2\n"
    path = tmp_path / "blob"
    path.write_bytes(content)
    scanner = LineScanner(RULES, 0, check_lines=False)
    scanner.feed(content)
    scanner.end_part()
    assert b"".join(files_module._byte_range(path, scanner.spans, 1, 2)) == b"[1]\n"
    assert b"".join(files_module._byte_range(path, scanner.spans, 1, None)) == b"[1]\n2\n"

"""OpenAI-profile input file content: the file as uploaded, streamed in chunks, with `skip` and
`limit` counting request lines (README: "`skip`/`limit` still answered"), also past the spans kept
for a file over `--max-requests-per-file`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_tests.helpers import chat_line, jsonl
from mockserver.domain import files as files_module
from mockserver.domain.files import Content
from mockserver.domain.line_scan import LineScanner
from mockserver.domain.validation import LineRules
from mockserver.testing import AsgiTarget

LIMIT = 5
RULES = LineRules(allowed_url_paths=("/v1/chat/completions",), model_kinds={}, max_body_size=0)


@pytest.fixture(scope="module")
def sim() -> Iterator[AsgiTarget]:
    target = AsgiTarget(["--profile", "openai", "--seed", "4", "--max-requests-per-file", str(LIMIT)])
    yield target
    target.close()


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


def upload(sim: AsgiTarget, key: str, content: bytes) -> str:
    with sim.client(key) as api:
        got = api.post("/files", data={"purpose": "batch"}, files={"file": ("in.jsonl", content)})
    assert got.status_code == 200, got.text
    file_id: str = got.json()["id"]
    return file_id


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

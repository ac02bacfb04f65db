"""Requests and assertions the fuzz properties share: uploading raw multipart bodies, listing a
user's objects, and checking a rejection or a stored file against what the live service does."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import orjson

from fuzz.strategies import MULTIPART_TYPE, Expect, Part, multipart
from fuzz.target import FuzzTarget, StoreState

NDJSON = "application/x-ndjson"
CONTENT_KEYS = ["custom_id", "method", "url", "body"]
_LINE = re.compile(r"\b[Ll]ine (\d+)\b")


def no_5xx(response: httpx.Response) -> httpx.Response:
    request = response.request
    assert response.status_code < 500, f"{request.method} {request.url}: {response.status_code} {response.text[:500]}"
    return response


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post_files(client: httpx.Client, body: bytes, content_type: str | None = MULTIPART_TYPE,
               *, chunked: bool = False) -> httpx.Response:
    """POST a raw body to /files (`chunked`: without Content-Length)."""
    headers = {} if content_type is None else {"content-type": content_type}
    content: bytes | Iterator[bytes] = _chunks(body) if chunked else body
    return no_5xx(client.post("/files", content=content, headers=headers))


def upload(client: httpx.Client, content: bytes, *, filename: bytes = b"batch.jsonl", chunked: bool = False) -> httpx.Response:
    parts = [Part("purpose", b"batch"), Part("file", content, filename, (b"Content-Type: application/jsonl",))]
    return post_files(client, multipart(parts), chunked=chunked)


def _all_of(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    """Every item of a list route, following the `after` cursor."""
    out: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 101}
    while True:
        page = no_5xx(client.get(path, params=params))
        assert page.status_code == 200, page.text
        body = page.json()
        out += body["data"]
        if not body["has_more"]:
            return out
        params["after"] = body["last_id"]


def all_files(client: httpx.Client) -> list[dict[str, Any]]:
    """Every file in the caller's list."""
    return _all_of(client, "/files")


def all_batches(client: httpx.Client) -> list[dict[str, Any]]:
    """Every batch in the caller's list."""
    return _all_of(client, "/batches")


def check_rejected(response: httpx.Response, expect: Expect) -> None:
    """Status, message and line number, as live gives them."""
    text = response.text
    assert response.status_code == expect.status, f"{response.status_code} {text[:500]}"
    assert response.headers["content-type"].startswith("text/plain"), response.headers["content-type"]
    if expect.exact:
        assert text == expect.prefix, text[:500]
    else:
        assert text.startswith(expect.prefix), text[:500]
    assert expect.contains in text, text[:500]
    if expect.line is not None:
        named = _LINE.search(text)
        assert named is not None, text[:500]
        reported = int(named.group(1))
        if expect.line_at_most:
            assert 1 <= reported <= expect.line, text[:500]
        else:
            assert reported == expect.line, text[:500]


def check_nothing_stored(target: FuzzTarget, client: httpx.Client, before: StoreState | None,
                         files_before: Sequence[dict[str, Any]] = ()) -> None:
    """A rejected upload leaves the caller's list and (in-process) the store as they were."""
    assert all_files(client) == list(files_before)
    assert target.store_state() == before


def check_content(client: httpx.Client, file_id: str, expected: Sequence[dict[str, Any]]) -> None:
    """The content endpoint gives back each request, in order, as one compact `{custom_id, method,
    url, body}` line (`priority` and unknown keys gone), the body's keys sorted at every level (live
    re-serialises it through serde_json's `Value`, a BTreeMap); an input file is never incomplete."""
    response = no_5xx(client.get(f"/files/{file_id}/content"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == NDJSON
    assert response.headers["x-incomplete"] == "false"
    assert "x-last-line" not in response.headers
    lines = response.content.split(b"\n")
    assert lines.pop() == b""
    assert len(lines) == len(expected)
    for k, (raw, want) in enumerate(zip(lines, expected, strict=True)):
        got = orjson.loads(raw)
        assert list(got) == CONTENT_KEYS, (k, got)
        assert raw == orjson.dumps(got), (k, raw)  # compact
        assert orjson.dumps(got["body"]) == orjson.dumps(got["body"], option=orjson.OPT_SORT_KEYS), (k, raw)
        assert got == want, (k, got, want)


def check_accepted(client: httpx.Client, response: httpx.Response, *, size: int, filename: str | None,
                   expected: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """201 with the file object; GET and the list agree with it; the content round-trips."""
    assert response.status_code == 201, response.text[:500]
    created: dict[str, Any] = response.json()
    assert created["object"] == "file"
    assert created["purpose"] == "batch"
    assert created["bytes"] == size
    assert created["filename"] == (f"upload-{created['id']}" if filename is None else filename)
    fetched = no_5xx(client.get(f"/files/{created['id']}")).json()
    assert {k: fetched[k] for k in created} == created
    assert created["id"] in {f["id"] for f in all_files(client)}
    check_content(client, created["id"], expected)
    return created

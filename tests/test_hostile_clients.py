"""Hostile and careless clients against a real simulator process (`python -m mockserver`, manual clock).

Another user's ids on every route; oversized, slow and malformed uploads; header injection through
`custom_id`; path tricks in filenames; JSON nesting bombs; huge and negative `limit`/`skip`; ids that
are not UUIDs; and `--api-key` / `--control-token`. Each answer must be a clear 4xx (or the documented
clamping), never a 5xx, and the server must be unharmed afterwards (`assert_healthy`).

The server bugs these tests found (a long multipart boundary, JSON nested past serde's 128 levels,
skip/limit beyond 64 bits, other spellings of a UUID) are fixed; their cases pin the fixes.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from contract_tests.helpers import chat_line, jsonl, upload, upload_ok
from contract_tests.targets import CHAT_MODEL
from mockserver.testing import ServerProcess, stop_process

MAX_FILE_SIZE = 1024 * 1024
MAX_BODY = 64 * 1024
SERVER_FLAGS = ("--clock", "manual", "--seed", "9", "--max-file-size", str(MAX_FILE_SIZE),
                "--max-request-body-size", str(MAX_BODY))


class Sim:
    """A simulator process with its data folder and working directory under the test's own tmp folder
    (so a write outside the data folder would show), its output drained by a thread."""

    def __init__(self, base: Path, *flags: str) -> None:
        self.base = base
        self.data_dir = base / "state" / "data"
        self.cwd = base / "cwd"
        self.cwd.mkdir(parents=True)
        # run in an empty working directory (to see stray writes), on this checkout's code
        repo = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
        self.server = ServerProcess(["--data-dir", str(self.data_dir), "--log-level", "warning", *flags],
                                    cwd=self.cwd, env=env)
        self.proc, self.output = self.server.proc, self.server.output
        self.root = self.server.root
        self.base_url = self.root + "/v1"
        url = httpx.URL(self.root)
        assert url.host and url.port
        self.address = (url.host, url.port)

    def client(self, key: str | None, prefix: str = "/v1") -> httpx.Client:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.root + prefix, headers=headers, timeout=30)

    def advance(self, seconds: float, token: str | None = None) -> None:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        response = httpx.post(self.root + "/_mock/clock/advance", json={"seconds": seconds}, headers=headers)
        assert response.status_code == 200, response.text

    def close(self) -> None:
        stop_process(self.proc)


def new_key() -> str:
    return f"hostile-{uuid.uuid4()}"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    server = Sim(tmp_path_factory.mktemp("hostile"), *SERVER_FLAGS)
    yield server
    server.close()


def assert_healthy(sim: Sim) -> None:
    """The server is unharmed: a fresh user uploads, creates a batch, runs it and reads the output."""
    with sim.client(new_key()) as api:
        file = upload_ok(api, jsonl(chat_line("ok-1"), chat_line("ok-2")))
        response = api.post("/batches", json={"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                                              "completion_window": "24h"})
        assert response.status_code == 201, response.text
        batch = response.json()
        sim.advance(60)
        done = api.get(f"/batches/{batch['id']}")
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "completed"
        assert done.json()["request_counts"] == {"total": 2, "completed": 2, "failed": 0}
        output = api.get(f"/files/{batch['output_file_id']}/content")
        assert sorted(orjson.loads(line)["custom_id"] for line in output.text.splitlines()) == ["ok-1", "ok-2"]


def no_trace(sim: Sim, api: httpx.Client) -> None:
    """Nothing stored for `api`'s user and no temporary file left."""
    listed = api.get("/files")
    assert listed.status_code == 200
    assert listed.json()["data"] == []
    assert not list((sim.data_dir / "tmp").iterdir())


# -- another user's ids -------------------------------------------------------------------------------
@dataclass
class World:
    owner_key: str
    other_key: str
    file: dict[str, Any]
    batch: dict[str, Any]
    request_ids: list[str]
    response_id: str
    other_files: set[str]
    other_batches: set[str]


@pytest.fixture(scope="module")
def world(sim: Sim) -> World:
    """The owner: a file, a finished batch (one line failed, so retry has work) and a background response.
    The other user: a file and a batch of their own, so their lists are not empty."""
    owner, other = new_key(), new_key()
    with sim.client(owner) as api:
        file = upload_ok(api, jsonl(chat_line("mine-1"), chat_line("mine-2", temperature=9)), filename="secret-owner.jsonl")
        created = api.post("/batches", json={"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h", "metadata": {"project": "secret-owner"}})
        assert created.status_code == 201
        sim.advance(60)
        batch = api.get(f"/batches/{created.json()['id']}").json()
        assert batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
        results = api.get(f"/batches/{batch['id']}/results")
        request_ids = [orjson.loads(line)["id"] for line in results.text.splitlines()]
        response = api.post("/responses", json={"model": CHAT_MODEL, "input": "hi", "background": True})
        assert response.status_code == 200, response.text
    with sim.client(other) as api:
        mine = upload_ok(api, jsonl(chat_line("theirs-1")), filename="other.jsonl")
        their_batch = api.post("/batches", json={"input_file_id": mine["id"], "endpoint": "/v1/chat/completions",
                                                 "completion_window": "24h"}).json()
    return World(owner, other, file, batch, request_ids, response.json()["id"],
                 {mine["id"], their_batch["output_file_id"], their_batch["error_file_id"]}, {their_batch["id"]})


def _owner_state(sim: Sim, world: World) -> list[Any]:
    with sim.client(world.owner_key) as api:
        state: list[Any] = []
        for path in (f"/files/{world.file['id']}", f"/batches/{world.batch['id']}", f"/responses/{world.response_id}"):
            response = api.get(path)
            assert response.status_code == 200, response.text
            state.append(response.json())
        for file_id in (world.file["id"], world.batch["output_file_id"], world.batch["error_file_id"]):
            state.append(api.get(f"/files/{file_id}/content").content)
        listed = api.get("/files").json()["data"]
        state.append(sorted(f["id"] for f in listed))
        return state


def foreign_routes(world: World) -> list[tuple[str, str, Any, int, str]]:
    """(method, path, json body, status, body) for every route, with the owner's ids used by the other."""
    routes: list[tuple[str, str, Any, int, str]] = []
    for file_id in (world.file["id"], world.batch["output_file_id"], world.batch["error_file_id"]):
        missing = f"File with ID {file_id} not found"
        routes += [
            ("GET", f"/files/{file_id}", None, 404, missing),
            ("GET", f"/files/{file_id}/content", None, 404, missing),
            ("GET", f"/files/{file_id}/content?limit=5&skip=0", None, 404, missing),
            ("GET", f"/files/{file_id}/cost-estimate", None, 404, missing),
            ("DELETE", f"/files/{file_id}", None, 404, missing),
            ("POST", "/batches", {"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                  "completion_window": "24h"},
             403, f"Insufficient permissions to Create batch using file {file_id}"),
        ]
    batch_id = world.batch["id"]
    missing = f"Batch with ID {batch_id} not found"
    routes += [
        ("GET", f"/batches/{batch_id}", None, 404, missing),
        ("POST", f"/batches/{batch_id}/cancel", None, 404, missing),
        ("GET", f"/batches/{batch_id}/results", None, 404, missing),
        ("GET", f"/batches/{batch_id}/results?limit=1", None, 404, missing),
        ("GET", f"/batches/{batch_id}/analytics", None, 404, missing),
        ("POST", f"/batches/{batch_id}/retry", None, 404, missing),
        ("POST", f"/batches/{batch_id}/retry-requests", {"request_ids": world.request_ids}, 404, missing),
        ("DELETE", f"/batches/{batch_id}", None, 404, missing),
    ]
    not_found = f"Response with id '{world.response_id}' not found."
    routes += [
        ("GET", f"/responses/{world.response_id}", None, 404, not_found),
        ("POST", f"/responses/{world.response_id}/cancel", None, 404, not_found),
        ("DELETE", f"/responses/{world.response_id}", None, 404, not_found),
    ]
    return routes


@pytest.mark.parametrize("prefix", ["/v1", "/ai/v1"])
def test_another_users_ids_are_404_on_every_route_and_403_on_create(sim: Sim, world: World, prefix: str) -> None:
    before = _owner_state(sim, world)
    with sim.client(world.other_key, prefix) as api:
        for method, path, body, status, text in foreign_routes(world):
            response = api.request(method, path, json=body)
            assert response.status_code == status, (method, path, response.status_code, response.text)
            if status == 404 and path.startswith("/responses"):
                assert response.json()["error"]["message"] == text, (method, path)
            else:
                assert response.text == text, (method, path)
    assert _owner_state(sim, world) == before, "another user's requests changed the owner's objects"


def test_lists_never_show_another_users_objects(sim: Sim, world: World) -> None:
    owner_ids = {world.file["id"], world.batch["id"], world.batch["output_file_id"], world.batch["error_file_id"]}
    with sim.client(world.other_key) as api:
        file_queries: list[dict[str, Any]] = [
            {}, {"limit": 101}, {"order": "asc"}, {"purpose": "batch"}, {"purpose": "batch_output"},
            {"purpose": "batch_error"}, {"search": "secret-owner"}, {"search": world.batch["id"]},
            {"after": world.file["id"]}, {"after": world.batch["output_file_id"], "order": "asc"},
        ]
        for params in file_queries:
            response = api.get("/files", params=params)
            assert response.status_code == 200, (params, response.text)
            ids = {f["id"] for f in response.json()["data"]}
            assert ids <= world.other_files and not ids & owner_ids, params
        assert {f["id"] for f in api.get("/files").json()["data"]} == world.other_files
        batch_queries: list[dict[str, Any]] = [
            {}, {"limit": 101}, {"status": "completed"}, {"status": "in_progress"}, {"search": "secret-owner"},
            {"search": world.batch["id"]}, {"after": world.batch["id"]}, {"active_first": "true"},
        ]
        for params in batch_queries:
            response = api.get("/batches", params=params)
            assert response.status_code == 200, (params, response.text)
            ids = {b["id"] for b in response.json()["data"]}
            assert ids <= world.other_batches and not ids & owner_ids, params
        assert {b["id"] for b in api.get("/batches").json()["data"]} == world.other_batches


# -- oversized bodies -----------------------------------------------------------------------------------
def raw_request(sim: Sim, head: list[str], body: bytes = b"") -> tuple[int, bytes]:
    """Send a request over a raw socket (possibly with less body than declared) and read one answer."""
    with socket.create_connection(sim.address, timeout=30) as sock:
        sock.sendall(("\r\n".join([*head, f"Host: {sim.address[0]}:{sim.address[1]}"]) + "\r\n\r\n").encode() + body)
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer: {raw!r}"
            raw += chunk
        head_bytes, _, rest = raw.partition(b"\r\n\r\n")
        found = re.search(rb"(?i)content-length: *(\d+)", head_bytes)
        length = int(found.group(1)) if found else 0
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(head_bytes.split()[1]), rest[:length]


@pytest.mark.parametrize("declared", [MAX_FILE_SIZE + 64 * 1024, 10**13, 2**63 - 1])
def test_a_declared_oversized_upload_is_413_before_its_body(sim: Sim, declared: int) -> None:
    key = new_key()
    status, body = raw_request(sim, ["POST /v1/files HTTP/1.1", f"Authorization: Bearer {key}",
                                     "Content-Type: multipart/form-data; boundary=b", f"Content-Length: {declared}"],
                               b"--b\r\n")
    assert status == 413
    assert body == f"File exceeds the maximum allowed size of {MAX_FILE_SIZE} bytes".encode()
    with sim.client(key) as api:
        no_trace(sim, api)
    assert_healthy(sim)


@pytest.mark.parametrize("declared", ["99999999999999999999999", "-1", "12abc"])
def test_an_impossible_content_length_is_400(sim: Sim, declared: str) -> None:
    status, _ = raw_request(sim, ["POST /v1/files HTTP/1.1", f"Authorization: Bearer {new_key()}",
                                  "Content-Type: multipart/form-data; boundary=b", f"Content-Length: {declared}"])
    assert status == 400
    assert_healthy(sim)


def test_a_streamed_oversized_upload_is_413_and_leaves_nothing(sim: Sim) -> None:
    line = jsonl(chat_line("big", "y" * 1000))

    def body() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n'
        for _ in range(MAX_FILE_SIZE // len(line) + 5):
            yield line
        yield b"\r\n--b--\r\n"

    with sim.client(new_key()) as api:
        response = api.post("/files", content=body(), headers={"content-type": "multipart/form-data; boundary=b"})
        assert response.status_code == 413
        assert response.text == f"File exceeds the maximum allowed size of {MAX_FILE_SIZE} bytes"
        no_trace(sim, api)
    assert_healthy(sim)


def test_an_oversized_request_line_is_400_and_leaves_nothing(sim: Sim) -> None:
    with sim.client(new_key()) as api:
        response = upload(api, jsonl(chat_line("small"), chat_line("huge", "z" * MAX_BODY)))
        assert response.status_code == 400
        assert response.text.startswith("Line 2: Request body is ")
        no_trace(sim, api)


# -- slow clients ---------------------------------------------------------------------------------------
def open_slow_upload(sim: Sim, key: str) -> socket.socket:
    """An upload whose client sends the headers and the start of the body, then (nearly) nothing."""
    body_start = (b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
                  b'--b\r\nContent-Disposition: form-data; name="file"; filename="slow.jsonl"\r\n\r\n'
                  + jsonl(chat_line("slow-1"))[:40])
    sock = socket.create_connection(sim.address, timeout=30)
    head = ["POST /v1/files HTTP/1.1", f"Host: {sim.address[0]}:{sim.address[1]}", f"Authorization: Bearer {key}",
            "Content-Type: multipart/form-data; boundary=b", "Content-Length: 100000"]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body_start)
    return sock


def others_get_served(sim: Sim) -> None:
    """Another client completes a full round (each request must answer within the client's timeout)."""
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": f"Bearer {new_key()}"}, timeout=5) as api:
        file = upload_ok(api, jsonl(chat_line("quick")))
        assert api.get(f"/files/{file['id']}/content").status_code == 200
        assert api.get("/files").status_code == 200
        created = api.post("/batches", json={"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h"})
        assert created.status_code == 201
        assert api.get(f"/batches/{created.json()['id']}").status_code == 200


def test_slow_uploads_do_not_block_other_clients(sim: Sim) -> None:
    key = new_key()
    slow = [open_slow_upload(sim, key) for _ in range(8)]
    # a slowloris too: request headers that never end
    loris = socket.create_connection(sim.address, timeout=30)
    loris.sendall(b"GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
    try:
        with sim.client(key) as api:  # the uploads are in flight: each is spooling to tmp/
            for _ in range(1000):
                if len(list((sim.data_dir / "tmp").iterdir())) >= len(slow):
                    break
                api.get("/files")
        assert len(list((sim.data_dir / "tmp").iterdir())) == len(slow)
        others_get_served(sim)
        for sock in slow:  # a byte a second, without the second
            sock.sendall(b"x")
        loris.sendall(b"k")
        others_get_served(sim)
    finally:
        for sock in [*slow, loris]:
            sock.close()
    # the abandoned uploads are dropped: nothing listed, and the temporary files go away
    with sim.client(key) as api:
        for _ in range(1000):
            if not list((sim.data_dir / "tmp").iterdir()):
                break
            api.get("/files")  # each round trip lets the server notice the closed connections
        no_trace(sim, api)
    assert_healthy(sim)


# -- malformed multipart -------------------------------------------------------------------------------
FILE_HEAD = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
LINE = jsonl(chat_line("m"))
MALFORMED: dict[str, tuple[str, bytes]] = {
    "no boundary parameter": ("multipart/form-data", FILE_HEAD + LINE + b"\r\n--b--\r\n"),
    "not multipart": ("application/json", b'{"file": "x"}'),
    "no content type": ("", FILE_HEAD + LINE + b"\r\n--b--\r\n"),
    "other boundary in body": ("multipart/form-data; boundary=zz", FILE_HEAD + LINE + b"\r\n--b--\r\n"),
    "truncated, no closing boundary": ("multipart/form-data; boundary=b", FILE_HEAD + LINE),
    "empty body": ("multipart/form-data; boundary=b", b""),
    "binary part headers": ("multipart/form-data; boundary=b", b"--b\r\n\x00\x01\x02\r\n\r\nx\r\n--b--\r\n"),
    "header without colon": ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition form-data\r\n\r\nx\r\n--b--\r\n"),
    "no file part": ("multipart/form-data; boundary=b",
                     b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b--\r\n'),
    "part header over 1 MiB": ("multipart/form-data; boundary=b",
                             b"--b\r\nX-Pad: " + b"p" * (1024 * 1024 + 1) + b"\r\n" + FILE_HEAD[5:] + LINE + b"\r\n--b--\r\n"),
    "many part headers": ("multipart/form-data; boundary=b",
                          b"--b\r\n" + b"X-H: 1\r\n" * 100 + FILE_HEAD[5:] + LINE + b"\r\n--b--\r\n"),
    "invalid utf-8 in the file": ("multipart/form-data; boundary=b", FILE_HEAD + b"\xff\xfe\xfa\n\r\n--b--\r\n"),
    "boundary of 300 characters": ("multipart/form-data; boundary=" + "q" * 300,
                                   b"--" + b"q" * 300 + b"\r\n" + FILE_HEAD[5:] + LINE + b"\r\n--" + b"q" * 300 + b"--\r\n"),
}
@pytest.mark.parametrize("case", [
    name for name in MALFORMED
])
def test_malformed_multipart_is_400_and_leaves_nothing(sim: Sim, case: str) -> None:
    content_type, body = MALFORMED[case]
    with sim.client(new_key()) as api:
        headers = {"content-type": content_type} if content_type else {}
        response = api.post("/files", content=body, headers=headers)
        assert response.status_code == 400, (response.status_code, response.text)
        assert response.text, "a 400 says why"
        no_trace(sim, api)
    assert_healthy(sim)


# -- header injection through custom_id -------------------------------------------------------------------
@pytest.mark.parametrize("custom_id", ["a\r\nX-Injected: yes", "a\nX-Injected: yes", "a\rb", "a\x00b", "a\x7fb", "\x1b[31m"])
def test_control_characters_in_custom_id_are_400(sim: Sim, custom_id: str) -> None:
    with sim.client(new_key()) as api:
        response = upload(api, jsonl(chat_line("fine"), chat_line(custom_id)))
        assert response.status_code == 400
        assert response.text == ("Line 2: custom_id contains invalid characters: must be valid ASCII without "
                                 "control characters")
        assert "x-injected" not in response.headers
        no_trace(sim, api)


def test_crlf_in_other_inputs_never_reaches_a_response_header(sim: Sim) -> None:
    with sim.client(new_key()) as api:
        file = upload_ok(api, jsonl(chat_line("h")), filename="a.jsonl\r\nX-Injected: yes")
        created = api.post("/batches", json={"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h", "metadata": {"k\r\nX-Injected": "v\r\nX-Injected: yes"}})
        assert created.status_code == 201
        for path in (f"/files/{file['id']}", f"/files/{file['id']}/content?search=%0D%0AX-Injected:%20yes",
                     f"/batches/{created.json()['id']}", "/batches?search=%0D%0AX-Injected", "/files?search=%0D%0A"):
            response = api.get(path)
            assert response.status_code == 200, path
            assert "x-injected" not in response.headers, path


# -- path tricks in filenames ------------------------------------------------------------------------------
TRICKY_NAMES = ["../../etc/passwd", "a/b.jsonl", "/etc/passwd", "..", ".", "a\\..\\..\\b.jsonl", "..%2f..%2fx",
                "~/x.jsonl", "con.jsonl", "x" * 1000, "ü" * 1500, "-rf", "$(touch pwned).jsonl"]


@pytest.mark.parametrize("name", TRICKY_NAMES, ids=lambda n: n[:20])
def test_path_tricks_in_filenames_are_plain_names(sim: Sim, name: str) -> None:
    # httpx sends a backslash as `\\`; live's multer keeps both (it unescapes only `\"`)
    expected = name.replace("\\", "\\\\")
    with sim.client(new_key()) as api:
        file = upload_ok(api, jsonl(chat_line("p")), filename=name)
        assert file["filename"] == expected
        assert api.get(f"/files/{file['id']}").json()["filename"] == expected
        assert [f["id"] for f in api.get("/files", params={"search": expected[:50]}).json()["data"]] == [file["id"]]
        stored = api.get(f"/files/{file['id']}/content").content
        assert orjson.loads(stored) == orjson.loads(jsonl(chat_line("p")))
    assert_nothing_outside_the_data_folder(sim)


def test_a_very_long_filename_is_stored_whole(sim: Sim) -> None:
    with sim.client(new_key()) as api:
        # multer puts no limit on a filename's length, so live stores it whole
        response = upload(api, jsonl(chat_line("p")), filename="L" * 20_000)
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "L" * 20_000
    assert_nothing_outside_the_data_folder(sim)
    assert_healthy(sim)


def assert_nothing_outside_the_data_folder(sim: Sim) -> None:
    """Bodies live in `files/<uuid>.jsonl`; nothing lands in the working directory or beside the data folder."""
    assert list(sim.cwd.iterdir()) == []
    assert [p.name for p in sim.data_dir.parent.iterdir()] == ["data"]
    assert {p.name for p in sim.data_dir.iterdir()} <= {"files", "tmp", "state.sqlite3", "state.sqlite3-wal",
                                                          "state.sqlite3-shm", "state.sqlite3-journal"}
    pattern = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl")
    for path in (sim.data_dir / "files").rglob("*"):
        assert path.parent == sim.data_dir / "files" and pattern.fullmatch(path.name), path
    assert not list((sim.data_dir / "tmp").iterdir())


# -- JSON nesting bombs --------------------------------------------------------------------------------------
def nested_list(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_schema(depth: int) -> bytes:
    return b'{"type":"object","properties":{"a":' * depth + b'{"type":"string"}' + b'},"required":["a"]}' * depth


def chat_body(extra: bytes, content: bytes = b'"hi"') -> bytes:
    return b'{"model":"%s","messages":[{"role":"user","content":%s}]%s}' % (CHAT_MODEL.encode(), content, extra)


def batch_line(body: bytes) -> bytes:
    return b'{"custom_id":"deep","method":"POST","url":"/v1/chat/completions","body":%s}\n' % body


DEEP = 100_000
BODY_BOMBS: list[Any] = [
    pytest.param("/chat/completions", chat_body(b',"extra":' + nested_list(DEEP)), id="chat-extra-100000"),
    pytest.param("/chat/completions", chat_body(b',"extra":' + nested_list(500)), id="chat-extra-500"),
    pytest.param("/chat/completions", chat_body(b"", nested_list(DEEP)), id="chat-content-100000"),
    pytest.param("/chat/completions", chat_body(b"", nested_list(500)), id="chat-content-500"),
    pytest.param("/chat/completions", chat_body(b',"response_format":{"type":"json_schema","json_schema":'
                                                b'{"name":"x","schema":' + nested_schema(100) + b"}}"),
                 id="chat-schema-100"),
    pytest.param("/chat/completions", chat_body(b',"tools":[{"type":"function","function":{"name":"f","parameters":'
                                                + nested_schema(100) + b"}}]"),
                 id="chat-tools-100"),
    pytest.param("/embeddings", b'{"model":"Qwen/Qwen3-Embedding-8B","input":' + nested_list(DEEP) + b"}", id="embeddings"),
    pytest.param("/responses", b'{"model":"%s","background":true,"input":%s}' % (CHAT_MODEL.encode(), nested_list(DEEP)),
                 id="responses"),
    pytest.param("/messages", b'{"model":"%s","max_tokens":5,"messages":%s}' % (CHAT_MODEL.encode(), nested_list(DEEP)),
                 id="messages"),
    pytest.param("/batches", b'{"input_file_id":' + nested_list(DEEP) + b"}", id="create-batch-100000"),
    pytest.param("/batches", b'{"input_file_id":"x","endpoint":"/v1/chat/completions","completion_window":"24h",'
                             b'"metadata":' + b'{"a":' * 500 + b'"v"' + b"}" * 500 + b"}", id="create-batch-metadata-500"),
    pytest.param(f"/batches/{uuid.uuid4()}/retry-requests", b'{"request_ids":' + nested_list(DEEP) + b"}", id="retry-requests"),
    pytest.param("/_mock/clock/advance", b'{"seconds":' + nested_list(DEEP) + b"}", id="control"),
]


@pytest.mark.parametrize(("path", "body"), BODY_BOMBS)
def test_json_nesting_bombs_are_a_clean_4xx_or_accepted(sim: Sim, path: str, body: bytes) -> None:
    with sim.client(new_key()) as api:
        url = sim.root + path if path.startswith("/_mock") else path
        response = api.post(url, content=body, headers={"content-type": "application/json"})
        assert response.status_code < 500, (response.status_code, response.text[:300])
        assert response.status_code in (200, 400, 404, 413, 422), response.status_code
    assert_healthy(sim)


# (line, status at upload): past serde_json's 128 levels the line is refused
UPLOAD_BOMBS: list[Any] = [
    pytest.param(batch_line(chat_body(b',"extra":' + nested_list(DEEP))), 400, id="line-100000"),
    pytest.param(batch_line(chat_body(b',"extra":' + nested_list(100))), 201, id="line-100"),
    pytest.param(batch_line(chat_body(b',"extra":' + nested_list(300))), 400, id="line-300"),
    pytest.param(batch_line(chat_body(b',"extra":' + nested_list(1000))), 400, id="line-1000"),
    pytest.param(batch_line(chat_body(b',"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":'
                                      + nested_schema(200) + b"}}")), 400,
                 id="line-schema-200"),
]


@pytest.mark.parametrize(("line", "status"), UPLOAD_BOMBS)
def test_deeply_nested_batch_lines_are_refused_or_work_everywhere(sim: Sim, line: bytes, status: int) -> None:
    """Refused at upload with a 400, or accepted and then every route that reads the line works."""
    with sim.client(new_key()) as api:
        response = upload(api, line)
        assert response.status_code == status, (response.status_code, response.text[:200])
        if status == 400:
            assert response.text.startswith("Invalid JSON on line 1: recursion limit exceeded at line 1 column ")
            no_trace(sim, api)
            return
        file_id = response.json()["id"]
        for path in (f"/files/{file_id}/content", f"/files/{file_id}/content?limit=1", f"/files/{file_id}/cost-estimate"):
            got = api.get(path)
            assert got.status_code == 200, (path, got.status_code)
        created = api.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h"})
        assert created.status_code == 201, created.text
        sim.advance(60)
        batch_id = created.json()["id"]
        for path in (f"/batches/{batch_id}", f"/batches/{batch_id}/results", f"/batches/{batch_id}/analytics", "/batches",
                     f"/files/{created.json()['output_file_id']}/content", f"/files/{created.json()['error_file_id']}/content"):
            got = api.get(path)
            assert got.status_code == 200, (path, got.status_code)
        assert api.get(f"/batches/{batch_id}").json()["status"] in ("completed", "failed")
    assert_healthy(sim)


# -- huge limit / skip ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paged(sim: Sim) -> tuple[str, dict[str, Any]]:
    """A user with a finished batch of 150 lines (3 failing), so every paged route has more than 101 items."""
    key = new_key()
    with sim.client(key) as api:
        lines = [chat_line(f"pg-{i}", "Hello", **({"temperature": 9} if i % 50 == 0 else {})) for i in range(150)]
        file = upload_ok(api, jsonl(*lines))
        created = api.post("/batches", json={"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h"}).json()
        sim.advance(600)
        batch = api.get(f"/batches/{created['id']}").json()
        assert batch["request_counts"] == {"total": 150, "completed": 147, "failed": 3}
    return key, batch


def paged_path(batch: dict[str, Any], which: str) -> str:
    return {
        "input": f"/files/{batch['input_file_id']}/content",
        "output": f"/files/{batch['output_file_id']}/content",
        "error": f"/files/{batch['error_file_id']}/content",
        "results": f"/batches/{batch['id']}/results",
    }[which]


TOTALS = {"input": 150, "output": 147, "error": 3, "results": 150}


@pytest.mark.parametrize("which", list(TOTALS))
def test_limit_and_skip_are_clamped_as_documented(sim: Sim, paged: tuple[str, dict[str, Any]], which: str) -> None:
    key, batch = paged
    path = paged_path(batch, which)
    total = TOTALS[which]
    with sim.client(key) as api:
        everything = api.get(path).text.splitlines()
        assert len(everything) == total
        # (query, lines expected: everything[start:end]); with a limit, X-Last-Line = skip + lines returned
        cases: list[tuple[dict[str, Any], int, int]] = [
            ({"limit": 10**12}, 0, 101),  # limit clamped to 101
            ({"limit": 0}, 0, 1),  # and to at least 1
            ({"limit": -5}, 0, 1),
            ({"skip": -5, "limit": 2}, 0, 2),  # skip below 0 is 0
            ({"skip": 10**18, "limit": 5}, 10**18, 10**18),  # far past the end: nothing
            ({"skip": 10**18}, 10**18, 10**18),
            ({"skip": -5}, 0, total),
        ]
        for params, start, end in cases:
            response = api.get(path, params=params)
            assert response.status_code == 200, (params, response.text)
            lines = everything[start:end]
            assert response.text.splitlines() == lines, params
            if "limit" in params:
                skip = max(0, params.get("skip", 0))
                assert response.headers["x-last-line"] == str(skip + len(lines)), params


@pytest.mark.parametrize(("which", "query"), [
    (which, query)
    for which in TOTALS
    for query in (f"skip={2**63}&limit=5", f"skip={2**63}", f"limit={2**63}", f"skip={-(2**63) - 1}&limit=2",
                  f"skip={10**30}&limit=3", "skip=" + "9" * 5000, "limit=1e3", "skip=0x10", "limit=%20")
])
def test_limit_and_skip_beyond_64_bits_or_malformed_are_400(
    sim: Sim, paged: tuple[str, dict[str, Any]], which: str, query: str
) -> None:
    key, batch = paged
    with sim.client(key) as api:
        response = api.get(f"{paged_path(batch, which)}?{query}")
        assert response.status_code == 400, (response.status_code, response.text[:200])
        assert response.text.startswith("Failed to deserialize query string: ")
    assert_healthy(sim)


TOO_LARGE = "Failed to deserialize query string: limit: number too large to fit in target type"
LIST_QUERIES: list[Any] = [
    # (route, query, status, the 400's text or None)
    *(pytest.param(route, query, 200, None, id=f"{route}-{query[:20]}")
      for route in ("/files", "/batches")
      for query in (f"limit={10**12}", "limit=-5", f"after={'x' * 5000}", "after=%00", "search=%00%FF",
                    f"search={'s' * 10_000}")),
    pytest.param("/files", f"limit={2**64}", 400, TOO_LARGE, id="/files-limit-2**64"),
    pytest.param("/batches", f"limit={2**64}", 400, TOO_LARGE, id="/batches-limit-2**64"),
    pytest.param("/files", "order=sideways", 400, "Order must be 'asc' or 'desc'", id="/files-order=sideways"),
    pytest.param("/batches", "order=sideways", 200, None, id="/batches-order=sideways"),  # no `order` on /batches
]


@pytest.mark.parametrize(("route", "query", "status", "message"), LIST_QUERIES)
def test_list_parameters_are_clamped_or_400(sim: Sim, paged: tuple[str, dict[str, Any]], route: str, query: str,
                                            status: int, message: str | None) -> None:
    key, _ = paged
    with sim.client(key) as api:
        response = api.get(f"{route}?{query}")
        assert response.status_code == status, (response.status_code, response.text[:200])
        if message is not None:
            assert response.text == message
        else:
            assert len(response.json()["data"]) <= 101


# -- ids that are not UUIDs ------------------------------------------------------------------------------------
BAD_IDS = ["not-a-uuid", "1", "' OR '1'='1", "x" * 5000, "%00", "%E2%80%AE", "00000000-0000-0000-0000-00000000000g",
           "..%2F..%2Fetc%2Fpasswd", "file-abc", "batch_123"]


def id_routes(bad: str) -> list[tuple[str, str, str]]:
    file_error, batch_error = "Invalid file ID format", "Invalid batch ID format"
    return [
        ("GET", f"/files/{bad}", file_error), ("DELETE", f"/files/{bad}", file_error),
        ("GET", f"/files/{bad}/content", file_error), ("GET", f"/files/{bad}/cost-estimate", file_error),
        ("GET", f"/batches/{bad}", batch_error), ("DELETE", f"/batches/{bad}", batch_error),
        ("POST", f"/batches/{bad}/cancel", batch_error), ("GET", f"/batches/{bad}/results", batch_error),
        ("GET", f"/batches/{bad}/analytics", batch_error), ("POST", f"/batches/{bad}/retry", batch_error),
        ("POST", f"/batches/{bad}/retry-requests", batch_error),
    ]


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda b: b[:24])
def test_ids_that_are_not_uuids_are_400(sim: Sim, bad: str) -> None:
    with sim.client(new_key()) as api:
        for method, path, message in id_routes(bad):
            body = {"request_ids": [str(uuid.uuid4())]} if path.endswith("retry-requests") else None
            response = api.request(method, path, json=body)
            if "%2F" in bad:  # an encoded slash makes another path: no route, a plain 404
                assert response.status_code == 404, (method, path)
                continue
            assert response.status_code == 400, (method, path, response.status_code, response.text[:200])
            assert response.text == message, (method, path)
        created = api.post("/batches", json={"input_file_id": bad, "endpoint": "/v1/chat/completions",
                                             "completion_window": "24h"})
        assert created.status_code == 400
        assert created.text == "Invalid input_file_id format"
    assert_healthy(sim)


@pytest.mark.parametrize(
    "form",
    [str.upper, lambda s: s.replace("-", ""), lambda s: "{" + s + "}", lambda s: "urn:uuid:" + s.upper()],
    ids=["upper", "simple", "braced", "urn"],
)
def test_other_spellings_of_a_uuid_find_the_object(sim: Sim, form: Callable[[str], str]) -> None:
    # the spellings uuid 1.x's `Uuid::parse_str` takes (dwctl parses path ids with it)
    with sim.client(new_key()) as api:
        file = upload_ok(api, jsonl(chat_line("u")))
        response = api.get(f"/files/{form(file['id'])}")
        assert response.status_code == 200, response.text
        assert response.json()["id"] == file["id"]


@pytest.mark.parametrize(
    "form",
    [lambda s: "{" + s.replace("-", "") + "}", lambda s: "uuid:" + s, lambda s: "-" + s.replace("-", "") + "-",
     lambda s: "URN:UUID:" + s, lambda s: s[:8] + s[9:13] + "-" + s[13:]],
    ids=["braced-simple", "uuid-prefix", "outer-hyphens", "upper-urn", "moved-hyphen"],
)
def test_spellings_uuid_parse_str_refuses_are_400(sim: Sim, form: Callable[[str], str]) -> None:
    # Python's uuid.UUID takes these; uuid 1.x does not, so live answers `Invalid file ID format`
    with sim.client(new_key()) as api:
        file = upload_ok(api, jsonl(chat_line("u")))
        response = api.get(f"/files/{form(file['id'])}")
        assert response.status_code == 400, response.text
        assert response.text == "Invalid file ID format"


# -- --api-key and --control-token -----------------------------------------------------------------------------
KEYS = ("key-one", "key-two")
TOKEN = "control-secret"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    server = Sim(tmp_path_factory.mktemp("guarded"), "--clock", "manual", "--api-key", KEYS[0], "--api-key", KEYS[1],
                 "--control-token", TOKEN)
    yield server
    server.close()


def emulated_routes() -> list[tuple[str, str]]:
    some = str(uuid.uuid4())
    return [
        ("POST", "/files"), ("GET", "/files"), ("GET", f"/files/{some}"), ("DELETE", f"/files/{some}"),
        ("GET", f"/files/{some}/content"), ("GET", f"/files/{some}/cost-estimate"),
        ("POST", "/batches"), ("GET", "/batches"), ("GET", f"/batches/{some}"), ("DELETE", f"/batches/{some}"),
        ("POST", f"/batches/{some}/cancel"), ("GET", f"/batches/{some}/results"), ("GET", f"/batches/{some}/analytics"),
        ("POST", f"/batches/{some}/retry"), ("POST", f"/batches/{some}/retry-requests"), ("GET", "/models"),
        ("POST", "/chat/completions"), ("POST", "/completions"), ("POST", "/embeddings"), ("POST", "/responses"),
        ("POST", "/messages"), ("GET", "/responses/resp_x"), ("DELETE", "/responses/resp_x"),
        ("POST", "/responses/resp_x/cancel"),
    ]


BAD_AUTH = [None, "Bearer unknown-key", f"Bearer {TOKEN}", f"Bearer {KEYS[0]}x", f"Bearer  {KEYS[0]}", f"Basic {KEYS[0]}",
            f"Bearer {KEYS[0][:-1]}", "Bearer", KEYS[0]]


@pytest.mark.parametrize("prefix", ["/v1", "/ai/v1"])
def test_with_api_keys_unknown_keys_are_401_on_every_emulated_route(guarded: Sim, prefix: str) -> None:
    for auth in BAD_AUTH:
        headers = {} if auth is None else {"Authorization": auth}
        with httpx.Client(base_url=guarded.root + prefix, headers=headers, timeout=30) as api:
            for method, path in emulated_routes():
                if path == "/models" and auth == f"Bearer  {KEYS[0]}":
                    continue  # /models alone trims the key (dwctl ai_models.rs): a known key, so 200
                json_body = {"model": CHAT_MODEL} if method == "POST" and "/files" not in path else None
                response = api.request(method, path, json=json_body)
                assert response.status_code == 401, (auth, method, path, response.status_code, response.text[:200])
    for key in KEYS:
        with guarded.client(key, prefix) as api:
            assert api.get("/files").status_code == 200
            assert api.get("/models").status_code == 200


CONTROL = [("GET", "/_mock/clock", None), ("POST", "/_mock/clock/advance", {"seconds": 5}),
           ("POST", "/_mock/clock/set", {"now": 4_000_000_000}), ("POST", "/_mock/reset", None)]


def test_the_control_token_guards_every_control_route(guarded: Sim) -> None:
    with guarded.client(KEYS[0]) as api:
        kept = upload_ok(api, jsonl(chat_line("kept")))
    clock = httpx.get(guarded.root + "/_mock/clock", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    for auth in [None, f"Bearer {KEYS[0]}", f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN, "Bearer"]:
        headers = {} if auth is None else {"Authorization": auth}
        for method, path, body in CONTROL:
            response = httpx.request(method, guarded.root + path, json=body, headers=headers)
            assert response.status_code == 401, (auth, method, path, response.status_code)
    # nothing happened: the clock did not move and the reset did not run
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(guarded.root + "/_mock/clock", headers=good).json() == clock
    with guarded.client(KEYS[0]) as api:
        assert api.get(f"/files/{kept['id']}").status_code == 200
    for method, path, body in CONTROL:
        response = httpx.request(method, guarded.root + path, json=body, headers=good)
        assert response.status_code == 200, (method, path, response.text)
    with guarded.client(KEYS[0]) as api:
        assert api.get(f"/files/{kept['id']}").status_code == 404  # the guarded reset did run


def test_the_server_is_still_healthy_at_the_end(sim: Sim) -> None:
    assert_healthy(sim)
    assert sim.proc.poll() is None
    assert_nothing_outside_the_data_folder(sim)

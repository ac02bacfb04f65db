"""Kill -9 at seeded moments, restart on the same data folder, and check that nothing was lost or made up.

Each seed plays every kind of kill point once, in a seeded order and with seeded sizes and offsets:

- `mid_upload`: a large multipart body sent over a raw socket (Content-Length or chunked), cut after a
  seeded number of bytes once the server has started spooling it; a rejected upload (an invalid line,
  400, or a streamed body over `--max-file-size`, 413) comes first;
- `after_upload`: SIGKILL right after an upload's 201;
- `after_create`: SIGKILL right after a batch's 201;
- `mid_batch`: the clock advanced a seeded number of seconds into a running batch (sometimes then
  cancelled), the batch read, then SIGKILL;
- `mid_download`: the output of a large batch streamed and only partly read when the server dies.

After every restart: the manual clock is where it was; every upload that got its 201 is listed with the
same metadata and content; interrupted and rejected uploads left nothing (the file list is exactly the
known files, `tmp/` is empty and `files/` holds only the known uploads); every batch reads as it did
just before the kill, with the same output and error content. At the end every batch runs to its end
with each custom_id exactly once in output, error or (when cancelled) the cancelled requests.

More seeds: `DWSIM_KILL_SEEDS=1,2,3,4 pytest tests/test_kill_restart.py`.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from contract_tests.helpers import custom_ids
from contract_tests.lifecycle import TERMINAL, advance_until, partly_done
from contract_tests.targets import CHAT_MODEL
from mockserver.testing import ServerProcess

KEY = "kill-restart-user"
MAX_FILE_SIZE = 4 * 1024 * 1024  # small, so a streamed over-limit upload is cheap
SEEDS = [int(s) for s in os.environ.get("DWSIM_KILL_SEEDS", "11,22,33").split(",") if s.strip()]
KILL_POINTS = ("mid_upload", "after_upload", "after_create", "mid_batch", "mid_download")
FILE_KEYS = ("id", "object", "bytes", "created_at", "filename", "purpose", "expires_at")
BIG_BATCH_LINES = 4000  # about 2.5 MB of output: more than one read of a streamed download


class Server:
    """`python -m mockserver` on a data folder; its output is drained by a thread (a full pipe would
    block the server), and the listening line is awaited on an event."""

    def __init__(self, data_dir: Path, *flags: str) -> None:
        self.data_dir = data_dir
        self.server = ServerProcess(["--data-dir", str(data_dir), "--seed", "5", "--log-level", "warning",
                                     "--max-file-size", str(MAX_FILE_SIZE), *flags])
        self.proc, self.output = self.server.proc, self.server.output
        self.root = self.server.root
        self.api = httpx.Client(base_url=self.root + "/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=60)

    @property
    def address(self) -> tuple[str, int]:
        url = httpx.URL(self.root)
        assert url.host and url.port
        return url.host, url.port

    def control(self, method: str, path: str, json: Any = None) -> Any:
        response = self.api.request(method, self.root + path, json=json)
        assert response.status_code == 200, response.text
        return response.json()

    def now(self) -> float:
        now: float = self.control("GET", "/_mock/clock")["now"]
        return now

    def advance(self, seconds: float) -> None:
        self.control("POST", "/_mock/clock/advance", {"seconds": seconds})

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        with contextlib.suppress(Exception):
            self.api.close()


# -- what the test knows ----------------------------------------------------------------------------
@dataclass
class Upload:
    id: str
    meta: dict[str, Any]
    content: bytes  # the expected content download


@dataclass
class Batch:
    id: str
    custom_ids: list[str]
    output_file_id: str
    error_file_id: str
    big: bool = False
    snapshot: dict[str, Any] | None = None  # GET /batches/{id} just before the last kill
    output: bytes = b""
    error: bytes = b""


@dataclass
class Ledger:
    rng: random.Random
    seed: int
    uploads: dict[str, Upload] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    clock: float = 0.0
    counter: int = 0
    interrupted: int = 0
    rejected: int = 0

    def next_name(self, kind: str) -> str:
        self.counter += 1
        return f"s{self.seed}-{kind}{self.counter}"


def request_line(custom_id: str, text: str, **body: Any) -> bytes:
    """A line in the compact form the content download returns, so the expected content is the upload."""
    obj = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
           "body": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": text}], **body}}
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def make_file(ledger: Ledger, lines: int, pad: int, failing: int = 0) -> tuple[bytes, list[str]]:
    """`lines` requests with unique custom_ids; `failing` of them (seeded) fail at the model (400)."""
    name = ledger.next_name("f")
    bad = set(ledger.rng.sample(range(lines), failing))
    ids = [f"{name}-{i}" for i in range(lines)]
    filler = "lorem ipsum é 東京 " * (pad // 20 + 1)
    out = [request_line(cid, f"{i}: {filler[: pad + i % 97]}", **({"temperature": 9} if i in bad else {}))
           for i, cid in enumerate(ids)]
    data = b"".join(out)
    assert len(data) < MAX_FILE_SIZE - 64 * 1024, "keep the test's uploads under the server's limit"
    return data, ids


def as_stored(content: bytes) -> bytes:
    """What the content download returns for these lines: each request compact, its body's keys sorted
    (live re-serialises bodies through serde_json's sorted map)."""
    out = []
    for line in content.splitlines():
        if line.strip():
            obj = orjson.loads(line)
            head = {k: obj[k] for k in ("custom_id", "method", "url")}
            out.append(orjson.dumps(head)[:-1] + b',"body":' + orjson.dumps(obj["body"], option=orjson.OPT_SORT_KEYS)
                       + b"}\n")
    return b"".join(out)


def upload(sim: Server, ledger: Ledger, content: bytes, filename: str, streamed: bool) -> Upload:
    def chunks() -> Iterator[bytes]:
        step = 64 * 1024
        for start in range(0, len(content), step):
            yield content[start : start + step]

    boundary = "kill-restart-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--{boundary}\r\n"
            f"Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/jsonl\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from chunks()
        yield tail

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    if streamed:  # chunked transfer encoding: the server learns the size only at the end
        response = sim.api.post("/files", content=body(), headers=headers)
    else:
        response = sim.api.post("/files", content=head + content + tail, headers=headers)
    assert response.status_code == 201, response.text
    meta = response.json()
    assert meta["bytes"] == len(content)
    found = Upload(meta["id"], meta, as_stored(content))
    ledger.uploads[found.id] = found
    return found


def create(sim: Server, ledger: Ledger, file: Upload, custom_ids: list[str], big: bool = False) -> Batch:
    response = sim.api.post("/batches", json={"input_file_id": file.id, "endpoint": "/v1/chat/completions",
                                              "completion_window": "24h"})
    assert response.status_code == 201, response.text
    body = response.json()
    batch = Batch(body["id"], custom_ids, body["output_file_id"], body["error_file_id"], big=big, snapshot=body)
    ledger.batches[batch.id] = batch
    return batch


def get_batch(sim: Server, batch_id: str) -> dict[str, Any]:
    response = sim.api.get(f"/batches/{batch_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def content(sim: Server, file_id: str) -> bytes:
    response = sim.api.get(f"/files/{file_id}/content")
    assert response.status_code == 200, response.text
    return response.content


def snapshot_all(sim: Server, ledger: Ledger) -> None:
    """What every batch and the clock look like now; the server is killed before anything changes them."""
    ledger.clock = sim.now()
    for batch in ledger.batches.values():
        batch.snapshot = get_batch(sim, batch.id)
        batch.output = content(sim, batch.output_file_id)
        batch.error = content(sim, batch.error_file_id)


def unfinished(sim: Server, ledger: Ledger, big: bool) -> Batch | None:
    for batch in ledger.batches.values():
        if batch.big == big and get_batch(sim, batch.id)["status"] not in TERMINAL:
            return batch
    return None


def new_batch(sim: Server, ledger: Ledger, lines: int, pad: int, big: bool = False) -> Batch:
    data, ids = make_file(ledger, lines, pad, failing=ledger.rng.randint(0, 3))
    file = upload(sim, ledger, data, f"{ledger.next_name('batch')}.jsonl", streamed=ledger.rng.random() < 0.5)
    return create(sim, ledger, file, ids, big=big)


# -- the kill points: each does its work and returns just before the kill -----------------------------
def wait_for_spool(sim: Server) -> None:
    """Round trips on another connection until the server has started writing the upload to `tmp/`
    (no sleeping: each request lets the server's event loop run)."""
    tmp = sim.data_dir / "tmp"
    deadline = time.monotonic() + 30
    while not any(tmp.iterdir()):
        assert time.monotonic() < deadline, "the server never started spooling the upload"
        sim.now()


def rejected_upload(sim: Server, ledger: Ledger) -> None:
    """An upload the server refuses (a bad line late in a large body, or too large): no trace, at once."""
    before = listed_files(sim)
    if ledger.rng.random() < 0.5:
        data, _ = make_file(ledger, ledger.rng.randint(500, 3000), 300)
        lines = data.splitlines(keepends=True)
        where = ledger.rng.randrange(len(lines) // 2, len(lines))
        lines[where] = b'{"custom_id": "broken", "method": "POST"\n'
        data, status = b"".join(lines), 400
    else:
        data, status = b"", 413
    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="rejected.jsonl"\r\n\r\n'

    def body() -> Iterator[bytes]:
        yield head
        if data:
            yield data
        else:  # a streamed body over --max-file-size: refused mid-stream
            line = request_line("big", "x" * 2000)
            for _ in range(MAX_FILE_SIZE // len(line) + 10):
                yield line
        yield b"\r\n--B--\r\n"

    response = sim.api.post("/files", content=body(), headers={"content-type": "multipart/form-data; boundary=B"})
    assert response.status_code == status, response.text
    ledger.rejected += 1
    assert listed_files(sim) == before
    assert not list((sim.data_dir / "tmp").iterdir()), "a rejected upload left a temporary file"


def mid_upload(sim: Server, ledger: Ledger) -> Callable[[], None]:
    rejected_upload(sim, ledger)
    data, _ = make_file(ledger, ledger.rng.randint(1500, 3500), ledger.rng.randint(100, 400))
    head = (b'--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="interrupted.jsonl"\r\n'
            b"Content-Type: application/jsonl\r\n\r\n")
    body = head + data + b"\r\n--B--\r\n"
    cut = ledger.rng.randint(len(head) + 1, len(body) - 1)
    chunked = ledger.rng.random() < 0.5
    host, port = sim.address
    snapshot_all(sim, ledger)
    sock = socket.create_connection((host, port), timeout=30)
    lines = ["POST /v1/files HTTP/1.1", f"Host: {host}:{port}", f"Authorization: Bearer {KEY}",
             "Content-Type: multipart/form-data; boundary=B"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent = body[:cut]
    if chunked:
        for start in range(0, len(sent), 100_000):
            piece = sent[start : start + 100_000]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    else:
        sock.sendall(sent)
    wait_for_spool(sim)
    ledger.interrupted += 1
    return sock.close  # after the kill


def after_upload(sim: Server, ledger: Ledger) -> None:
    data, _ = make_file(ledger, ledger.rng.randint(1, 3000), ledger.rng.randint(10, 600))
    snapshot_all(sim, ledger)
    upload(sim, ledger, data, f"{ledger.next_name('up')}.jsonl", streamed=ledger.rng.random() < 0.5)


def after_create(sim: Server, ledger: Ledger) -> None:
    data, ids = make_file(ledger, ledger.rng.randint(20, 400), 100, failing=ledger.rng.randint(0, 2))
    file = upload(sim, ledger, data, f"{ledger.next_name('batch')}.jsonl", streamed=False)
    snapshot_all(sim, ledger)
    create(sim, ledger, file, ids)


def mid_batch(sim: Server, ledger: Ledger) -> None:
    rng = ledger.rng
    batch = unfinished(sim, ledger, big=False) or new_batch(sim, ledger, rng.randint(100, 600), 200)
    advance_until(sim, sim.api, batch.id, lambda b: partly_done(b) or b["status"] in TERMINAL,
                  step=rng.choice((0.5, 1.0)), limit=86_400)
    sim.advance(round(rng.uniform(0, 3), 2))  # a seeded extra k seconds, possibly to the end
    if rng.random() < 0.3:
        response = sim.api.post(f"/batches/{batch.id}/cancel")
        assert response.status_code == 200, response.text
    snapshot_all(sim, ledger)


def mid_download(sim: Server, ledger: Ledger) -> Callable[[], None]:
    rng = ledger.rng
    batch = unfinished(sim, ledger, big=True) or new_batch(sim, ledger, BIG_BATCH_LINES, 50, big=True)
    advance_until(sim, sim.api, batch.id, lambda b: b["request_counts"]["completed"] > BIG_BATCH_LINES // 2, step=20,
                  limit=86_400)
    if ledger.seed % 2:
        sim.advance(3600)  # finished: the complete output (odd seeds); else the output of a live batch
    snapshot_all(sim, ledger)
    want = rng.randint(1, 256 * 1024)
    response = sim.api.send(sim.api.build_request("GET", f"/files/{batch.output_file_id}/content"), stream=True)
    assert response.status_code == 200
    got = b""
    for chunk in response.iter_raw():
        got += chunk
        if len(got) >= want:
            break
    assert batch.output.startswith(got), "a partial download is a prefix of the whole"

    def after_kill() -> None:
        with contextlib.suppress(httpx.HTTPError):
            response.close()

    return after_kill


POINTS: dict[str, Callable[[Server, Ledger], Callable[[], None] | None]] = {
    "mid_upload": mid_upload,
    "after_upload": after_upload,
    "after_create": after_create,
    "mid_batch": mid_batch,
    "mid_download": mid_download,
}


# -- checks -----------------------------------------------------------------------------------------
def listed_files(sim: Server) -> set[str]:
    ids: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 100, **({"after": after} if after else {})}
        response = sim.api.get("/files", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [f["id"] for f in page["data"]]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert len(ids) == len(set(ids)), "a file listed twice"
    return set(ids)


def check_after_restart(sim: Server, ledger: Ledger) -> None:
    assert sim.now() == ledger.clock, "the manual clock moved across the restart"
    known = set(ledger.uploads) | {f for b in ledger.batches.values() for f in (b.output_file_id, b.error_file_id)}
    assert listed_files(sim) == known
    assert not list((sim.data_dir / "tmp").iterdir()), "an interrupted upload left a temporary file"
    assert {p.name for p in (sim.data_dir / "files").iterdir()} == {f"{i}.jsonl" for i in ledger.uploads}
    for file in ledger.uploads.values():
        response = sim.api.get(f"/files/{file.id}")
        assert response.status_code == 200, response.text
        assert {k: response.json().get(k) for k in FILE_KEYS} == {k: file.meta.get(k) for k in FILE_KEYS}
        assert content(sim, file.id) == file.content, f"upload {file.id} changed across the restart"
    for batch in ledger.batches.values():
        now = get_batch(sim, batch.id)
        assert batch.snapshot is not None
        if "context_name" in batch.snapshot["metadata"]:  # a GET before the kill: the same answer
            assert now == batch.snapshot
            assert content(sim, batch.output_file_id) == batch.output
            assert content(sim, batch.error_file_id) == batch.error
        else:  # killed right after its 201: the created batch is there, unchanged
            for key in ("id", "status", "created_at", "expires_at", "input_file_id", "output_file_id",
                        "error_file_id", "request_counts"):
                assert now[key] == batch.snapshot[key], key


def check_finished(sim: Server, ledger: Ledger) -> None:
    sim.advance(2 * 86_400)
    for batch in ledger.batches.values():
        final = get_batch(sim, batch.id)
        assert final["status"] in TERMINAL, final
        output = custom_ids(content(sim, batch.output_file_id).decode())
        errors = custom_ids(content(sim, batch.error_file_id).decode())
        results = sim.api.get(f"/batches/{batch.id}/results")
        assert results.status_code == 200
        states = {r["custom_id"]: r["status"] for r in map(orjson.loads, results.content.splitlines())}
        cancelled = [cid for cid, state in states.items() if state not in ("completed", "failed")]
        if final["status"] != "cancelled":
            assert cancelled == []
        seen = Counter(output + errors + cancelled)
        assert seen == Counter(batch.custom_ids), "a request lost, duplicated or made up"
        assert final["request_counts"] == {"total": len(batch.custom_ids), "completed": len(output),
                                           "failed": len(errors)}


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for sim in started:
        sim.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_at_seeded_points_loses_nothing(seed: int, tmp_path: Path, servers: list[Server]) -> None:
    data_dir = tmp_path / "data"
    ledger = Ledger(random.Random(seed), seed)
    points = list(KILL_POINTS)
    ledger.rng.shuffle(points)
    servers.append(Server(data_dir, "--clock", "manual"))
    for point in points:
        sim = servers[-1]
        after_kill = POINTS[point](sim, ledger)
        sim.kill()
        if after_kill is not None:
            after_kill()
        servers.append(Server(data_dir, "--clock", "manual"))
        try:
            check_after_restart(servers[-1], ledger)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, after a kill at {point} (order {points}): {exc}") from exc
    assert ledger.interrupted == 1 and ledger.rejected == 1
    check_finished(servers[-1], ledger)
    # and once more: the finished state itself survives a kill
    snapshot_all(servers[-1], ledger)
    servers[-1].kill()
    servers.append(Server(data_dir, "--clock", "manual"))
    check_after_restart(servers[-1], ledger)


def test_a_scaled_clock_continues_from_where_it_was(tmp_path: Path, servers: list[Server]) -> None:
    """With `--speed 0.01` virtual time moves a hundredth as fast as real time, so across a restart it may
    move at most (real time elapsed) x 0.01, and never backwards."""
    data_dir = tmp_path / "data"
    speed = 0.01
    servers.append(Server(data_dir, "--clock", "real", "--speed", str(speed)))
    started = time.time()
    before = servers[-1].now()
    servers[-1].kill()
    servers.append(Server(data_dir, "--clock", "real", "--speed", str(speed)))
    after = servers[-1].now()
    elapsed = time.time() - started
    assert before <= after <= before + elapsed * speed + 1e-3, (before, after, elapsed)

"""Large uploads checked by a worker process (`scan_pool`) answer as the inline path does, in the
cases where the order of errors matters; busy or dead workers never lose an upload."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from contract_tests.helpers import chat_line, jsonl, n_chat_lines, upload
from mockserver.testing import AsgiTarget, HttpTarget, Target

LIMITS = ["--seed", "2", "--max-file-size", "65536", "--max-requests-per-file", "50"]


@pytest.fixture(scope="module")
def inline() -> Iterator[AsgiTarget]:
    target = AsgiTarget([*LIMITS, "--scan-workers", "0"])
    yield target
    target.close()


@pytest.fixture(scope="module")
def worker() -> Iterator[AsgiTarget]:
    target = AsgiTarget([*LIMITS, "--scan-in-worker-from", "1", "--scan-workers", "1"])
    yield target
    target.close()


def _answer(target: Target, content: bytes) -> tuple[int, str]:
    with target.client(target.new_key()) as api:
        response = upload(api, content)
        return response.status_code, response.text


def _multipart(*parts: bytes) -> bytes:
    return b"".join(parts)


CASES = {
    "a bad line, then the file goes over the size limit": jsonl("{nope", *[chat_line(f"r{i}") for i in range(2)])
    + b" " * 70_000 + b"\n",
    "over the size limit with good lines only": n_chat_lines(5) + b" " * 70_000,
    "a bad line after the request limit": n_chat_lines(50) + b"{nope\n",
    "the request limit": n_chat_lines(51),
    "an unterminated bad last line": n_chat_lines(3) + b'{"custom_id": 1',
    "blank only": b"\n \n",
    "invalid UTF-8": n_chat_lines(2) + b'{"custom_id": "\xff"}\n',
    "an unknown model (403)": jsonl(chat_line("a"), {**chat_line("b"), "body": {"model": "nope", "messages": []}}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_worker_answers_as_the_inline_path(inline: AsgiTarget, worker: AsgiTarget, name: str) -> None:
    expected = _answer(inline, CASES[name])
    assert expected[0] in (400, 403, 413)  # every case is a rejection
    assert _answer(worker, CASES[name]) == expected
    assert worker.backend.files.scan_pool.started == 1


def test_a_truncated_body_after_a_bad_line_reports_the_line(inline: AsgiTarget, worker: AsgiTarget) -> None:
    """The multipart error comes after the bad line in the body, so the line's error is the answer."""
    boundary = b"b0undary"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--' + boundary
            + b'\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
            + n_chat_lines(2) + b"{nope\n" + n_chat_lines(2))  # no closing boundary
    headers = {"content-type": f"multipart/form-data; boundary={boundary.decode()}"}
    answers = []
    for target in (inline, worker):
        with target.client(target.new_key()) as api:
            response = api.post("/files", content=body, headers=headers)
            answers.append((response.status_code, response.text))
    assert answers[0][0] == 400 and "line 3" in answers[0][1]
    assert answers[1] == answers[0]


def test_two_large_uploads_at_once_with_one_worker_both_land() -> None:
    """The second finds the worker busy and checks its lines inline."""
    server = HttpTarget(["--scan-in-worker-from", "1", "--scan-workers", "1", "--seed", "4"])
    try:
        content = n_chat_lines(3000)
        results: list[int] = []

        def send() -> None:
            with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer same"}, timeout=60) as api:
                results.append(upload(api, content).status_code)

        threads = [threading.Thread(target=send) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [201, 201, 201]
        with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer same"}) as api:
            listed = api.get("/files").json()["data"]
        assert len(listed) == 3 and all(f["bytes"] == len(content) for f in listed)
    finally:
        server.close()


def test_a_dead_worker_is_replaced(worker: AsgiTarget) -> None:
    pool = worker.backend.files.scan_pool
    assert _answer(worker, n_chat_lines(2))[0] == 201
    for scan in list(pool._all):
        scan.process.kill()
        scan.process.join()
    with worker.client(worker.new_key()) as api:
        first = upload(api, n_chat_lines(2))
        assert first.status_code in (201, 500)  # the upload that finds the worker dead may fail, never half-store
        if first.status_code == 500:
            assert api.get("/files").json()["data"] == []
        assert upload(api, n_chat_lines(2)).status_code == 201
    assert pool.started == 1

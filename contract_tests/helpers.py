"""Small builders shared by the contract tests: request lines, JSONL files, uploads."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from contract_tests.targets import CHAT_MODEL, EMBEDDINGS_MODEL


def chat_line(custom_id: str, content: str = "Hello", **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": content}], **body},
    }


def embeddings_line(custom_id: str, text: str = "Hello") -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings",
            "body": {"model": EMBEDDINGS_MODEL, "input": text}}


def jsonl(*lines: dict[str, Any] | str | bytes) -> bytes:
    out = []
    for line in lines:
        if isinstance(line, dict):
            out.append(orjson.dumps(line))
        elif isinstance(line, str):
            out.append(line.encode())
        else:
            out.append(line)
    return b"\n".join(out) + b"\n"


def upload(
    client: httpx.Client, content: bytes, *, filename: str = "batch.jsonl", purpose: str | None = "batch",
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    data = {} if purpose is None else {"purpose": purpose}
    data.update(extra or {})
    return client.post("/files", data=data, files={"file": (filename, content, "application/jsonl")})


def upload_ok(client: httpx.Client, content: bytes, **kwargs: Any) -> dict[str, Any]:
    response = upload(client, content, **kwargs)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def n_chat_lines(n: int, prefix: str = "req") -> bytes:
    return jsonl(*(chat_line(f"{prefix}-{i}", f"question {i}") for i in range(n)))


def create_batch(client: httpx.Client, file_id: str, *, endpoint: str = "/v1/chat/completions",
                 window: str = "24h", metadata: dict[str, str] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": window}
    if metadata is not None:
        payload["metadata"] = metadata
    response = client.post("/batches", json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def start_batch(client: httpx.Client, content: bytes, **kwargs: Any) -> dict[str, Any]:
    """Upload `content` and create a batch from it."""
    return create_batch(client, upload_ok(client, content)["id"], **kwargs)


def custom_ids(text: str) -> list[str]:
    return [orjson.loads(line)["custom_id"] for line in text.splitlines() if line]

"""The realtime inference routes a batch line may name, answered by the simulated model that answers
batch lines (api-notes "Surface"); and stored/background Responses, as autobatcher's default mode uses
them (research/clients.md §2 "Flex mode"). Errors use the inference proxy's OpenAI envelope (onwards
`errors.rs`)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from contract_tests.helpers import chat_line, embeddings_line, jsonl, start_batch
from contract_tests.lifecycle import run_to_end
from contract_tests.targets import CHAT_MODEL, Target


@pytest.mark.simulator_only("compares with the simulated model's batch answer")
@pytest.mark.profile("doubleword")  # the Doubleword batch flow (OpenAI's: test_openai_profile.py)
def test_chat_completion_matches_the_batch_answer(api: httpx.Client, target: Target) -> None:
    line = chat_line("same", "What is 2+2?")
    direct = api.post("/chat/completions", json=line["body"])
    assert direct.status_code == 200
    body = direct.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    batch = start_batch(api, jsonl(line))
    run_to_end(target, api, batch["id"])
    batched = orjson.loads(api.get(f"/files/{batch['output_file_id']}/content").text)["response"]["body"]
    assert batched["choices"] == body["choices"]  # one request, one answer, in both paths
    assert batched["usage"] == body["usage"]


def test_each_endpoint_answers_in_its_shape(api: httpx.Client) -> None:
    assert api.post("/completions", json={"model": CHAT_MODEL, "prompt": "Hi"}).json()["object"] == "text_completion"
    emb = api.post("/embeddings", json=embeddings_line("e")["body"]).json()
    assert emb["object"] == "list" and emb["data"][0]["object"] == "embedding"
    msg = api.post("/messages", json={"model": CHAT_MODEL, "max_tokens": 50,
                                      "messages": [{"role": "user", "content": "Hi"}]}).json()
    assert msg["type"] == "message" and msg["content"][0]["type"] == "text"
    resp = api.post("/responses", json={"model": CHAT_MODEL, "input": "Hi"}).json()
    assert resp["object"] == "response" and resp["status"] == "completed"
    assert api.get(f"/responses/{resp['id']}").json()["id"] == resp["id"]


def test_bad_requests_get_openai_errors(api: httpx.Client, anon: httpx.Client) -> None:
    bad = api.post("/chat/completions", json={"model": CHAT_MODEL, "messages": "nope"})
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    unknown = api.post("/chat/completions", json={"model": "no-such-model", "messages": []})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert anon.post("/chat/completions", json={}).json()["error"]["code"] == "unauthenticated"


@pytest.mark.simulator_only("drives the manual clock")
def test_background_response_moves_on_the_clock(api: httpx.Client, target: Target) -> None:
    created = api.post("/responses", json={"model": CHAT_MODEL, "input": "Hi", "background": True,
                                           "service_tier": "flex"}).json()
    assert created["status"] == "queued"
    assert created["output"] == []
    seen = {created["status"]}
    for _ in range(40):
        target.advance(0.1)
        seen.add(api.get(f"/responses/{created['id']}").json()["status"])
    final = api.get(f"/responses/{created['id']}").json()
    assert final["status"] == "completed"
    assert final["output"][0]["content"][0]["type"] == "output_text"
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 0
    assert seen >= {"queued", "completed"}


@pytest.mark.simulator_only("drives the manual clock")
def test_background_response_cancel_and_delete(api: httpx.Client, target: Target) -> None:
    created = api.post("/responses", json={"model": CHAT_MODEL, "input": "Hi", "background": True}).json()
    cancelled = api.post(f"/responses/{created['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    target.advance(60)
    assert api.get(f"/responses/{created['id']}").json()["status"] == "cancelled"
    assert api.delete(f"/responses/{created['id']}").json() == {"id": created["id"], "object": "response",
                                                               "deleted": True}
    assert api.get(f"/responses/{created['id']}").status_code == 404

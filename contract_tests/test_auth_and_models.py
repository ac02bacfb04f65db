"""Authentication and `GET /models`.

Evidence: research/doubleword-server.md §7 (auth extractor, error bodies) and §10 items 33-34;
dwctl `handlers/ai_models.rs` (`list_ai_models`, `openai_error`).
"""

from __future__ import annotations

import httpx
import pytest

from contract_tests.targets import CHAT_MODEL, EMBEDDINGS_MODEL, Target

pytestmark = pytest.mark.profile("doubleword")  # Doubleword's own behaviour (OpenAI's: test_openai_profile.py)


@pytest.mark.parametrize("header", [None, "Token abc", "bearer abc", "Bearer", "Basic dTpw"])
def test_missing_or_malformed_credentials_are_401(target: Target, header: str | None) -> None:
    # try_api_key_auth: exactly "Bearer <key>", case-sensitive
    headers = {} if header is None else {"Authorization": header}
    with target.client(None) as anon:
        for response in (anon.get("/files", headers=headers), anon.get("/files/x/content", headers=headers),
                         anon.post("/files", headers=headers, files={"file": ("a.jsonl", b"{}")})):
            assert response.status_code == 401
            assert response.text == "Authentication required"


def test_models_without_a_key_is_an_openai_style_401(anon: httpx.Client) -> None:
    response = anon.get("/models")
    assert response.status_code == 401
    assert response.json() == {"error": {"message": "Missing Authorization header", "type": "authentication_error",
                                         "param": None, "code": "missing_authorization"}}


def test_models_lists_the_configured_models_sorted(api: httpx.Client) -> None:
    body = api.get("/models").json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == sorted(ids)
    assert {CHAT_MODEL, EMBEDDINGS_MODEL} <= set(ids)
    for model in body["data"]:
        assert model["object"] == "model"
        assert model["owned_by"] == "None"
        assert isinstance(model["created"], int)


def test_models_accepts_a_lowercase_bearer(target: Target) -> None:
    with target.client(None) as anon:
        assert anon.get("/models", headers={"Authorization": f"bearer {target.new_key()}"}).status_code == 200


def test_models_rejects_bad_query_flags(api: httpx.Client) -> None:
    response = api.get("/models", params={"available_for_realtime": "maybe"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_query_parameter"


def test_model_retrieve_names_the_model_only_by_model_override(api: httpx.Client) -> None:
    # onwards lib.rs 417-433 (Model-Override first, then the body's model); an unknown one is its 404
    # (handlers.rs 464-468, errors.rs 44-56)
    response = api.get("/models/anything", headers={"Model-Override": "no-such-model"})
    assert response.status_code == 404
    assert response.json() == {"error": {
        "message": "The model `no-such-model` does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": None, "code": "model_not_found"}}
    plain = api.get("/models/anything")
    assert plain.status_code == 400
    assert plain.json()["error"]["code"] == "bad_request"

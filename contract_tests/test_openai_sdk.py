"""The official `openai` SDK, used as its users use it, against the target.

Evidence: research/clients.md §1 (what the SDK sends and reads: multipart `purpose` then `file`,
auto-pagination by the last item's id, lenient models, error classes by status).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from contract_tests.helpers import chat_line, jsonl, n_chat_lines
from contract_tests.lifecycle import TERMINAL
from contract_tests.targets import Target

pytestmark = pytest.mark.profile("doubleword")  # Doubleword's own behaviour (OpenAI's: test_openai_profile.py)


@pytest.fixture
def sdk(target: Target) -> Iterator[openai.OpenAI]:
    # The SDK's own transport is an httpx.Client; the target's client speaks to its server.
    http: Any = target.client(None)  # the SDK types its transport as its own httpx fork's Client
    with openai.OpenAI(base_url=target.base_url, api_key=target.new_key(), http_client=http, max_retries=0) as client:
        yield client


def test_files_round_trip(sdk: openai.OpenAI) -> None:
    content = n_chat_lines(3)
    created = sdk.files.create(file=("in.jsonl", content), purpose="batch")
    assert created.purpose == "batch"
    assert created.bytes == len(content)
    assert created.filename == "in.jsonl"
    assert sdk.files.retrieve(created.id).id == created.id
    downloaded = sdk.files.content(created.id)
    assert downloaded.response.headers["x-incomplete"] == "false"
    assert len(downloaded.text.splitlines()) == 3
    deleted = sdk.files.delete(created.id)
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(created.id)


def test_list_auto_pagination_visits_every_file_once(sdk: openai.OpenAI) -> None:
    ids = {sdk.files.create(file=(f"f{i}.jsonl", n_chat_lines(1)), purpose="batch").id for i in range(5)}
    seen = [f.id for f in sdk.files.list(limit=2)]
    assert sorted(seen) == sorted(ids)


@pytest.mark.simulator_only("drives the manual clock")
def test_batch_end_to_end(sdk: openai.OpenAI, target: Target) -> None:
    upload = sdk.files.create(file=("in.jsonl", jsonl(chat_line("a"), chat_line("b", temperature=9))), purpose="batch")
    batch = sdk.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
                               metadata={"k": "v"})
    assert batch.status == "validating"
    assert batch.output_file_id and batch.error_file_id
    early = sdk.files.content(batch.output_file_id)  # readable from the start, while the batch runs
    assert early.text == "" and early.response.headers["x-incomplete"] == "true"
    while batch.status not in TERMINAL:
        target.advance(1)
        batch = sdk.batches.retrieve(batch.id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    assert batch.output_file_id and batch.error_file_id
    assert '"custom_id":"a"' in sdk.files.content(batch.output_file_id).text
    assert '"custom_id":"b"' in sdk.files.content(batch.error_file_id).text
    assert batch.id in [b.id for b in sdk.batches.list(limit=1)]
    cancelled = sdk.batches.cancel(batch.id)
    assert cancelled.status == "cancelled"


def test_error_classes(sdk: openai.OpenAI, target: Target) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.files.create(file=("in.jsonl", b"{broken\n"), purpose="batch")
    assert bad.value.status_code == 400
    with pytest.raises(openai.NotFoundError):
        sdk.batches.retrieve("00000000-0000-4000-8000-000000000000")
    wrong_scheme = {"Authorization": "Token abc"}  # live accepts only `Bearer <key>`
    http: Any = target.client(None)
    with openai.OpenAI(base_url=target.base_url, api_key="x", http_client=http, max_retries=0,
                       default_headers=wrong_scheme) as anon, pytest.raises(openai.AuthenticationError):
        anon.files.list()


def test_models_retrieve_is_the_proxys_400(sdk: openai.OpenAI) -> None:
    # GET /models/{id} is not dwctl's (lib.rs 1712-1714 routes only /models): it falls through to onwards'
    # catch-all (onwards lib.rs 511-513), which reads the model from the body or Model-Override, never the
    # path (lib.rs 417-433): 400 bad_request, param "model" (handlers.rs 422-430, errors.rs 157-171),
    # for a known model and an unknown one alike
    listed = sdk.models.list().data
    for name in (listed[0].id, "no-such-model"):
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.models.retrieve(name)
        assert caught.value.status_code == 400
        assert caught.value.body == {
            "message": "Could not parse onwards model from request. 'model' parameter must be supplied in "
                       "either the body or in the Model-Override header.",
            "type": "invalid_request_error", "param": "model", "code": "bad_request",
        }

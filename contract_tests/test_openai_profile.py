"""The OpenAI profile (`--profile openai`): OpenAI's Files and Batch API, driven with the `openai` SDK in
strict response-validation mode, as a pipeline written for OpenAI uses it.

Evidence: research/spec-and-style.md Part A (A1 endpoints, A3 batch object and lifecycle, A4 line
formats, A5 validation codes, A6 lists, A7 error envelope, A8 strict-mode checks). What OpenAI does
that no public source pins down (exact messages, cancel on a finished batch) is listed as unverified
in the fidelity table (docs/fidelity.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from contract_tests.helpers import chat_line, jsonl, n_chat_lines
from contract_tests.targets import CHAT_MODEL, EMBEDDINGS_MODEL, Target

pytestmark = [pytest.mark.profile("openai"), pytest.mark.simulator_only("the OpenAI profile is the simulator's")]

BATCH_KEYS = {
    "id", "object", "endpoint", "model", "errors", "input_file_id", "completion_window", "status", "output_file_id",
    "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at",
    "expired_at", "cancelling_at", "cancelled_at", "request_counts", "usage", "metadata",
}
FILE_KEYS = {"id", "object", "bytes", "created_at", "expires_at", "filename", "purpose", "status", "status_details"}
FINALIZE_DELAY = 2.0  # the simulator's defaults (--finalize-delay, --cancel-delay)
CANCEL_DELAY = 5.0


@pytest.fixture
def sdk(target: Target) -> Iterator[openai.OpenAI]:
    http: Any = target.client(None)
    with openai.OpenAI(base_url=target.base_url, api_key=target.new_key(), http_client=http, max_retries=0,
                       _strict_response_validation=True) as client:
        yield client


def _raw(sdk: openai.OpenAI, path: str) -> dict[str, Any]:
    """The JSON of a GET as sent, to see keys the SDK's models would hide."""
    response = sdk.get(path, cast_to=httpx.Response)
    body: dict[str, Any] = response.json()
    return body


def _upload(sdk: openai.OpenAI, content: bytes, name: str = "in.jsonl") -> str:
    return sdk.files.create(file=(name, content), purpose="batch").id


def _create(sdk: openai.OpenAI, content: bytes, endpoint: Any = "/v1/chat/completions") -> Any:
    return sdk.batches.create(input_file_id=_upload(sdk, content), endpoint=endpoint, completion_window="24h")


def _until(target: Target, sdk: openai.OpenAI, batch_id: str, statuses: tuple[str, ...], step: float = 0.5) -> Any:
    for _ in range(4000):
        batch = sdk.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        target.advance(step)
    raise AssertionError(f"{batch_id} never reached {statuses}: {batch}")


def _lines(sdk: openai.OpenAI, file_id: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in sdk.files.content(file_id).read().splitlines() if line]


# -- files (A1, A8) -----------------------------------------------------------------------------------
def test_upload_answers_200_with_a_processed_file_object(sdk: openai.OpenAI) -> None:
    raw = sdk.files.with_raw_response.create(file=("in.jsonl", n_chat_lines(2)), purpose="batch")
    assert raw.status_code == 200
    created = raw.parse()
    assert created.id.startswith("file-") and created.status == "processed"
    assert set(_raw(sdk, f"/files/{created.id}")) == FILE_KEYS
    assert sdk.files.wait_for_processing(created.id).status == "processed"


def test_upload_takes_any_jsonl_and_other_purposes(sdk: openai.OpenAI) -> None:
    """Lines are not checked at upload (A5): the file comes back byte for byte."""
    content = b'{"not": "a request"}\nnot json at all\n'
    file_id = _upload(sdk, content)
    assert sdk.files.content(file_id).read() == content
    assert sdk.files.create(file=("notes.txt", b"hello"), purpose="user_data").purpose == "user_data"


def test_upload_refusals_use_the_envelope(sdk: openai.OpenAI) -> None:
    # litellm#37527: a non-.jsonl file for the Batch API is a 400 at upload
    with pytest.raises(openai.BadRequestError) as wrong_format:
        sdk.files.create(file=("in.csv", n_chat_lines(1)), purpose="batch")
    assert wrong_format.value.body == {"message": "Invalid file format for Batch API. Must be .jsonl",
                                       "type": "invalid_request_error", "param": None, "code": None}
    with pytest.raises(openai.BadRequestError) as wrong_purpose:
        sdk.files.create(file=("in.jsonl", n_chat_lines(1)), purpose="nonsense")  # type: ignore[arg-type]
    assert wrong_purpose.value.param == "purpose"


def test_errors_use_the_openai_envelope_and_ids(sdk: openai.OpenAI, target: Target) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.files.retrieve("file-" + "0" * 32)
    assert missing.value.body == {"message": f"No such File object: file-{'0' * 32}",
                                  "type": "invalid_request_error", "param": None, "code": None}
    with pytest.raises(openai.NotFoundError):
        sdk.batches.retrieve("not-an-id")  # a malformed id is simply an unknown one
    with target.client(None) as anon:
        unauthorised = anon.get("/files")
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["code"] == "invalid_api_key"


def test_doubleword_only_routes_are_not_served(sdk: openai.OpenAI, target: Target) -> None:
    batch = _create(sdk, n_chat_lines(1))
    with target.client(target.new_key()) as api:
        for method, path in (("GET", f"/batches/{batch.id}/results"), ("DELETE", f"/batches/{batch.id}"),
                             ("POST", f"/batches/{batch.id}/retry")):
            response = api.request(method, path)
            assert response.status_code == 404
            assert response.json()["error"]["message"] == f"Invalid URL ({method} /v1{path})"
        assert api.get(target.base_url.replace("/v1", "/ai/v1") + "/files").status_code == 404


# -- the batch lifecycle (A3, A4) ---------------------------------------------------------------------
def test_a_batch_runs_validating_in_progress_finalizing_completed(sdk: openai.OpenAI, target: Target) -> None:
    content = jsonl(chat_line("ok"), chat_line("bad", temperature=9))  # the model refuses temperature 9 with a 400
    upload_id = _upload(sdk, content)
    raw = sdk.batches.with_raw_response.create(input_file_id=upload_id, endpoint="/v1/chat/completions",
                                               completion_window="24h", metadata={"k": "v"})
    assert raw.status_code == 200
    batch = raw.parse()
    assert batch.id.startswith("batch_") and batch.status == "validating"
    as_sent = _raw(sdk, f"/batches/{batch.id}")
    assert set(as_sent) == BATCH_KEYS
    assert as_sent["output_file_id"] is None and as_sent["error_file_id"] is None
    assert as_sent["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    seen: set[str] = {batch.status}
    while str(batch.status) != "completed":
        target.advance(0.25)
        batch = sdk.batches.retrieve(batch.id)
        seen.add(batch.status)
        if batch.status != "completed":
            assert batch.output_file_id is None and batch.error_file_id is None  # only once it has ended
    assert seen == {"validating", "in_progress", "finalizing", "completed"}
    assert batch.finalizing_at is not None and batch.completed_at is not None
    assert batch.completed_at - batch.finalizing_at == pytest.approx(FINALIZE_DELAY, abs=1)
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (2, 1, 1)
    assert batch.model == CHAT_MODEL and batch.metadata == {"k": "v"}
    assert batch.usage is not None and batch.usage.total_tokens > 0
    assert batch.output_file_id and batch.error_file_id
    [out] = _lines(sdk, batch.output_file_id)
    assert out["custom_id"] == "ok" and out["error"] is None
    assert out["id"].startswith("batch_req_") and out["response"]["request_id"].startswith("req_")
    assert out["response"]["body"]["object"] == "chat.completion"
    [err] = _lines(sdk, batch.error_file_id)  # openai-openapi#302: an HTTP failure keeps its response
    assert err["custom_id"] == "bad" and err["error"] is None
    assert err["response"]["status_code"] == 400 and "error" in err["response"]["body"]
    listed = {f.id: f.purpose for f in sdk.files.list()}
    assert listed[batch.output_file_id] == listed[batch.error_file_id] == "batch_output"


def test_a_batch_whose_every_request_failed_is_completed(sdk: openai.OpenAI, target: Target) -> None:
    """kaapi-backend#723: `completed`, no output file, every request in the error file."""
    batch = _until(target, sdk, _create(sdk, jsonl(chat_line("x", temperature=9))).id, ("completed",))
    assert batch.output_file_id is None and batch.error_file_id is not None
    assert batch.request_counts is not None and batch.request_counts.failed == 1


def test_result_files_are_hidden_until_the_batch_ends(sdk: openai.OpenAI, target: Target) -> None:
    before = {f.id for f in sdk.files.list()}
    batch = _create(sdk, n_chat_lines(3))
    _until(target, sdk, batch.id, ("in_progress",))
    assert {f.id for f in sdk.files.list()} - before == {batch.input_file_id}
    done = _until(target, sdk, batch.id, ("completed",))
    assert {f.id for f in sdk.files.list()} - before == {batch.input_file_id, done.output_file_id}


def test_batches_list_pages_by_the_last_id(sdk: openai.OpenAI) -> None:
    empty = _raw(sdk, "/batches")
    assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}  # A6
    ids = {_create(sdk, n_chat_lines(1)).id for _ in range(3)}
    assert {b.id for b in sdk.batches.list(limit=2)} == ids


def test_only_the_24h_window(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.batches.create(input_file_id=_upload(sdk, n_chat_lines(1)), endpoint="/v1/chat/completions",
                           completion_window="1h")  # type: ignore[arg-type]
    assert refused.value.param == "completion_window"


# -- validation at batch time (A5) ----------------------------------------------------------------------
def _other_model_line(custom_id: str) -> dict[str, Any]:
    line = chat_line(custom_id)
    line["body"]["model"] = "Qwen/Qwen3-VL-235B-A22B-Instruct-FP8"
    return line


BROKEN = [
    ("invalid_json_line", jsonl(chat_line("a"), "{not json"), 2),
    ("duplicate_custom_id", jsonl(chat_line("a"), chat_line("a")), 2),
    ("url_mismatch", jsonl(chat_line("a"), {**chat_line("b"), "url": "/v1/embeddings"}), 2),
    ("model_mismatch", jsonl(chat_line("a"), _other_model_line("b")), 2),
    ("model_not_found", jsonl({**chat_line("a"), "body": {"model": "no-such-model", "messages": []}}), 1),
    ("empty_file", b"\n", None),
    ("too_many_tasks", n_chat_lines(201), None),  # the suite runs with --max-requests-per-file 200
]


@pytest.mark.parametrize(("code", "content", "line"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_bad_file_fails_the_batch_with_errors_data(
    sdk: openai.OpenAI, target: Target, code: str, content: bytes, line: int | None
) -> None:
    batch = _create(sdk, content)
    assert batch.status == "validating"
    failed = _until(target, sdk, batch.id, ("failed", "in_progress", "completed"))
    assert failed.status == "failed" and failed.failed_at is not None and failed.in_progress_at is None
    assert failed.errors is not None and failed.errors.data
    first = failed.errors.data[0]
    assert (first.code, first.line) == (code, line)
    assert failed.output_file_id is None and failed.error_file_id is None
    assert failed.request_counts is not None and failed.request_counts.total == 0


def test_an_embeddings_batch(sdk: openai.OpenAI, target: Target) -> None:
    content = jsonl(*({"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings",
                       "body": {"model": EMBEDDINGS_MODEL, "input": f"text {i}"}} for i in range(3)))
    batch = _until(target, sdk, _create(sdk, content, endpoint="/v1/embeddings").id, ("completed",))
    assert batch.output_file_id is not None and batch.error_file_id is None
    assert [line["response"]["body"]["object"] for line in _lines(sdk, batch.output_file_id)] == ["list"] * 3


# -- cancel and expiry (A3) ---------------------------------------------------------------------------
def test_cancel_goes_cancelling_then_cancelled(sdk: openai.OpenAI, target: Target) -> None:
    batch = _until(target, sdk, _create(sdk, n_chat_lines(150)).id, ("in_progress",), step=0.25)
    target.advance(1.5)
    cancelling = sdk.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    assert cancelling.cancelled_at is None
    counts = cancelling.request_counts
    target.advance(CANCEL_DELAY)
    cancelled = sdk.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    assert cancelled.request_counts == counts  # nothing counted after the cancel
    assert counts is not None and 0 < counts.completed < 150
    assert cancelled.output_file_id is not None
    assert len(_lines(sdk, cancelled.output_file_id)) == counts.completed
    with pytest.raises(openai.BadRequestError):
        sdk.batches.cancel(batch.id)


def test_cancel_of_a_completed_batch_is_refused(sdk: openai.OpenAI, target: Target) -> None:
    batch = _until(target, sdk, _create(sdk, n_chat_lines(1)).id, ("completed",))
    with pytest.raises(openai.BadRequestError):
        sdk.batches.cancel(batch.id)
    assert sdk.batches.retrieve(batch.id).status == "completed"


def test_a_batch_past_its_window_expires(sdk: openai.OpenAI, target: Target) -> None:
    """Unfinished requests go to the error file as `batch_expired`; finished ones stay in the output."""
    slow = {"match": {"custom_id_prefix": "expire-me-"}, "outcome": {"status": 200, "latency_ms": 30 * 3600 * 1000}}
    target.control("PUT", "/_mock/faults", {"requests": [slow]})
    try:
        batch = _create(sdk, jsonl(chat_line("fast"), chat_line("expire-me-1"), chat_line("expire-me-2")))
    finally:
        target.control("DELETE", "/_mock/faults")
    _until(target, sdk, batch.id, ("in_progress",))
    target.advance(24 * 3600)
    expired = sdk.batches.retrieve(batch.id)
    assert expired.status == "expired" and expired.expired_at == expired.expires_at
    assert expired.output_file_id is not None and expired.error_file_id is not None
    assert [line["custom_id"] for line in _lines(sdk, expired.output_file_id)] == ["fast"]
    errors = _lines(sdk, expired.error_file_id)
    assert sorted(line["custom_id"] for line in errors) == ["expire-me-1", "expire-me-2"]
    assert {line["error"]["code"] for line in errors} == {"batch_expired"}


# -- output_expires_after (the openai SDK's batch_create_params.OutputExpiresAfter) ---------------------
def test_output_expires_after_sets_the_result_files_expiry(sdk: openai.OpenAI, target: Target) -> None:
    """SDK `OutputExpiresAfter`: anchor `created_at` (the file's creation), seconds 3600..2592000."""
    upload_id = _upload(sdk, jsonl(chat_line("ok"), chat_line("bad", temperature=9)))
    input_expiry = sdk.files.retrieve(upload_id).expires_at
    created = sdk.batches.create(input_file_id=upload_id, endpoint="/v1/chat/completions", completion_window="24h",
                                 output_expires_after={"anchor": "created_at", "seconds": 7200})
    batch = _until(target, sdk, created.id, ("completed",))
    assert batch.output_file_id and batch.error_file_id
    for file_id in (batch.output_file_id, batch.error_file_id):
        as_sent = _raw(sdk, f"/files/{file_id}")
        assert set(as_sent) == FILE_KEYS
        assert as_sent["expires_at"] == as_sent["created_at"] + 7200
        assert sdk.files.retrieve(file_id).expires_at == as_sent["expires_at"]
    assert sdk.files.retrieve(upload_id).expires_at == input_expiry  # the input file keeps its own expiry


def test_without_output_expires_after_result_files_do_not_expire(sdk: openai.OpenAI, target: Target) -> None:
    batch = _until(target, sdk, _create(sdk, n_chat_lines(1)).id, ("completed",))
    assert batch.output_file_id and sdk.files.retrieve(batch.output_file_id).expires_at is None


@pytest.mark.parametrize(("expiry", "param", "code", "message"), [
    ({"anchor": "created_at", "seconds": 3599}, "output_expires_after.seconds", "integer_below_min_value",
     "Invalid 'output_expires_after.seconds': integer below minimum value. Expected a value >= 3600, but got 3599 "
     "instead."),
    ({"anchor": "created_at", "seconds": 2592001}, "output_expires_after.seconds", "integer_above_max_value",
     "Invalid 'output_expires_after.seconds': integer above maximum value. Expected a value <= 2592000, but got "
     "2592001 instead."),
    ({"anchor": "completed_at", "seconds": 3600}, "output_expires_after.anchor", "invalid_value",
     "Invalid value: 'completed_at'. Supported values are: 'created_at'."),
    ({"anchor": "created_at", "seconds": "3600"}, "output_expires_after.seconds", "invalid_type",
     "Invalid type for 'output_expires_after.seconds': expected an integer, but got a string instead."),
    ({"seconds": 3600}, "output_expires_after.anchor", "missing_required_parameter",
     "Missing required parameter: 'output_expires_after.anchor'."),
    (3600, "output_expires_after", "invalid_type",
     "Invalid type for 'output_expires_after': expected an object, but got an integer instead."),
])
def test_a_bad_output_expires_after_is_a_400(sdk: openai.OpenAI, expiry: Any, param: str, code: str,
                                             message: str) -> None:
    """The range is the SDK's documented one; the wording is OpenAI's general parameter validation (a guess
    for this field, see the fidelity table)."""
    upload_id = _upload(sdk, n_chat_lines(1))
    before = {b.id for b in sdk.batches.list()}
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.batches.create(input_file_id=upload_id, endpoint="/v1/chat/completions", completion_window="24h",
                           output_expires_after=expiry)
    body = refused.value.body
    assert refused.value.status_code == 400 and isinstance(body, dict)
    assert body == {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    assert {b.id for b in sdk.batches.list()} == before  # nothing was created


# -- strict structured outputs (OpenAI's structured-outputs guide, "Supported schemas") -----------------
# A strict schema that leaves a property out of `required`: OpenAI's 400, worded as clients quoted it
# (vercel/ai#6484, mastra-ai/mastra#12284: "In context=(...), 'required' is required to be supplied ...").
LEAKY_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "roles": {"type": "string"}},
                "required": ["name"], "additionalProperties": False}
LEAKY_MESSAGE = ("Invalid schema for response_format 'person': In context=(), 'required' is required to be supplied "
                 "and to be an array including every key in properties. Missing 'roles'.")
STRICT_SCHEMA = {**LEAKY_SCHEMA, "required": ["name", "roles"]}


def _format(schema: dict[str, Any]) -> Any:
    return {"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": schema}}


def test_realtime_chat_refuses_a_strict_schema_outside_openais_subset(sdk: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Who?"}]
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model=CHAT_MODEL, messages=messages, response_format=_format(LEAKY_SCHEMA))
    body = refused.value.body
    assert isinstance(body, dict)  # outlines#844, xsai#202: param response_format, code null
    assert body == {"message": LEAKY_MESSAGE, "type": "invalid_request_error", "param": "response_format", "code": None}
    answer = sdk.chat.completions.create(model=CHAT_MODEL, messages=messages, response_format=_format(STRICT_SCHEMA))
    content = answer.choices[0].message.content
    assert content is not None and set(orjson.loads(content)) == {"name", "roles"}


def test_realtime_responses_refuses_a_strict_text_format_outside_the_subset(sdk: openai.OpenAI) -> None:
    """pi-web-providers#14: the Responses API names `text.format.schema`, code `invalid_json_schema`."""
    inner = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}  # no additionalProperties
    schema = {**STRICT_SCHEMA, "properties": {"name": inner, "roles": {"type": "string"}}}
    text: Any = {"format": {"type": "json_schema", "name": "person", "strict": True, "schema": schema}}
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model=CHAT_MODEL, input="Who?", text=text)
    assert refused.value.body == {
        "message": "Invalid schema for response_format 'person': In context=('properties', 'name'), "
                   "'additionalProperties' is required to be supplied and to be false.",
        "type": "invalid_request_error", "param": "text.format.schema", "code": "invalid_json_schema"}


def test_a_batch_request_with_a_strict_schema_outside_the_subset_is_its_error_line(
        sdk: openai.OpenAI, target: Target) -> None:
    content = jsonl(chat_line("good", response_format=_format(STRICT_SCHEMA)),
                    chat_line("leaky", response_format=_format(LEAKY_SCHEMA)))
    batch = _until(target, sdk, _create(sdk, content).id, ("completed",))
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    assert batch.output_file_id and batch.error_file_id
    [out] = _lines(sdk, batch.output_file_id)
    assert out["custom_id"] == "good"
    [err] = _lines(sdk, batch.error_file_id)  # an HTTP failure keeps its response (openai-openapi#302)
    assert err["custom_id"] == "leaky" and err["error"] is None and err["response"]["status_code"] == 400
    assert err["response"]["body"]["error"]["message"] == LEAKY_MESSAGE

"""Uploading batch input files: what the live service accepts, and how it rejects bad files.

Evidence: research/doubleword-server.md §2 and §10 items 1-10; dwctl `handlers/files.rs` tests named
in each test's comment.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from contract_tests.helpers import chat_line, embeddings_line, jsonl, n_chat_lines, upload, upload_ok
from contract_tests.targets import CHAT_MODEL, EMBEDDINGS_MODEL, Target

pytestmark = pytest.mark.profile("doubleword")  # Doubleword's own behaviour (OpenAI's: test_openai_profile.py)

DAY = 86_400


def _file_ids(client: httpx.Client) -> set[str]:
    return {f["id"] for f in client.get("/files", params={"limit": 101}).json()["data"]}


def test_valid_upload_answers_201_with_the_file_object(api: httpx.Client) -> None:
    # §10 item 1; test_upload_and_download_file_content
    content = n_chat_lines(3)
    response = upload(api, content, filename="my-batch.jsonl")
    assert response.status_code == 201
    body = response.json()
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["object"] == "file"
    assert body["purpose"] == "batch"
    assert body["bytes"] == len(content)
    assert body["filename"] == "my-batch.jsonl"
    assert abs(body["expires_at"] - (body["created_at"] + 30 * DAY)) <= 2
    # the upload response omits the owner/context fields that GET fills in (§1.1)
    assert "created_by_email" not in body
    assert set(api.get(f"/files/{body['id']}").json()) >= {"id", "bytes", "created_at", "filename", "purpose"}


def test_missing_purpose_is_accepted_and_reported_as_batch(api: httpx.Client) -> None:
    # §2 multipart fields; §10 item 2
    body = upload_ok(api, n_chat_lines(1), purpose=None)
    assert body["purpose"] == "batch"


@pytest.mark.parametrize("purpose", ["BATCH", "Batch"])
def test_purpose_is_case_insensitive(api: httpx.Client, purpose: str) -> None:
    assert upload_ok(api, n_chat_lines(1), purpose=purpose)["purpose"] == "batch"


@pytest.mark.parametrize("purpose", ["batches", "", "batch_output", "batch_error", "fine-tune"])
def test_other_purposes_are_rejected_and_nothing_is_stored(api: httpx.Client, purpose: str) -> None:
    # test_upload_invalid_purpose_returns_400 (checks no orphan file is left behind)
    response = upload(api, n_chat_lines(2), purpose=purpose)
    assert response.status_code == 400
    assert response.text == f"Invalid purpose '{purpose}'. Only 'batch' is supported."
    assert response.headers["content-type"].startswith("text/plain")
    assert _file_ids(api) == set()


def test_purpose_after_the_file_part_is_honoured(api: httpx.Client) -> None:
    # test_upload_with_metadata_after_file_field: field order does not matter
    boundary = "XyZ"
    parts = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.jsonl"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    ).encode() + n_chat_lines(2) + (
        f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch_output\r\n--{boundary}--\r\n'
    ).encode()
    response = api.post("/files", content=parts, headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 400
    assert "Only 'batch' is supported" in response.text
    assert _file_ids(api) == set()


def test_missing_file_part_is_400(api: httpx.Client) -> None:
    # §10 item 3
    response = api.post("/files", data={"purpose": "batch"}, files={"other": ("x.txt", b"hi")})
    assert response.status_code == 400
    assert response.text == "No file field found in multipart upload"


def test_a_body_that_is_not_multipart_is_400(api: httpx.Client) -> None:
    response = api.post("/files", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.text.startswith("Invalid multipart request")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\r\n\t\r\n"])
def test_empty_or_blank_files_are_rejected(api: httpx.Client, content: bytes) -> None:
    # test_upload_empty_file
    response = upload(api, content)
    assert response.status_code == 400
    assert response.text == "File contains no valid request templates"


LINE_ERRORS = [
    # (line, expected text) — §2 line parsing, §10 item 4
    ({"method": "POST", "url": "/v1/chat/completions", "body": {"model": CHAT_MODEL}},
     "Invalid JSON on line 1: missing field `custom_id`"),  # test_upload_missing_custom_id
    ({"custom_id": "x", "url": "/v1/chat/completions", "body": {"model": CHAT_MODEL}},
     "Invalid JSON on line 1: missing field `method`"),
    ({"custom_id": "x", "method": "POST", "url": "/v1/chat/completions"},
     "Invalid JSON on line 1: missing field `body`"),
    ({"custom_id": 5, "method": "POST", "url": "/v1/chat/completions", "body": {"model": CHAT_MODEL}},
     "Invalid JSON on line 1: invalid type: integer `5`"),
    ({**chat_line("x" * 65)}, "Line 1: custom_id exceeds maximum length of 64 characters (got 65)"),
    ({**chat_line("é" * 33)}, "Line 1: custom_id exceeds maximum length of 64 characters (got 66)"),
    ({**chat_line("a\r\nb")},
     "Line 1: custom_id contains invalid characters: must be valid ASCII without control characters"),
    ({**chat_line("a"), "method": "GET"},
     "Line 1: Unsupported HTTP method 'GET'. Only POST is currently supported."),
    ({**chat_line("a"), "url": "/v1/moderations"},
     "Line 1: Unsupported URL path '/v1/moderations'. Allowed paths are: /v1/chat/completions, "
     "/v1/completions, /v1/embeddings, /v1/responses, /v1/messages"),
    ({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": []}},
     "Line 1: Missing 'model' field in request body"),
    ({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": "not an object"},
     "Line 1: Missing 'model' field in request body"),  # test_upload_invalid_json_body
    ({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": 7}},
     "Line 1: Missing 'model' field in request body"),
    ({**embeddings_line("a"), "url": "/v1/chat/completions"},
     f"Line 1: Model '{EMBEDDINGS_MODEL}' is a EMBEDDINGS model but endpoint '/v1/chat/completions' "
     "requires a CHAT model"),  # test_upload_rejects_embeddings_model_on_chat_endpoint
    ({**chat_line("a"), "url": "/v1/embeddings"},
     f"Line 1: Model '{CHAT_MODEL}' is a CHAT model but endpoint '/v1/embeddings' requires a EMBEDDINGS model"),
]


@pytest.mark.parametrize(("line", "expected"), LINE_ERRORS)
def test_line_errors_are_400_with_the_live_message(api: httpx.Client, line: dict[str, object], expected: str) -> None:
    response = upload(api, jsonl(line))
    assert response.status_code == 400
    assert response.text.startswith(expected), response.text
    assert _file_ids(api) == set()


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", '"just a string"', "{\"custom_id\": \"a\",}"])
def test_lines_that_are_not_request_objects_are_invalid_json(api: httpx.Client, bad: str) -> None:
    # test_upload_malformed_jsonl
    response = upload(api, jsonl(chat_line("ok"), bad))
    assert response.status_code == 400
    assert response.text.startswith("Invalid JSON on line 2: ")


def test_unknown_model_is_403(api: httpx.Client) -> None:
    # test_upload_model_access_denied; §10 item 5
    line = chat_line("a")
    line["body"]["model"] = "no-such-model"
    response = upload(api, jsonl(chat_line("ok"), line))
    assert response.status_code == 403
    assert response.text == "Line 2: Model 'no-such-model' has not been configured or is not available to user"
    assert _file_ids(api) == set()


def test_line_numbers_count_non_blank_lines(api: httpx.Client) -> None:
    # §10 item 6: a blank line before the bad one does not count
    content = jsonl(chat_line("a"), "", "   ", {**chat_line("b"), "method": "PUT"})
    response = upload(api, content)
    assert response.status_code == 400
    assert response.text.startswith("Line 2: Unsupported HTTP method 'PUT'")


def test_duplicate_and_empty_custom_ids_are_accepted(api: httpx.Client) -> None:
    # §2 "Not validated"; §10 item 7
    upload_ok(api, jsonl(chat_line("same"), chat_line("same"), chat_line("")))


def test_method_is_case_insensitive_and_kept_as_sent(api: httpx.Client) -> None:
    file_id = upload_ok(api, jsonl({**chat_line("a"), "method": "post"}))["id"]
    assert '"method":"post"' in api.get(f"/files/{file_id}/content").text


@pytest.mark.parametrize("url", ["/v1/responses", "/v1/messages", "/v1/completions"])
def test_other_chat_endpoints_are_accepted(api: httpx.Client, url: str) -> None:
    # test_upload_accepts_responses_url_path, test_upload_accepts_messages_url_path
    upload_ok(api, jsonl({**chat_line("a"), "url": url}))


def test_non_ascii_custom_id_within_64_bytes_is_accepted(api: httpx.Client) -> None:
    upload_ok(api, jsonl(chat_line("café-日本")))


def test_a_bom_makes_line_one_invalid_json(api: httpx.Client) -> None:
    # §2: trim() does not remove U+FEFF; §10 item 8
    response = upload(api, b"\xef\xbb\xbf" + n_chat_lines(2))
    assert response.status_code == 400
    assert response.text.startswith("Invalid JSON on line 1")


def test_crlf_line_endings_are_accepted(api: httpx.Client) -> None:
    content = n_chat_lines(3).replace(b"\n", b"\r\n")
    body = upload_ok(api, content)
    assert body["bytes"] == len(content)
    assert len(api.get(f"/files/{body['id']}/content").text.splitlines()) == 3


def test_invalid_utf8_is_400(api: httpx.Client) -> None:
    # test_upload_invalid_utf8
    content = jsonl(chat_line("a")) + b'{"custom_id": "b\xff\xfe", "method": "POST"}\n'
    response = upload(api, content)
    assert response.status_code == 400
    assert response.text.startswith("File contains invalid UTF-8 on/near line 2 at byte offset")


def test_priority_is_removed_from_the_stored_body(api: httpx.Client) -> None:
    # test_upload_strips_priority_field; §10 item 9
    file_id = upload_ok(api, jsonl(chat_line("a", priority=5)))["id"]
    stored = api.get(f"/files/{file_id}/content").json()
    assert "priority" not in stored["body"]
    assert stored["body"]["model"] == CHAT_MODEL


def test_a_file_at_the_request_limit_is_accepted(api: httpx.Client, target: Target) -> None:
    # test_upload_allows_file_at_max_requests
    upload_ok(api, n_chat_lines(target.limits.max_requests_per_file))


def test_one_request_over_the_limit_is_rejected(api: httpx.Client, target: Target) -> None:
    # test_upload_rejects_file_exceeding_max_requests
    limit = target.limits.max_requests_per_file
    response = upload(api, n_chat_lines(limit + 1))
    assert response.status_code == 400
    assert response.text == f"File contains {limit + 1} requests, which exceeds the maximum of {limit}"


def test_a_request_body_over_the_limit_is_rejected(api: httpx.Client, target: Target) -> None:
    # test_upload_rejects_request_exceeding_max_body_size
    big = "x" * target.limits.max_request_body_size
    response = upload(api, jsonl(chat_line("small"), chat_line("big", big)))
    assert response.status_code == 400
    assert response.text.startswith("Line 2: Request body is ")
    assert response.text.endswith(f"which exceeds the maximum allowed size of {target.limits.max_request_body_size} bytes")


def test_declared_oversize_is_413_before_the_body_is_read(target: Target) -> None:
    # test_upload_content_length_early_rejection; §10 item 10: decided from Content-Length alone
    declared = target.limits.max_file_size + 20 * 1024
    status, text = target.post_declaring_length(
        "/files", target.new_key(), {"Content-Type": "multipart/form-data; boundary=b"}, declared
    )
    assert status == 413
    assert text == f"File exceeds the maximum allowed size of {target.limits.max_file_size} bytes"


def test_oversize_found_while_streaming_is_413_and_stores_nothing(api: httpx.Client, target: Target) -> None:
    # test_upload_streaming_size_limit_returns_413: no Content-Length, so the limit is met mid-stream
    limits = target.limits
    line = jsonl(chat_line("r", "y" * (2 * limits.max_file_size // limits.max_requests_per_file)))
    repeats = limits.max_file_size // len(line) + 2  # over the size limit, under the request limit
    boundary = "sTrEaM"

    def body() -> object:
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n').encode()
        for _ in range(repeats):
            yield line
        yield f"\r\n--{boundary}--\r\n".encode()

    response = api.post(
        "/files", content=body(),  # type: ignore[arg-type]
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert _file_ids(api) == set()


def test_expires_after_seconds_sets_expiry(api: httpx.Client) -> None:
    # §2 multipart fields: expires_at = now + seconds, any anchor
    body = upload_ok(api, n_chat_lines(1), extra={"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"})
    assert abs(body["expires_at"] - (body["created_at"] + 3600)) <= 2


@pytest.mark.parametrize("seconds", ["9000000000000", "-9000000000000", "9223372036854775"])
def test_an_expiry_past_chronos_dates_means_none(api: httpx.Client, seconds: str) -> None:
    # §2 multipart fields; fusillade postgres.rs adds the seconds with chrono's checked_add_signed,
    # None past its dates (years -262143..262142): the file is stored with no expiry (no live test)
    body = upload_ok(api, n_chat_lines(1), extra={"expires_after[seconds]": seconds})
    assert "expires_at" not in body
    assert "expires_at" not in api.get(f"/files/{body['id']}").json()


@pytest.mark.simulator_only("live's chrono Duration::seconds panics past i64::MAX / 1000 seconds")
def test_an_expiry_past_chronos_durations_means_none_here(api: httpx.Client) -> None:
    body = upload_ok(api, n_chat_lines(1), extra={"expires_after[seconds]": str(2**63 - 1)})
    assert "expires_at" not in body


def test_an_expiry_at_the_end_of_chronos_dates_is_kept(api: httpx.Client) -> None:
    body = upload_ok(api, n_chat_lines(1), extra={"expires_after[seconds]": "8000000000000"})
    assert abs(body["expires_at"] - (body["created_at"] + 8_000_000_000_000)) <= 2


def test_non_integer_expires_after_seconds_is_ignored(api: httpx.Client) -> None:
    body = upload_ok(api, n_chat_lines(1), extra={"expires_after[seconds]": "soon"})
    assert abs(body["expires_at"] - (body["created_at"] + 30 * DAY)) <= 2


def test_routes_are_served_under_ai_v1_too(api: httpx.Client, target: Target) -> None:
    # §0: dwctl mounts /ai/v1; the public host maps /v1 onto it
    file_id = upload_ok(api, n_chat_lines(1))["id"]
    assert api.get(target.root_url + f"/ai/v1/files/{file_id}").json()["id"] == file_id

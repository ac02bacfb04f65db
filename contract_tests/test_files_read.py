"""Reading files back: retrieve, list, content pages, delete, cost estimate.

Evidence: research/doubleword-server.md §1.1, §1.3, §6, §8 and §10 items 11-14, 29, 30; dwctl tests
named in each test's comment.
"""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest

from contract_tests.helpers import chat_line, embeddings_line, jsonl, n_chat_lines, upload_ok
from contract_tests.targets import CHAT_MODEL, EMBEDDINGS_MODEL, Target

pytestmark = pytest.mark.profile("doubleword")  # Doubleword's own behaviour (OpenAI's: test_openai_profile.py)


def test_input_content_is_the_requests_in_order_as_ndjson(api: httpx.Client) -> None:
    # test_upload_and_download_file_content; §10 item 11
    lines = [chat_line(f"c-{i}", f"text {i}", temperature=0.5) for i in range(4)]
    raw = b"\n\n".join(b'  ' + orjson.dumps(line, option=orjson.OPT_INDENT_2).replace(b"\n", b"") for line in lines)
    file_id = upload_ok(api, raw + b"\n")["id"]
    response = api.get(f"/files/{file_id}/content")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["x-incomplete"] == "false"
    assert "x-last-line" not in response.headers
    assert response.text.endswith("\n")
    got = [orjson.loads(line) for line in response.text.splitlines()]
    assert got == lines


def test_unknown_top_level_keys_are_dropped_from_content(api: httpx.Client) -> None:
    file_id = upload_ok(api, jsonl({**chat_line("a"), "extra": 1}))["id"]
    assert set(api.get(f"/files/{file_id}/content").json()) == {"custom_id", "method", "url", "body"}


def test_limit_pages_the_content(api: httpx.Client) -> None:
    # test_x_incomplete_true_with_pagination; §10 item 12
    file_id = upload_ok(api, n_chat_lines(5))["id"]
    first = api.get(f"/files/{file_id}/content", params={"limit": 2})
    assert [orjson.loads(x)["custom_id"] for x in first.text.splitlines()] == ["req-0", "req-1"]
    assert first.headers["x-incomplete"] == "true"
    assert first.headers["x-last-line"] == "2"
    last = api.get(f"/files/{file_id}/content", params={"limit": 2, "skip": 4})
    assert [orjson.loads(x)["custom_id"] for x in last.text.splitlines()] == ["req-4"]
    assert last.headers["x-incomplete"] == "false"
    assert last.headers["x-last-line"] == "5"


def test_skip_resumes_and_offset_is_ignored(api: httpx.Client) -> None:
    # §6: `offset` was renamed `skip` (Nov 2025); live ignores `offset`; §10 item 13
    file_id = upload_ok(api, n_chat_lines(5))["id"]
    with_offset = api.get(f"/files/{file_id}/content", params={"offset": 3})
    assert len(with_offset.text.splitlines()) == 5
    with_skip = api.get(f"/files/{file_id}/content", params={"skip": 3})
    assert [orjson.loads(x)["custom_id"] for x in with_skip.text.splitlines()] == ["req-3", "req-4"]
    assert "x-last-line" not in with_skip.headers


@pytest.mark.parametrize(("params", "count", "last"), [
    ({"limit": 0}, 1, "1"),         # clamped up to 1 (pagination.rs tests)
    ({"limit": -5}, 1, "1"),
    ({"limit": 1000}, 101, "101"),  # clamped down to 101
    ({"skip": -10, "limit": 3}, 3, "3"),
    ({"skip": 500, "limit": 3}, 0, "500"),
])
def test_limit_and_skip_are_clamped(api: httpx.Client, params: dict[str, int], count: int, last: str) -> None:
    file_id = upload_ok(api, n_chat_lines(100) + n_chat_lines(5, "more"))["id"]
    response = api.get(f"/files/{file_id}/content", params=params)
    assert len(response.text.splitlines()) == count
    assert response.headers["x-last-line"] == last


def test_non_numeric_limit_is_400(api: httpx.Client) -> None:
    file_id = upload_ok(api, n_chat_lines(1))["id"]
    assert api.get(f"/files/{file_id}/content", params={"limit": "ten"}).status_code == 400


def test_search_filters_content_by_custom_id(api: httpx.Client) -> None:
    file_id = upload_ok(api, jsonl(chat_line("Apple-1"), chat_line("banana"), chat_line("apple-2")))["id"]
    found = api.get(f"/files/{file_id}/content", params={"search": "APPLE"})
    assert [orjson.loads(x)["custom_id"] for x in found.text.splitlines()] == ["Apple-1", "apple-2"]


def test_malformed_and_unknown_ids(api: httpx.Client) -> None:
    # §10 item 14
    for path in ("/files/not-a-uuid", "/files/not-a-uuid/content"):
        response = api.get(path)
        assert response.status_code == 400
        assert response.text == "Invalid file ID format"
    missing = str(uuid.uuid4())
    response = api.get(f"/files/{missing}")
    assert response.status_code == 404
    assert response.text == f"File with ID {missing} not found"
    assert response.headers["content-type"].startswith("text/plain")
    assert api.delete(f"/files/{missing}").status_code == 404


def test_delete_then_gone(api: httpx.Client) -> None:
    # §8; §10 item 30 (file part)
    file_id = upload_ok(api, n_chat_lines(2))["id"]
    response = api.delete(f"/files/{file_id}")
    assert response.status_code == 200
    assert response.json() == {"id": file_id, "object": "file", "deleted": True}
    assert api.get(f"/files/{file_id}").status_code == 404
    assert api.get(f"/files/{file_id}/content").status_code == 404
    assert api.delete(f"/files/{file_id}").status_code == 404
    assert file_id not in {f["id"] for f in api.get("/files").json()["data"]}


def test_empty_list_omits_first_and_last_id(api: httpx.Client) -> None:
    # §1.3: first_id/last_id skip_serializing_if None
    assert api.get("/files").json() == {"object": "list", "data": [], "has_more": False}


def test_list_is_newest_first_with_cursor_pagination(api: httpx.Client, target: Target) -> None:
    # §1.3 CursorPagination; §10 item 29
    ids = []
    for i in range(3):
        ids.append(upload_ok(api, n_chat_lines(1, f"f{i}"))["id"])
        target.advance(1)
    page = api.get("/files", params={"limit": 2}).json()
    assert [f["id"] for f in page["data"]] == [ids[2], ids[1]]
    assert page["has_more"] is True
    assert page["first_id"] == ids[2] and page["last_id"] == ids[1]
    rest = api.get("/files", params={"limit": 2, "after": page["last_id"]}).json()
    assert [f["id"] for f in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False
    ascending = api.get("/files", params={"order": "asc"}).json()
    assert [f["id"] for f in ascending["data"]] == ids
    # an unknown or malformed cursor is ignored: the list starts from the beginning
    for after in ("garbage", str(uuid.uuid4())):
        assert [f["id"] for f in api.get("/files", params={"after": after}).json()["data"]] == ids[::-1]


def test_order_must_be_asc_or_desc(api: httpx.Client) -> None:
    response = api.get("/files", params={"order": "sideways"})
    assert response.status_code == 400
    assert response.text == "Order must be 'asc' or 'desc'"


def test_purpose_filter_matches_the_stored_purpose(api: httpx.Client) -> None:
    # §1.3 / api-notes Decisions: a file uploaded without purpose is stored without one
    with_purpose = upload_ok(api, n_chat_lines(1))["id"]
    without = upload_ok(api, n_chat_lines(1), purpose=None)["id"]
    listed = {f["id"] for f in api.get("/files", params={"purpose": "batch"}).json()["data"]}
    assert listed == {with_purpose}
    assert without in {f["id"] for f in api.get("/files").json()["data"]}


def test_search_matches_filenames_case_insensitively(api: httpx.Client) -> None:
    keep = upload_ok(api, n_chat_lines(1), filename="Quarterly-Report.jsonl")["id"]
    upload_ok(api, n_chat_lines(1), filename="other.jsonl")
    assert [f["id"] for f in api.get("/files", params={"search": "report"}).json()["data"]] == [keep]


def test_users_cannot_see_each_others_files(api: httpx.Client, other_api: httpx.Client) -> None:
    # tests/perms/files-and-batches.hurl; §10 item 32
    file_id = upload_ok(api, n_chat_lines(2))["id"]
    for call in (other_api.get(f"/files/{file_id}"), other_api.get(f"/files/{file_id}/content"),
                 other_api.get(f"/files/{file_id}/cost-estimate"), other_api.delete(f"/files/{file_id}")):
        assert call.status_code == 404
        assert call.text == f"File with ID {file_id} not found"
    assert other_api.get("/files").json()["data"] == []
    assert api.get(f"/files/{file_id}").status_code == 200


def test_cost_estimate_has_the_live_shape(api: httpx.Client) -> None:
    # test_get_file_cost_estimate: per-model breakdown, total = sum of the models
    from decimal import Decimal

    file_id = upload_ok(api, jsonl(chat_line("a", "x" * 400), chat_line("b"), embeddings_line("c")))["id"]
    estimate = api.get(f"/files/{file_id}/cost-estimate").json()
    assert estimate["file_id"] == file_id
    assert estimate["total_requests"] == 3
    by_model = {m["model"]: m for m in estimate["models"]}
    assert set(by_model) == {CHAT_MODEL, EMBEDDINGS_MODEL}
    assert by_model[CHAT_MODEL]["request_count"] == 2
    assert by_model[CHAT_MODEL]["estimated_input_tokens"] > 100  # body bytes / 4
    assert by_model[EMBEDDINGS_MODEL]["estimated_output_tokens"] == 1  # one per embeddings request
    assert Decimal(estimate["total_estimated_cost"]) == sum(Decimal(m["estimated_cost"]) for m in estimate["models"])
    assert Decimal(by_model[CHAT_MODEL]["estimated_cost"]) > 0
    hour = api.get(f"/files/{file_id}/cost-estimate", params={"completion_window": "1h"}).json()
    assert Decimal(hour["total_estimated_cost"]) > Decimal(estimate["total_estimated_cost"])


def test_content_bodies_come_back_with_sorted_keys(api: httpx.Client) -> None:
    # live re-serialises each body through serde_json::Value (a BTreeMap without `preserve_order`):
    # dwctl files.rs `OpenAIBatchRequest::from_internal`; Cargo.lock's serde_json 1.0.149 has no indexmap
    # dependency. §5 (input file download); test_upload_and_download_file_content compares lines as JSON
    # values, so the key order is read from the source only
    line = b'{"custom_id":"k","method":"POST","url":"/v1/chat/completions","body":{"temperature":1,"model":"' + \
        CHAT_MODEL.encode() + b'","messages":[{"role":"user","content":"hi"}]}}\n'
    file_id = upload_ok(api, line)["id"]
    assert api.get(f"/files/{file_id}/content").content == (
        b'{"custom_id":"k","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"content":"hi",'
        b'"role":"user"}],"model":"' + CHAT_MODEL.encode() + b'","temperature":1}}\n')

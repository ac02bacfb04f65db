"""A batch moving through its statuses, with its output and error files growing, as live shows it.

Evidence: research/doubleword-server.md §4, §5, §6, §8 and §10 items 18-25, 29-31, 35; dwctl and
fusillade tests named in each test's comment. Time is driven with the simulator's manual clock.
"""

from __future__ import annotations

import httpx
import orjson
import pytest

from contract_tests.helpers import chat_line, custom_ids, jsonl, n_chat_lines, start_batch
from contract_tests.lifecycle import advance_until, partly_done, poll, run_to_end
from contract_tests.targets import Target

pytestmark = [pytest.mark.simulator_only("drives the manual clock through whole batches"), pytest.mark.profile("doubleword")]


def test_statuses_validating_in_progress_completed(api: httpx.Client, target: Target) -> None:
    # tests/perms/files-and-batches.hurl polls to in_progress; §10 item 18
    batch = start_batch(api, n_chat_lines(40))
    running = advance_until(target, api, batch["id"], lambda b: b["status"] != "validating")
    assert running["status"] == "in_progress"
    assert running["in_progress_at"] >= batch["created_at"]
    done = run_to_end(target, api, batch["id"])
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 40, "completed": 40, "failed": 0}
    assert done["completed_at"] == done["finalizing_at"]
    assert done["completed_at"] >= done["in_progress_at"]
    assert "failed_at" not in done


def test_output_lines_have_the_live_shape(api: httpx.Client, target: Target) -> None:
    # fusillade BatchOutputItem; test_batch_output_and_error_streaming; §10 item 19
    batch = start_batch(api, n_chat_lines(12))
    run_to_end(target, api, batch["id"])
    response = api.get(f"/files/{batch['output_file_id']}/content")
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == sorted(f"req-{i}" for i in range(12))
    for line in lines:
        assert list(line) == ["id", "custom_id", "response", "error"]
        assert line["id"].startswith("batch_req_")
        assert line["error"] is None
        assert line["response"]["status_code"] == 200
        assert line["response"]["request_id"] is None
        assert line["response"]["body"]["object"] == "chat.completion"
    assert len({line["id"] for line in lines}) == 12


def test_a_rejected_request_lands_in_the_error_file(api: httpx.Client, target: Target) -> None:
    # an upstream 400 fails at once (default_should_retry); §10 item 20
    batch = start_batch(api, jsonl(chat_line("good-1"), chat_line("bad", temperature=7), chat_line("good-2")))
    done = run_to_end(target, api, batch["id"])
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    errors = [orjson.loads(x) for x in api.get(f"/files/{batch['error_file_id']}/content").text.splitlines()]
    assert len(errors) == 1
    assert list(errors[0]) == ["id", "custom_id", "response", "error"]
    assert errors[0]["custom_id"] == "bad"
    assert errors[0]["response"] is None
    assert errors[0]["error"]["code"] is None
    reason = orjson.loads(errors[0]["error"]["message"])
    assert reason["type"] == "NonRetriableHttpStatus"
    assert reason["details"]["status"] == 400
    assert "temperature" in reason["details"]["body"]


def test_all_failed_is_failed(api: httpx.Client, target: Target) -> None:
    # §4 terminal rules; §10 item 21
    batch = start_batch(api, jsonl(*(chat_line(f"b{i}", temperature=9) for i in range(3))))
    done = run_to_end(target, api, batch["id"])
    assert done["status"] == "failed"
    assert done["request_counts"] == {"total": 3, "completed": 0, "failed": 3}
    assert "failed_at" in done and "completed_at" not in done and "finalizing_at" not in done


def test_partial_output_while_running_and_resume_with_skip(api: httpx.Client, target: Target) -> None:
    # test_x_incomplete_for_batch_output_file_running, ..._complete; §10 item 23
    batch = start_batch(api, n_chat_lines(100))
    running = advance_until(target, api, batch["id"], partly_done, step=0.2)
    first = api.get(f"/files/{batch['output_file_id']}/content")
    assert first.headers["x-incomplete"] == "true"
    seen = custom_ids(first.text)
    assert int(first.headers["x-last-line"]) == len(seen) >= running["request_counts"]["completed"]
    running_file = api.get(f"/files/{batch['output_file_id']}").json()
    assert running_file["bytes"] > 0 and running_file["purpose"] == "batch_output"
    while True:
        target.advance(0.5)
        page = api.get(f"/files/{batch['output_file_id']}/content",
                       params={"skip": first.headers["x-last-line"], "limit": 7})
        seen += custom_ids(page.text)
        assert int(page.headers["x-last-line"]) == len(seen)
        first = page
        if page.headers["x-incomplete"] == "false":
            break
    assert sorted(seen) == sorted(f"req-{i}" for i in range(100))  # every line exactly once
    assert poll(api, batch["id"])["status"] == "completed"


def test_error_file_headers_while_running(api: httpx.Client, target: Target) -> None:
    # §10 item 24: X-Last-Line of the error file follows request_counts.failed
    batch = start_batch(api, jsonl(*(chat_line(f"r{i}", temperature=9 if i % 2 else 1) for i in range(80))))
    running = advance_until(target, api, batch["id"], lambda b: partly_done(b) and b["request_counts"]["failed"] > 0,
                            step=0.2)
    response = api.get(f"/files/{batch['error_file_id']}/content")
    assert response.headers["x-incomplete"] == "true"
    assert int(response.headers["x-last-line"]) >= running["request_counts"]["failed"]
    assert len(response.text.splitlines()) == int(response.headers["x-last-line"])


def test_validating_output_file_is_empty_and_incomplete(api: httpx.Client) -> None:
    # §6: no 404 for a fresh output file
    batch = start_batch(api, n_chat_lines(3))
    response = api.get(f"/files/{batch['output_file_id']}/content")
    assert response.status_code == 200
    assert response.text == ""
    assert response.headers["x-incomplete"] == "true"


def test_cancel_keeps_finished_work_and_is_idempotent(api: httpx.Client, target: Target) -> None:
    # test_cancel_batch_cascades_state_to_child_requests; §10 item 25
    batch = start_batch(api, n_chat_lines(100))
    advance_until(target, api, batch["id"], partly_done, step=0.2)
    response = api.post(f"/batches/{batch['id']}/cancel")
    assert response.status_code == 200
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelling_at"] == cancelled["cancelled_at"]
    counts = cancelled["request_counts"]
    assert counts["completed"] + counts["failed"] < counts["total"]
    target.advance(3600)
    again = api.post(f"/batches/{batch['id']}/cancel").json()
    assert again["cancelled_at"] == cancelled["cancelled_at"]
    assert again["request_counts"] == counts  # nothing finishes after the cancel
    out = custom_ids(api.get(f"/files/{batch['output_file_id']}/content").text)
    err = custom_ids(api.get(f"/files/{batch['error_file_id']}/content").text)
    assert len(out) == counts["completed"] and len(err) == counts["failed"]
    assert len(set(out) | set(err)) == len(out) + len(err)  # each request in at most one file
    output = api.get(f"/files/{batch['output_file_id']}/content", params={"limit": 5})
    assert output.headers["x-incomplete"] == ("true" if counts["completed"] > 5 else "false")


def test_cancel_while_validating(api: httpx.Client, target: Target) -> None:
    # api-notes Decisions: `cancelling` until validation would end, then `cancelled`, nothing run
    batch = start_batch(api, n_chat_lines(5))
    cancelled = api.post(f"/batches/{batch['id']}/cancel").json()
    assert cancelled["status"] == "cancelling"
    target.advance(60)
    later = poll(api, batch["id"])
    assert later["status"] == "cancelled"
    assert later["request_counts"] == {"total": 5, "completed": 0, "failed": 0}
    assert "in_progress_at" not in later


def test_cancel_a_finished_batch_flips_it_to_cancelled(api: httpx.Client, target: Target) -> None:
    # §4: cancel has no state guard (open question 4; api-notes Decisions)
    batch = start_batch(api, n_chat_lines(2))
    run_to_end(target, api, batch["id"])
    cancelled = api.post(f"/batches/{batch['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["request_counts"]["completed"] == 2


def test_deleting_the_input_file_cancels_and_detaches(api: httpx.Client, target: Target) -> None:
    # fusillade test_delete_file_cascade; §10 item 30
    batch = start_batch(api, n_chat_lines(60))
    advance_until(target, api, batch["id"], partly_done, step=0.2)
    assert api.delete(f"/files/{batch['input_file_id']}").json()["deleted"] is True
    after = poll(api, batch["id"])
    assert after["status"] == "cancelled"
    assert after["input_file_id"] == ""
    assert api.get(f"/files/{batch['input_file_id']}").status_code == 404


def test_delete_batch(api: httpx.Client, target: Target) -> None:
    # test_delete_batch_cascades_state_to_child_requests, test_output_file_streamable_after_batch_deleted
    batch = start_batch(api, n_chat_lines(5))
    run_to_end(target, api, batch["id"])
    response = api.delete(f"/batches/{batch['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"/batches/{batch['id']}").status_code == 404
    assert batch["id"] not in {b["id"] for b in api.get("/batches").json()["data"]}
    output = api.get(f"/files/{batch['output_file_id']}/content")
    assert output.status_code == 200
    assert len(output.text.splitlines()) == 5
    assert output.headers["x-incomplete"] == "false"
    assert "x-last-line" not in output.headers


def test_virtual_files_are_listed(api: httpx.Client) -> None:
    # §1.4 GET /files lists the caller's output/error files; §10 item 29
    batch = start_batch(api, n_chat_lines(1))
    listed = {f["id"]: f for f in api.get("/files").json()["data"]}
    out = listed[batch["output_file_id"]]
    assert out["purpose"] == "batch_output"
    assert out["filename"] == f"batch-{batch['id']}-output.jsonl"
    assert "expires_at" not in out
    assert listed[batch["error_file_id"]]["purpose"] == "batch_error"
    only_output = api.get("/files", params={"purpose": "batch_output"}).json()["data"]
    assert [f["id"] for f in only_output] == [batch["output_file_id"]]


def test_retry_after_failures_and_nothing_to_retry(api: httpx.Client, target: Target) -> None:
    # test_retry_with_nothing_to_retry_returns_400, test_retry_failed_requests_for_batch; §10 item 35
    clean = start_batch(api, n_chat_lines(2))
    run_to_end(target, api, clean["id"])
    refused = api.post(f"/batches/{clean['id']}/retry")
    assert refused.status_code == 400
    assert refused.text.startswith("Nothing to retry")
    mixed = start_batch(api, jsonl(chat_line("ok"), chat_line("bad", temperature=9)))
    run_to_end(target, api, mixed["id"])
    retried = api.post(f"/batches/{mixed['id']}/retry")
    assert retried.status_code == 200
    body = retried.json()
    assert body["status"] == "in_progress"
    assert body["request_counts"]["failed"] == 0
    assert "completed_at" not in body
    again = run_to_end(target, api, mixed["id"])
    assert again["request_counts"] == {"total": 2, "completed": 1, "failed": 1}  # the model still says 400


def test_retry_after_cancel_resumes(api: httpx.Client, target: Target) -> None:
    # test_retry_immediately_after_cancel_resumes_batch
    batch = start_batch(api, n_chat_lines(60))
    advance_until(target, api, batch["id"], partly_done, step=0.2)
    api.post(f"/batches/{batch['id']}/cancel")
    resumed = api.post(f"/batches/{batch['id']}/retry").json()
    assert resumed["status"] == "in_progress"
    assert "cancelled_at" not in resumed
    done = run_to_end(target, api, batch["id"])
    assert done["request_counts"] == {"total": 60, "completed": 60, "failed": 0}
    out = custom_ids(api.get(f"/files/{batch['output_file_id']}/content").text)
    assert sorted(out) == sorted(f"req-{i}" for i in range(60))


def test_retry_requests_needs_ids(api: httpx.Client, target: Target) -> None:
    batch = start_batch(api, jsonl(chat_line("bad", temperature=9)))
    run_to_end(target, api, batch["id"])
    refused = api.post(f"/batches/{batch['id']}/retry-requests", json={"request_ids": ["nope"]})
    assert refused.status_code == 400
    assert refused.text == "No valid request IDs provided"
    error_id = orjson.loads(api.get(f"/files/{batch['error_file_id']}/content").text)["id"]
    retried = api.post(f"/batches/{batch['id']}/retry-requests",
                       json={"request_ids": [error_id.removeprefix("batch_req_")]})
    assert retried.status_code == 200
    assert retried.json()["request_counts"]["failed"] == 0


def test_expired_at_appears_after_the_window_but_status_stays(api: httpx.Client, target: Target) -> None:
    # §4 item 5: nothing expires a batch; expired_at = expires_at once now is past it
    batch = start_batch(api, n_chat_lines(2), window="1h")
    run_to_end(target, api, batch["id"])
    target.advance(3700)
    late = poll(api, batch["id"])
    assert late["status"] == "completed"
    assert late["expired_at"] == late["expires_at"]


def test_results_are_in_input_order(api: httpx.Client, target: Target) -> None:
    # get_batch_results: input line order, status per request
    batch = start_batch(api, jsonl(chat_line("a"), chat_line("b", temperature=9), chat_line("c")))
    run_to_end(target, api, batch["id"])
    response = api.get(f"/batches/{batch['id']}/results")
    lines = [orjson.loads(x) for x in response.text.splitlines()]
    assert [x["custom_id"] for x in lines] == ["a", "b", "c"]
    assert [x["status"] for x in lines] == ["completed", "failed", "completed"]
    assert lines[1]["error"] and lines[1]["response_body"] is None
    assert lines[0]["input_body"]["messages"][0]["content"] == "Hello"
    assert response.headers["x-incomplete"] == "false"
    failed_only = api.get(f"/batches/{batch['id']}/results", params={"status": "failed"})
    assert custom_ids(failed_only.text) == ["b"]


def test_analytics_counts_tokens(api: httpx.Client, target: Target) -> None:
    batch = start_batch(api, n_chat_lines(3))
    assert api.get(f"/batches/{batch['id']}/analytics").json()["total_requests"] == 0
    run_to_end(target, api, batch["id"])
    stats = api.get(f"/batches/{batch['id']}/analytics").json()
    assert stats["total_requests"] == 3
    assert stats["total_tokens"] == stats["total_prompt_tokens"] + stats["total_completion_tokens"] > 0


@pytest.mark.parametrize("endpoint", ["/v1/embeddings"])
def test_embeddings_batch(api: httpx.Client, target: Target, endpoint: str) -> None:
    from contract_tests.helpers import embeddings_line

    batch = start_batch(api, jsonl(embeddings_line("e1"), embeddings_line("e2", "other")), endpoint=endpoint)
    run_to_end(target, api, batch["id"])
    lines = [orjson.loads(x) for x in api.get(f"/files/{batch['output_file_id']}/content").text.splitlines()]
    assert {x["response"]["body"]["object"] for x in lines} == {"list"}
    assert all(len(x["response"]["body"]["data"][0]["embedding"]) == 4096 for x in lines)

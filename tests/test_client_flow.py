"""The whole batch job through `DoublewordClient`, against the simulator over real HTTP, in virtual time."""

from __future__ import annotations

from typing import Any

import pytest

from client import (
    BadRequestError,
    Batch,
    DoublewordClient,
    NotFoundError,
    ResultLine,
    SimulatorClock,
    chat_request,
)
from contract_tests.targets import HttpTarget


def requests(n: int, prefix: str = "q", bad: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    """`n` chat lines; those numbered in `bad` carry temperature 9, which the simulated model rejects."""
    extra: list[dict[str, Any]] = [{"temperature": 9} if i in bad else {} for i in range(n)]
    return [chat_request(f"{prefix}-{i}", f"question {i}", **extra[i]) for i in range(n)]


def test_submit_wait_and_download(dw: DoublewordClient, sim_clock: SimulatorClock) -> None:
    batch = dw.submit(requests(20), completion_window="1h", metadata={"job": "flow"})
    assert batch.status == "validating" and batch.request_counts.total == 20
    assert batch.completion_window == "1h" and batch.metadata["job"] == "flow"
    seen: list[Batch] = []
    done = dw.wait(batch.id, poll_interval=0.5, backoff=1.5, max_interval=2, on_progress=seen.append)
    assert done.status == "completed" and done.request_counts.completed == 20
    statuses = [b.status for b in seen]
    assert statuses[0] == "validating" and "in_progress" in statuses and seen[-1] is done
    assert sim_clock.slept[:3] == [0.5, 0.75, 1.125] and max(sim_clock.slept) <= 2  # interval with backoff
    results = list(dw.iter_results(batch.id))
    assert sorted(r.custom_id or "" for r in results) == sorted(f"q-{i}" for i in range(20))
    assert all(r.ok and r.body["object"] == "chat.completion" for r in results)
    assert [r.position for r in results] == list(range(1, 21))
    assert list(dw.iter_errors(batch.id)) == []
    assert dw.analytics(batch.id)["total_requests"] == 20
    assert dw.get_file(batch.input_file_id).purpose == "batch"


def test_iter_results_resumes_after_an_interruption_with_every_line_once(
    sim: HttpTarget, sim_clock: SimulatorClock,
) -> None:
    key = sim.new_key()
    with DoublewordClient(api_key=key, base_url=sim.base_url, clock=sim_clock) as first_run:
        batch = first_run.submit(requests(120, prefix="r"))
        got: list[ResultLine] = []
        for line in first_run.iter_results(batch.id, poll_interval=0.5):
            got.append(line)
            if len(got) == 45:
                break  # the program stops mid-way; it kept the last position
        assert first_run.get_batch(batch.id).status == "in_progress"  # lines were read while the batch ran
    position = got[-1].position
    assert position == 45
    with DoublewordClient(api_key=key, base_url=sim.base_url, clock=sim_clock) as second_run:  # a later run
        rest = list(second_run.iter_results(batch.id, start=position, poll_interval=0.5, page_size=7))
        assert second_run.get_batch(batch.id).status == "completed"
    ids = [str(r.custom_id) for r in got + rest]
    assert len(ids) == 120 and sorted(ids) == sorted(f"r-{i}" for i in range(120))  # every line, exactly once
    assert [r.position for r in rest] == list(range(46, 121))


def test_errors_as_they_come_and_retry_failed(dw: DoublewordClient) -> None:
    bad = frozenset({1, 4, 7, 8})
    batch = dw.submit(requests(12, prefix="e", bad=bad))
    errors = list(dw.iter_errors(batch.id, poll_interval=0.5))
    assert sorted(e.custom_id or "" for e in errors) == sorted(f"e-{i}" for i in bad)
    for line in errors:
        assert not line.ok and line.failure is not None
        assert line.failure["type"] == "NonRetriableHttpStatus" and line.failure["details"]["status"] == 400
    assert dw.wait(batch.id).request_counts.failed == 4
    retry = dw.retry_failed(batch.id)
    assert retry is not None and retry.id != batch.id
    assert retry.metadata["retry_of"] == batch.id and retry.request_counts.total == 4
    resubmitted = [line.data for line in dw.iter_file_lines(retry.input_file_id)]
    assert sorted(line["custom_id"] for line in resubmitted) == sorted(f"e-{i}" for i in bad)
    assert all(line["body"]["temperature"] == 9 for line in resubmitted)


def test_nothing_to_retry(dw: DoublewordClient) -> None:
    batch = dw.submit(requests(2))
    dw.wait(batch.id)
    assert dw.retry_failed(batch.id) is None


def test_lists_walk_every_page(dw: DoublewordClient) -> None:
    created = {dw.submit(requests(1, prefix=f"l{i}")).id for i in range(5)}
    listed = [b.id for b in dw.list_batches(page_size=2)]
    assert sorted(listed) == sorted(created)  # a fresh user sees only their own
    files = list(dw.list_files(page_size=3))
    assert len(files) == 15 and len({f.id for f in files}) == 15  # input, output and error file each
    assert {f.id for f in dw.list_files(purpose="batch_output", page_size=1)} <= {f.id for f in files}


def test_content_pages_cancel_delete_and_estimate(dw: DoublewordClient) -> None:
    batch = dw.submit(requests(5))
    page = dw.file_content(batch.input_file_id, skip=1, limit=2)
    assert [r["custom_id"] for r in page.records()] == ["q-1", "q-2"]
    assert page.last_line == 3 and page.incomplete
    estimate = dw.cost_estimate(batch.input_file_id, "24h")
    assert estimate["total_requests"] == 5
    cancelled = dw.cancel_batch(batch.id)
    assert cancelled.status in ("cancelling", "cancelled") and cancelled.is_final
    dw.delete_batch(batch.id)
    with pytest.raises(NotFoundError):
        dw.get_batch(batch.id)
    assert dw.delete_file(batch.input_file_id) is True


def test_plain_text_errors_keep_status_and_message(dw: DoublewordClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFoundError) as not_found:
        dw.get_file(missing)
    assert not_found.value.status_code == 404
    assert not_found.value.message == f"File with ID {missing} not found"
    with pytest.raises(BadRequestError) as bad_id:
        dw.get_batch("not-a-uuid")
    assert bad_id.value.message == "Invalid batch ID format"
    with pytest.raises(BadRequestError) as bad_window:
        dw.create_batch(dw.upload_file(b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions",'
                                       b'"body":{"model":"Qwen/Qwen3-VL-30B-A3B-Instruct-FP8"}}\n').id,
                        completion_window="2h")
    assert "Unsupported completion_window" in bad_window.value.message
    assert str(bad_window.value).startswith("400 ")


def test_server_side_rejection_of_an_upload_is_a_bad_request(dw: DoublewordClient) -> None:
    with pytest.raises(BadRequestError) as rejected:
        dw.upload_file(b"not json\n")
    assert rejected.value.message.startswith("Invalid JSON on line 1")

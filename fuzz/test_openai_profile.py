"""The OpenAI profile (`--profile openai`) under generated input: any file, valid or broken by one
named mutation, is taken at upload; its batch then either fails validation with known codes or runs,
and every request ends in exactly one of the output and error files. No 5xx, no server error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from fuzz.checks import no_5xx, upload
from fuzz.profiles import fuzz_settings
from fuzz.strategies import MUTATIONS, BatchFile, batch_files, broken_files
from fuzz.target import FUZZ_LIMITS, TARGET_ENV, FuzzTarget

pytestmark = pytest.mark.simulator_only("the OpenAI profile is the simulator's")

CODES = {"invalid_json_line", "duplicate_custom_id", "url_mismatch", "model_mismatch", "empty_file", "too_many_tasks",
         "model_not_found", "invalid_request"}
TWO_DAYS = 2 * 86_400


@pytest.fixture(scope="module")
def openai_target() -> Iterator[FuzzTarget]:
    started = FuzzTarget(os.environ.get(TARGET_ENV, "asgi"), ("--profile", "openai"))
    yield started
    started.close()


def _custom_ids(content: bytes) -> list[str]:
    return [str(orjson.loads(line)["custom_id"]) for line in content.splitlines() if line.strip()]


def _lines(api: Any, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    response = no_5xx(api.get(f"/files/{file_id}/content"))
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.content.splitlines() if line]


def _openai_valid(f: BatchFile) -> bytes:
    """A generated file made to pass OpenAI's checks: one url and one model (the first line's),
    unique custom_ids. Bodies stay as drawn, so some requests still fail at the model (400)."""
    first = f.requests[0]
    lines = []
    for i, request in enumerate(f.requests):
        body = {**request["body"], "model": first["body"]["model"]}
        lines.append(orjson.dumps({**request, "custom_id": f"{i}:{request['custom_id']}", "method": "POST",
                                   "url": first["url"], "body": body}))
    return b"\n".join(lines) + b"\n"


valid_files = batch_files(FUZZ_LIMITS, budget=64 * 1024)
endpoints = st.sampled_from(["/v1/chat/completions", "/v1/embeddings", "/v1/responses"])
broken_contents = st.sampled_from(sorted(set(MUTATIONS) - {"oversized_file"})).flatmap(
    lambda name: broken_files(name, FUZZ_LIMITS)).map(lambda b: b.content)
files_and_endpoints = st.one_of(
    valid_files.map(lambda f: (_openai_valid(f), str(f.requests[0]["url"]))),  # made to pass validation
    st.tuples(valid_files.map(lambda f: f.render()), endpoints),  # Doubleword-valid files
    st.tuples(broken_contents, endpoints),
)


@fuzz_settings(25)
@given(drawn=files_and_endpoints)
def test_any_file_runs_or_fails_validation_and_loses_nothing(
    openai_target: FuzzTarget, drawn: tuple[bytes, str]
) -> None:
    content, endpoint = drawn
    with openai_target.watch(), openai_target.user() as api:
        uploaded = no_5xx(upload(api, content))
        assert uploaded.status_code == 200, uploaded.text
        created = no_5xx(api.post("/batches", json={"input_file_id": uploaded.json()["id"], "endpoint": endpoint,
                                                    "completion_window": "24h"}))
        assert created.status_code == 200, created.text
        openai_target.advance(TWO_DAYS)
        batch = no_5xx(api.get(f"/batches/{created.json()['id']}")).json()
        event(f"status {batch['status']}")
        counts = batch["request_counts"]
        if batch["status"] == "failed":
            assert batch["errors"]["data"] and {e["code"] for e in batch["errors"]["data"]} <= CODES
            assert counts == {"total": 0, "completed": 0, "failed": 0}
            assert batch["output_file_id"] is None and batch["error_file_id"] is None
            return
        assert batch["status"] in ("completed", "expired"), batch
        assert batch["errors"] is None
        out, err = _lines(api, batch["output_file_id"]), _lines(api, batch["error_file_id"])
        assert (len(out), len(err)) == (counts["completed"], counts["failed"])
        assert counts["total"] == counts["completed"] + counts["failed"]
        assert sorted(line["custom_id"] for line in out + err) == sorted(_custom_ids(content))

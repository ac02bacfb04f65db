"""Minimal examples of differences the fuzz properties found and the simulator has since fixed, kept
as plain tests (the properties cover the same ground with generated inputs). Each docstring says
what the live service does and what the simulator did."""

from __future__ import annotations

import gc
import logging
import threading
from typing import Any

import orjson
import pytest

from fuzz.checks import check_content, check_nothing_stored, check_rejected, upload
from fuzz.strategies import EMBEDDINGS_MODELS, LINE_TEXT, Expect, nested, stored_request
from fuzz.target import FuzzTarget, LogCollector
from mockserver.testing import AsgiTarget


def _nested_line(depth: int) -> bytes:
    """The line with `"x"`: `depth` nested arrays in its body, so `2 + depth` containers deep."""
    return LINE_TEXT[:-2] + b',"x":' + nested(depth, "array").encode() + b"}}\n"


def test_a_repeated_top_level_key_is_invalid_json(fuzz_target: FuzzTarget) -> None:
    """serde's derived Deserialize refuses a repeated field: live answers 400 `Invalid JSON on line 1:
    duplicate field `custom_id` at line 1 column 29`. The simulator kept the last value (orjson)."""
    content = b'{"custom_id":"a","custom_id":"b","method":"POST","url":"/v1/embeddings","body":{"model":"' + \
        EMBEDDINGS_MODELS[0].encode() + b'","input":"x"}}\n'
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        check_rejected(upload(api, content), Expect(400, "Invalid JSON on line 1: ", line=1,
                                                     contains="duplicate field `custom_id`"))
        check_nothing_stored(fuzz_target, api, before)


def test_a_line_nested_128_deep_is_invalid_json(fuzz_target: FuzzTarget) -> None:
    """serde_json refuses the 128th nested container: live answers 400 `Invalid JSON on line 1:
    recursion limit exceeded ...`. The simulator stored it (orjson allows 1024)."""
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        check_rejected(upload(api, _nested_line(126)), Expect(400, "Invalid JSON on line 1: ", line=1,
                                                               contains="recursion limit exceeded"))
        check_nothing_stored(fuzz_target, api, before)


def test_a_line_nested_127_deep_is_accepted(fuzz_target: FuzzTarget) -> None:
    """The other side of serde's limit: 127 nested containers are fine."""
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = upload(api, _nested_line(125))
        assert response.status_code == 201, response.text
        check_content(api, response.json()["id"], [stored_request(orjson.loads(_nested_line(125)))])


def test_a_line_nested_255_deep_is_refused_not_a_500_later(fuzz_target: FuzzTarget) -> None:
    """The simulator stored such a line and then answered 500 to GET /files/{id}/content
    (orjson.dumps: `Recursion limit reached`); live refuses it at upload."""
    with fuzz_target.watch(), fuzz_target.user() as api:
        check_rejected(upload(api, _nested_line(253)), Expect(400, "Invalid JSON on line 1: ", line=1))


def test_content_returns_body_keys_sorted_like_live(fuzz_target: FuzzTarget) -> None:
    """Live re-serialises each body through serde_json's `Value`, a BTreeMap (serde_json is built
    without `preserve_order`): body keys come back sorted. The simulator kept the upload order."""
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = upload(api, LINE_TEXT + b"\n")
        assert response.status_code == 201, response.text
        content = api.get(f"/files/{response.json()['id']}/content").content
        assert content == b'{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"input":"x","model":"' + \
            EMBEDDINGS_MODELS[0].encode() + b'"}}\n'


@pytest.mark.simulator_only("the in-process harness itself")
def test_advancing_the_clock_while_a_batch_is_planned_logs_no_error() -> None:
    """In-process harness (`mockserver.testing`, behind the `dwsim` fixture): `advance` entered a new
    TestClient, which started the app's lifespan again on an event loop of its own; the batch still
    being planned was planned again there, chained to a task of the session's loop, and asyncio
    logged `Task exception was never retrieved: RuntimeError ... attached to a different loop`."""
    errors: list[str] = []
    handler = LogCollector(errors)
    logging.getLogger("asyncio").addHandler(handler)
    harness = AsgiTarget()
    planned = threading.Event()  # hold the planning thread until the clock has moved: no race
    compute = harness.backend.planning.compute

    def held_compute(*args: Any) -> Any:
        planned.wait(10)
        return compute(*args)

    harness.backend.planning.compute = held_compute  # type: ignore[method-assign,assignment]
    try:
        api = harness.client(harness.new_key())
        created = upload(api, LINE_TEXT + b"\n")
        batch = api.post("/batches", json={"input_file_id": created.json()["id"], "endpoint": "/v1/embeddings",
                                           "completion_window": "24h"})
        assert batch.status_code == 201, batch.text
        harness.advance(1)
        planned.set()
        assert api.get(f"/batches/{batch.json()['id']}").status_code == 200
        api.close()
        gc.collect()
        assert errors == []
    finally:
        planned.set()
        logging.getLogger("asyncio").removeHandler(handler)
        harness.close()

"""The pure planner (`domain/planner.py`) and the readers it is given (`domain/files.py`): request ids,
determinism, fault rules before the model, and bodies read as stored."""

from __future__ import annotations

import hashlib
import uuid
from array import array
from pathlib import Path
from typing import Any

import orjson

from mockserver.domain.faults import Outcome
from mockserver.domain.files import BlockBodies, batch_requests, request_body
from mockserver.domain.planner import PlanSpec, Requests, no_rules, plan_rows, request_uuid
from mockserver.domain.scheduler import Attempt, Timing

SPEC = PlanSpec("b1", ready_at=100.0, expires_at=100.0 + 86_400, seed=7, timing=Timing(concurrency=2),
                keep_response=False)


class Echo:
    """An answer source that answers every request with its body."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, int, float]] = []

    def attempt(self, url: str, body: Any, n: int, start: float) -> Attempt:
        self.calls.append((url, body, n, start))
        return Attempt(200, {"echo": body, "usage": {"prompt_tokens": 3, "completion_tokens": 4}})


class ListBodies:
    def __init__(self, bodies: list[Any]) -> None:
        self.bodies = bodies

    def body(self, index: int) -> Any:
        return self.bodies[index]


def requests(n: int) -> Requests:
    return Requests([f"c{i}" for i in range(n)], ["/v1/chat/completions"] * n, ["m"] * n, [100] * n)


def no_missing(model: str) -> Attempt | None:
    return None


def test_request_ids_are_the_uuid4_spelling_of_a_hash_of_batch_and_index() -> None:
    for batch_id, index in (("b1", 0), ("b1", 1), ("some-batch", 49_999)):
        digest = hashlib.blake2b(f"{batch_id}:{index}".encode(), digest_size=16).digest()
        assert request_uuid(batch_id, index) == str(uuid.UUID(bytes=digest, version=4))


def test_a_plan_is_one_row_per_request_in_index_order_and_the_same_every_time() -> None:
    bodies = ListBodies([{"model": "m", "i": i} for i in range(5)])
    first = plan_rows(SPEC, requests(5), bodies, Echo(), no_rules(5), no_missing)
    again = plan_rows(SPEC, requests(5), bodies, Echo(), no_rules(5), no_missing)
    assert first == again
    assert [r.idx for r in first] == [0, 1, 2, 3, 4]
    assert [r.custom_id for r in first] == ["c0", "c1", "c2", "c3", "c4"]
    assert all(r.ok == 1 and r.prompt_tokens == 3 and r.completion_tokens == 4 for r in first)
    assert [r.start_at for r in first[:2]] == [100.0, 100.0]  # two slots
    assert first[2].start_at == min(first[0].end_at, first[1].end_at)
    line = orjson.loads(first[3].line)
    assert line["custom_id"] == "c3" and line["response"]["body"]["echo"] == {"model": "m", "i": 3}


def test_a_re_plan_of_some_requests_draws_what_the_whole_plan_drew() -> None:
    bodies = ListBodies([{"model": "m", "i": i} for i in range(6)])
    whole = plan_rows(SPEC, requests(6), bodies, Echo(), no_rules(6), no_missing)
    (only,) = plan_rows(SPEC, requests(6), bodies, Echo(), no_rules(6), no_missing, indices=[4])
    assert only.request_id == whole[4].request_id
    assert only.start_at == 100.0  # alone: it starts at once
    assert only.end_at - only.start_at == whole[4].end_at - whole[4].start_at  # the same seeded duration


def test_a_fault_rule_answers_before_the_model_and_a_missing_model_before_the_source() -> None:
    source = Echo()
    rules: list[Outcome | None] = [Outcome(status=400, body={"error": "no"}), None, None]
    reqs = Requests(["a", "b", "c"], ["/v1/chat/completions"] * 3, ["m", "gone", "m"], [10] * 3)

    def missing(model: str) -> Attempt | None:
        return Attempt(400, {"error": "model not found"}) if model == "gone" else None

    rows = plan_rows(SPEC, reqs, ListBodies([{}, {}, {"k": 1}]), source, rules, missing)
    assert [r.ok for r in rows] == [0, 0, 1]
    assert [call[1] for call in source.calls] == [{"k": 1}]  # only the third reached the source
    assert "no" in orjson.loads(rows[0].line)["error"]["message"]
    assert "model not found" in orjson.loads(rows[1].line)["error"]["message"]


def _stored(tmp_path: Path, lines: list[bytes], sep: bytes = b"\n") -> tuple[Path, array[int]]:
    path = tmp_path / "upload.jsonl"
    spans: array[int] = array("Q")
    at = 0
    with open(path, "wb") as fh:
        for line in lines:
            spans.extend((at, at + len(line)))
            fh.write(line + sep)
            at += len(line) + len(sep)
    return path, spans


def test_bodies_are_read_as_stored_in_any_order_and_across_blocks(tmp_path: Path) -> None:
    lines = [orjson.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/embeddings",
                           "body": {"model": "m", "input": "x" * (i % 7), "priority": 3}}) + b" \t\x0b\x0c"
             for i in range(2_500)]  # trailing white space Python's strip takes (\v, \f) and JSON does not
    path, spans = _stored(tmp_path, lines)
    with BlockBodies(path, spans) as bodies, open(path, "rb") as fh:
        for index in [0, 1, 1999, 2000, 2499, 5, 2001, 0]:
            assert bodies.body(index) == request_body(fh, spans, index)
            assert "priority" not in bodies.body(index)


def test_the_small_fields_are_read_as_orjson_reads_them(tmp_path: Path) -> None:
    twice = b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", ' \
            b'"body": {"model": "first", "model": "last", "messages": []}}'
    plain = b'{"custom_id": "b", "method": "POST", "url": "/v1/embeddings", "body": {"model": "m", "input": "q"}}'
    path, spans = _stored(tmp_path, [twice, plain])
    got = batch_requests(path, spans)
    assert got.custom_ids == ["a", "b"]
    assert got.models == ["last", "m"]  # a repeated name: the last, as serde and orjson take it
    assert got.urls == ["/v1/chat/completions", "/v1/embeddings"]
    assert got.sizes == [len(twice), len(plain)]

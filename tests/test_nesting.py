"""Deep nesting gets serde_json's `recursion limit exceeded` wherever a client's JSON is parsed (a
batch-create body, a realtime body, an upload line), whatever the depth: past our limit of 127
levels and past orjson's own limit alike."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from mockserver.domain.nesting import MAX_DEPTH, TooDeep, loads
from mockserver.testing import AsgiTarget

DEPTHS = [200, 2000]  # past our limit; past orjson's own (which says `depth limit exceeded`)
DEEP = [b"[" * d + b"]" * d for d in DEPTHS] + [b"[" * 200]  # and unterminated (orjson: `failed to allocate memory`)
DEEP_IDS = ["200", "2000", "200-unterminated"]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture(scope="module")
def sim() -> Iterator[AsgiTarget]:
    target = AsgiTarget(["--seed", "3"])
    yield target
    target.close()


# -- the parser -------------------------------------------------------------------------------------
def test_the_limit_is_127_levels() -> None:
    assert loads(nested(MAX_DEPTH)) is not None
    with pytest.raises(TooDeep, match=r"^recursion limit exceeded$"):
        loads(nested(MAX_DEPTH + 1))


@pytest.mark.parametrize("depth", [*DEPTHS, 1100, 5000])
def test_any_depth_past_the_limit_is_too_deep(depth: int) -> None:
    with pytest.raises(TooDeep):
        loads(b'{"a":' + nested(depth) + b"}")


@pytest.mark.parametrize("raw", [
    b"[" * 200,  # unterminated: orjson says `failed to allocate memory`
    b"[" * 300 + b"x",
    b"[" * 200 + b"1,]" + b"]" * 199,  # a syntax error past level 127
    b'{"a":' * 200 + b"1",
])
def test_a_broken_document_past_the_limit_is_too_deep(raw: bytes) -> None:
    """serde_json stops at the 128th level, before it reaches the error orjson reports."""
    with pytest.raises(TooDeep):
        loads(raw)


@pytest.mark.parametrize("raw", [
    b"[" * 100 + b"x",  # the error comes before the limit
    b'["' + b"[" * 300 + b'", x]',  # brackets in a string are not levels
    b"[1,]",
])
def test_other_syntax_errors_are_orjson_s(raw: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError) as caught:
        loads(raw)
    assert not isinstance(caught.value, TooDeep)


def test_brackets_in_strings_do_not_count() -> None:
    raw = orjson.dumps({"text": "[" * 500, "list": [["{" * 300]]})
    assert loads(raw) == {"text": "[" * 500, "list": [["{" * 300]]}


# -- the three places that parse a client's JSON ----------------------------------------------------
@pytest.mark.parametrize("deep", DEEP, ids=DEEP_IDS)
def test_a_batch_create_body(sim: AsgiTarget, deep: bytes) -> None:
    body = b'{"input_file_id": "x", "endpoint": "/v1/chat/completions", "metadata": ' + deep + b"}"
    with sim.client(sim.new_key()) as api:
        got = api.post("/batches", content=body, headers={"content-type": "application/json"})
    assert (got.status_code, got.text) == (400, "Failed to parse the request body as JSON: recursion limit exceeded")


def test_a_batch_create_body_keeps_its_other_syntax_errors(sim: AsgiTarget) -> None:
    with sim.client(sim.new_key()) as api:
        got = api.post("/batches", content=b"{not json", headers={"content-type": "application/json"})
    assert got.status_code == 400
    assert got.text.startswith("Failed to parse the request body as JSON: ") and got.text.endswith(": line 1 column 2")


@pytest.mark.parametrize("deep", DEEP, ids=DEEP_IDS)
def test_a_realtime_body(sim: AsgiTarget, deep: bytes) -> None:
    body = b'{"model": "x", "messages": ' + deep + b"}"
    with sim.client(sim.new_key()) as api:
        got = api.post("/chat/completions", content=body, headers={"content-type": "application/json"})
    assert got.status_code == 400
    assert got.json()["error"]["message"] == "Invalid JSON body: recursion limit exceeded"


@pytest.mark.parametrize("deep", DEEP, ids=DEEP_IDS)
def test_an_upload_line(sim: AsgiTarget, deep: bytes) -> None:
    line = (b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "x": '
            + deep + b"}}")
    with sim.client(sim.new_key()) as api:
        got = api.post("/files", data={"purpose": "batch"}, files={"file": ("in.jsonl", line + b"\n")})
    assert (got.status_code, got.text) == (
        400, f"Invalid JSON on line 1: recursion limit exceeded at line 1 column {len(line)}")

"""Tests of the simulated upstream model and of the JSON Schema instance generator."""

from __future__ import annotations

import base64
import math
import random
import struct
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.domain.model import ModelAnswer, SimulatedModel
from mockserver.domain.schema_instance import SchemaNotSupported, generate

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"
CREATED = 1_700_000_000
USER = [{"role": "user", "content": "What is the weather like in Paris today?"}]

BODIES: dict[str, dict[str, Any]] = {
    CHAT: {"model": "m", "messages": USER},
    COMPLETIONS: {"model": "m", "prompt": "Once upon a time"},
    EMBEDDINGS: {"model": "Qwen/Qwen3-Embedding-8B", "input": "hello", "dimensions": 16},
    RESPONSES: {"model": "m", "input": "Say hello"},
    MESSAGES: {"model": "claude", "max_tokens": 200, "messages": USER},
}

SCHEMAS: list[dict[str, Any]] = [
    {  # nested objects, string lengths, integer range, additionalProperties false
        "type": "object", "required": ["user"],
        "properties": {"user": {
            "type": "object", "additionalProperties": False, "required": ["name", "age"],
            "properties": {"name": {"type": "string", "minLength": 2, "maxLength": 12},
                           "age": {"type": "integer", "minimum": 0, "maximum": 120},
                           "nick": {"type": "string"}}}},
    },
    {  # arrays with min/max items and unique items
        "type": "object", "required": ["tags", "matrix"],
        "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4,
                                "uniqueItems": True},
                       "matrix": {"type": "array", "minItems": 1, "maxItems": 2,
                                  "items": {"type": "array", "items": {"type": "integer"}, "minItems": 3}}},
    },
    {  # enums and const
        "type": "object", "required": ["unit", "city", "kind"],
        "properties": {"unit": {"enum": ["celsius", "fahrenheit"]}, "city": {"type": "string"},
                       "kind": {"const": "forecast"}, "days": {"enum": [1, 3, 7]}},
    },
    {  # anyOf / oneOf
        "type": "object", "required": ["value", "shape"],
        "properties": {
            "value": {"anyOf": [{"type": "string", "format": "email"}, {"type": "integer", "minimum": 10}]},
            "shape": {"oneOf": [
                {"type": "object", "properties": {"r": {"type": "number", "minimum": 0}}, "required": ["r"],
                 "additionalProperties": False},
                {"type": "object", "properties": {"w": {"type": "number"}, "h": {"type": "number"}},
                 "required": ["w", "h"], "additionalProperties": False}]}},
    },
    {  # recursive $ref / $defs
        "$defs": {"node": {"type": "object", "required": ["label", "children"],
                           "properties": {"label": {"type": "string"},
                                          "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
        "type": "object", "properties": {"root": {"$ref": "#/$defs/node"}}, "required": ["root"],
    },
    {  # numeric ranges, multipleOf, exclusive bounds
        "type": "object", "required": ["count", "ratio", "step", "temp"],
        "properties": {"count": {"type": "integer", "minimum": 5, "maximum": 500, "multipleOf": 5},
                       "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                       "step": {"type": "number", "multipleOf": 0.25, "minimum": 1, "maximum": 3},
                       "temp": {"type": "integer", "exclusiveMinimum": -10, "exclusiveMaximum": -5}},
    },
    {  # string formats
        "type": "object", "required": ["when", "day", "id", "site", "mail"],
        "properties": {"when": {"type": "string", "format": "date-time"},
                       "day": {"type": "string", "format": "date"},
                       "id": {"type": "string", "format": "uuid"},
                       "site": {"type": "string", "format": "uri"},
                       "mail": {"type": "string", "format": "email"}},
    },
    {  # additionalProperties false with optional properties of simple types
        "type": "object", "required": ["a"], "additionalProperties": False,
        "properties": {"a": {"type": "boolean"}, "b": {"type": "null"}, "c": {"type": "string"}},
    },
    {  # nullable types
        "type": "object", "required": ["maybe", "n", "list"],
        "properties": {"maybe": {"type": ["string", "null"]},
                       "n": {"type": ["integer", "null"], "minimum": 1},
                       "list": {"anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "null"}]}},
    },
    {  # patterns
        "type": "object", "required": ["code", "zip", "slug"],
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
                       "zip": {"type": "string", "pattern": "^[0-9]{5}(-[0-9]{4})?$"},
                       "slug": {"type": "string", "pattern": "^[a-z]+(_[a-z]+)*$", "maxLength": 30}},
    },
    {  # draft-07 definitions and allOf
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"base": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}},
        "allOf": [{"$ref": "#/definitions/base"},
                  {"properties": {"name": {"type": "string"}}, "required": ["name"]}],
    },
    {  # tuples with prefixItems
        "type": "object", "required": ["point"],
        "properties": {"point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}],
                                 "items": False, "minItems": 2}},
    },
]


def validate(instance: Any, schema: Any) -> None:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(instance)


def ask(url: str, body: Any, seed: int = 1) -> ModelAnswer:
    return SimulatedModel(seed).answer(url, body, CREATED)


def ok(url: str, body: Any, seed: int = 1) -> dict[str, Any]:
    answer = ask(url, body, seed)
    assert answer.status == 200, answer.body
    return answer.body


def chat_tools(*schemas: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": f"tool_{i}", "description": "a tool", "parameters": s}}
            for i, s in enumerate(schemas)]


# -- determinism ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", list(BODIES))
def test_same_input_gives_the_same_bytes(url: str) -> None:
    first = orjson.dumps(ask(url, BODIES[url]).body)
    reordered = dict(reversed(list(BODIES[url].items())))
    assert orjson.dumps(ask(url, reordered).body) == first
    assert orjson.dumps(SimulatedModel(1).answer(url, BODIES[url], CREATED).body) == first


@pytest.mark.parametrize("url", list(BODIES))
def test_another_seed_gives_another_answer(url: str) -> None:
    assert ask(url, BODIES[url], seed=1).body != ask(url, BODIES[url], seed=2).body


def test_another_body_gives_another_answer() -> None:
    other = {"model": "m", "messages": [{"role": "user", "content": "Something else"}]}
    assert ok(CHAT, BODIES[CHAT])["id"] != ok(CHAT, other)["id"]


# -- shapes ----------------------------------------------------------------------------------------

def check_usage(usage: dict[str, Any]) -> None:
    assert all(isinstance(usage[k], int) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    assert usage["prompt_tokens"] >= 1 and usage["completion_tokens"] >= 1
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completion_shape() -> None:
    body = ok(CHAT, {**BODIES[CHAT], "n": 3})
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["created"] == CREATED and body["model"] == "m"
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    for choice in body["choices"]:
        assert set(choice) == {"index", "message", "logprobs", "finish_reason"}
        assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
        assert choice["message"]["content"] and choice["logprobs"] is None and choice["finish_reason"] == "stop"
    check_usage(body["usage"])
    assert body["usage"]["prompt_tokens"] == math.ceil(len(USER[0]["content"]) / 4)


def test_completion_shape_and_prompt_lists() -> None:
    body = ok(COMPLETIONS, {"model": "m", "prompt": ["one", "two"], "n": 2, "max_tokens": 200})
    assert body["id"].startswith("cmpl-") and body["object"] == "text_completion" and body["created"] == CREATED
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    for choice in body["choices"]:
        assert isinstance(choice["text"], str) and choice["logprobs"] is None and choice["finish_reason"] == "stop"
    check_usage(body["usage"])
    tokens = ok(COMPLETIONS, {"model": "m", "prompt": [[1, 2, 3], [4, 5]]})
    assert tokens["usage"]["prompt_tokens"] == 5 and len(tokens["choices"]) == 2


def test_completion_default_max_tokens_is_16() -> None:
    for seed in range(5):
        assert ok(COMPLETIONS, BODIES[COMPLETIONS], seed)["usage"]["completion_tokens"] <= 16


def test_embeddings_shape_dimensions_and_unit_norm() -> None:
    body = ok(EMBEDDINGS, {"model": "Qwen/Qwen3-Embedding-8B", "input": ["a cat", "a dog"], "dimensions": 64})
    assert body["object"] == "list" and body["model"] == "Qwen/Qwen3-Embedding-8B"
    assert [d["index"] for d in body["data"]] == [0, 1]
    for item in body["data"]:
        assert item["object"] == "embedding" and len(item["embedding"]) == 64
        assert all(isinstance(x, float) for x in item["embedding"])
        assert math.isclose(math.sqrt(sum(x * x for x in item["embedding"])), 1.0, abs_tol=1e-4)
    assert body["data"][0]["embedding"] != body["data"][1]["embedding"]
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] >= 2
    alone = ok(EMBEDDINGS, {"model": "Qwen/Qwen3-Embedding-8B", "input": "a dog", "dimensions": 64})
    assert alone["data"][0]["embedding"] == body["data"][1]["embedding"]  # per input text


def test_embeddings_default_dimensions_and_inputs() -> None:
    assert len(ok(EMBEDDINGS, {"model": "Qwen/Qwen3-Embedding-8B", "input": "x"})["data"][0]["embedding"]) == 4096
    custom = SimulatedModel(1, {"small": 8}).answer(EMBEDDINGS, {"model": "small", "input": "x"}, CREATED)
    assert len(custom.body["data"][0]["embedding"]) == 8
    assert len(ok(EMBEDDINGS, {"model": "small", "input": [1, 2, 3], "dimensions": 4})["data"]) == 1
    assert len(ok(EMBEDDINGS, {"model": "small", "input": [[1, 2], [3]], "dimensions": 4})["data"]) == 2


def test_embeddings_base64() -> None:
    floats = ok(EMBEDDINGS, {**BODIES[EMBEDDINGS], "encoding_format": "float"})["data"][0]["embedding"]
    packed = ok(EMBEDDINGS, {**BODIES[EMBEDDINGS], "encoding_format": "base64"})["data"][0]["embedding"]
    decoded = struct.unpack("<16f", base64.b64decode(packed))
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(decoded, floats, strict=True))


def test_responses_shape() -> None:
    body = ok(RESPONSES, {"model": "m", "input": [{"role": "user", "content": "Hi"}], "instructions": "Be kind"})
    assert body["id"].startswith("resp_") and body["object"] == "response" and body["created_at"] == CREATED
    assert body["status"] == "completed" and body["model"] == "m" and body["instructions"] == "Be kind"
    for key in ("max_output_tokens", "temperature", "top_p", "tools", "tool_choice", "parallel_tool_calls",
                "text", "metadata", "incomplete_details", "error", "previous_response_id"):
        assert key in body
    [item] = body["output"]
    assert item["type"] == "message" and item["id"].startswith("msg_") and item["status"] == "completed"
    assert item["role"] == "assistant"
    [part] = item["content"]
    assert part["type"] == "output_text" and isinstance(part["text"], str) and part["annotations"] == []
    usage = body["usage"]
    assert usage["input_tokens_details"] == {"cached_tokens": 0}
    assert usage["output_tokens_details"] == {"reasoning_tokens": 0}
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_messages_shape() -> None:
    body = ok(MESSAGES, {**BODIES[MESSAGES], "system": "You are terse."})
    assert body["id"].startswith("msg_") and body["type"] == "message" and body["role"] == "assistant"
    assert body["model"] == "claude" and body["stop_reason"] == "end_turn" and body["stop_sequence"] is None
    [block] = body["content"]
    assert block["type"] == "text" and isinstance(block["text"], str)
    assert body["usage"]["input_tokens"] >= 1 and body["usage"]["output_tokens"] >= 1


# -- max tokens --------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
def test_chat_truncation(key: str) -> None:
    body = ok(CHAT, {**BODIES[CHAT], key: 2, "n": 4})
    assert {c["finish_reason"] for c in body["choices"]} == {"length"}
    assert body["usage"]["completion_tokens"] <= 8
    check_usage(body["usage"])


def test_completions_truncation() -> None:
    body = ok(COMPLETIONS, {**BODIES[COMPLETIONS], "max_tokens": 1})
    assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 1


def test_responses_truncation() -> None:
    body = ok(RESPONSES, {**BODIES[RESPONSES], "max_output_tokens": 2})
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["usage"]["output_tokens"] <= 2 and body["max_output_tokens"] == 2


def test_messages_truncation() -> None:
    body = ok(MESSAGES, {**BODIES[MESSAGES], "max_tokens": 1})
    assert body["stop_reason"] == "max_tokens" and body["usage"]["output_tokens"] == 1


# -- rejected requests ------------------------------------------------------------------------------

TOOL = chat_tools({"type": "object", "properties": {}})
REJECTED: list[tuple[str, Any, str | None]] = [
    (CHAT, [1, 2], None),
    (CHAT, "text", None),
    (CHAT, {"messages": USER}, "model"),
    (CHAT, {"model": 3, "messages": USER}, "model"),
    (CHAT, {"model": "m"}, "messages"),
    (CHAT, {"model": "m", "messages": "hi"}, "messages"),
    (CHAT, {"model": "m", "messages": []}, "messages"),
    (CHAT, {"model": "m", "messages": ["hi"]}, "messages[0].role"),
    (CHAT, {"model": "m", "messages": [{"content": "hi"}]}, "messages[0].role"),
    (CHAT, {"model": "m", "messages": [*USER, {"role": "robot", "content": "x"}]}, "messages[1].role"),
    (CHAT, {**BODIES[CHAT], "temperature": "hot"}, "temperature"),
    (CHAT, {**BODIES[CHAT], "temperature": True}, "temperature"),
    (CHAT, {**BODIES[CHAT], "temperature": 2.5}, "temperature"),
    (CHAT, {**BODIES[CHAT], "temperature": -0.1}, "temperature"),
    (CHAT, {**BODIES[CHAT], "top_p": 1.5}, "top_p"),
    (CHAT, {**BODIES[CHAT], "max_tokens": 0}, "max_tokens"),
    (CHAT, {**BODIES[CHAT], "max_tokens": 1.5}, "max_tokens"),
    (CHAT, {**BODIES[CHAT], "max_tokens": True}, "max_tokens"),
    (CHAT, {**BODIES[CHAT], "max_completion_tokens": -3}, "max_completion_tokens"),
    (CHAT, {**BODIES[CHAT], "n": 0}, "n"),
    (CHAT, {**BODIES[CHAT], "n": 129}, "n"),
    (CHAT, {**BODIES[CHAT], "n": "2"}, "n"),
    (CHAT, {**BODIES[CHAT], "tools": {"type": "function"}}, "tools"),
    (CHAT, {**BODIES[CHAT], "tools": [{"type": "function", "function": {"parameters": {}}}]}, "tools[0].name"),
    (CHAT, {**BODIES[CHAT], "tools": [{"type": "function", "function": {"name": ""}}]}, "tools[0].name"),
    (CHAT, {**BODIES[CHAT], "tools": TOOL, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice"),
    (CHAT, {**BODIES[CHAT], "tools": TOOL, "tool_choice": "sometimes"}, "tool_choice"),
    (CHAT, {**BODIES[CHAT], "tool_choice": "required"}, "tool_choice"),
    (CHAT, {**BODIES[CHAT], "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "response_format"),
    (CHAT, {**BODIES[CHAT], "response_format": {"type": "json_schema", "json_schema": {"schema": True}}},
     "response_format"),
    (CHAT, {**BODIES[CHAT], "response_format": {"type": "xml"}}, "response_format"),
    (COMPLETIONS, {"model": "m"}, "prompt"),
    (COMPLETIONS, {"model": "m", "prompt": []}, "prompt"),
    (COMPLETIONS, {"model": "m", "prompt": {"text": "x"}}, "prompt"),
    (COMPLETIONS, {**BODIES[COMPLETIONS], "max_tokens": 0}, "max_tokens"),
    (EMBEDDINGS, {"model": "e"}, "input"),
    (EMBEDDINGS, {"model": "e", "input": ""}, "input"),
    (EMBEDDINGS, {"model": "e", "input": []}, "input"),
    (EMBEDDINGS, {"model": "e", "input": 42}, "input"),
    (EMBEDDINGS, {"model": "e", "input": ["a", 1]}, "input"),
    (EMBEDDINGS, {"model": "e", "input": [[1], []]}, "input"),
    (EMBEDDINGS, {"model": "e", "input": "x", "dimensions": 0}, "dimensions"),
    (EMBEDDINGS, {"model": "e", "input": "x", "dimensions": "8"}, "dimensions"),
    (EMBEDDINGS, {"model": "e", "input": "x", "dimensions": 5000}, "dimensions"),
    (EMBEDDINGS, {"model": "e", "input": "x", "encoding_format": "hex"}, "encoding_format"),
    (RESPONSES, {"model": "m"}, "input"),
    (RESPONSES, {"model": "m", "input": 5}, "input"),
    (RESPONSES, {"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    (RESPONSES, {"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    (RESPONSES, {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "x"}}},
     "text.format"),
    (MESSAGES, {"model": "c", "max_tokens": 10}, "messages"),
    (MESSAGES, {"model": "c", "max_tokens": 10, "messages": {"role": "user"}}, "messages"),
    (MESSAGES, {"model": "c", "max_tokens": 10, "messages": [{"role": "system", "content": "x"}]},
     "messages[0].role"),
    (MESSAGES, {"model": "c", "messages": USER}, "max_tokens"),
    (MESSAGES, {"model": "c", "messages": USER, "max_tokens": 0}, "max_tokens"),
    (MESSAGES, {**BODIES[MESSAGES], "temperature": 1.5}, "temperature"),
    (MESSAGES, {**BODIES[MESSAGES], "tools": [{"name": "t"}]}, "tools[0].input_schema"),
    (MESSAGES, {**BODIES[MESSAGES], "tools": [{"name": "t", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "u"}}, "tool_choice"),
]


@pytest.mark.parametrize(("url", "body", "param"), REJECTED)
def test_rejected_requests(url: str, body: Any, param: str | None) -> None:
    answer = ask(url, body)
    assert answer.status == 400
    assert set(answer.body) == {"error"}
    error = answer.body["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["code"] is None
    assert isinstance(error["message"], str) and error["message"]


def test_unknown_url_is_404() -> None:
    assert ask("/v1/images/generations", {"model": "m"}).status == 404


def test_unsupported_schema_is_a_400() -> None:
    schema = {"type": "string", "pattern": "(a)\\1"}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    answer = ask(CHAT, {**BODIES[CHAT], "response_format": fmt})
    assert answer.status == 400
    assert answer.body["error"]["message"].startswith(
        "response_format schema is not supported by the simulator: ")
    tools = ask(CHAT, {**BODIES[CHAT], "tools": chat_tools({"type": "object", "minProperties": 2,
                                                              "additionalProperties": False})})
    assert tools.status == 400 and tools.body["error"]["param"] == "tools"


# -- tool calls and structured outputs -------------------------------------------------------------

@pytest.mark.parametrize("schema", SCHEMAS)
def test_chat_tool_call_arguments_validate(schema: dict[str, Any]) -> None:
    for seed in range(4):
        body = ok(CHAT, {**BODIES[CHAT], "tools": chat_tools(schema), "n": 2}, seed)
        for choice in body["choices"]:
            assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
            [call] = choice["message"]["tool_calls"]
            assert call["id"].startswith("call_") and call["type"] == "function"
            assert call["function"]["name"] == "tool_0"
            validate(orjson.loads(call["function"]["arguments"]), schema)
        check_usage(body["usage"])


@pytest.mark.parametrize("schema", SCHEMAS)
def test_chat_structured_output_validates(schema: dict[str, Any]) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    for seed in range(4):
        body = ok(CHAT, {**BODIES[CHAT], "response_format": fmt}, seed)
        [choice] = body["choices"]
        assert choice["finish_reason"] == "stop"
        validate(orjson.loads(choice["message"]["content"]), schema)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_responses_function_call_and_json_schema_validate(schema: dict[str, Any]) -> None:
    tool = {"type": "function", "name": "f", "parameters": schema}
    [item] = ok(RESPONSES, {**BODIES[RESPONSES], "tools": [tool]})["output"]
    assert item["type"] == "function_call" and item["name"] == "f" and item["status"] == "completed"
    assert item["call_id"].startswith("call_") and item["id"]
    validate(orjson.loads(item["arguments"]), schema)
    fmt = {"format": {"type": "json_schema", "name": "out", "schema": schema}}
    [message] = ok(RESPONSES, {**BODIES[RESPONSES], "text": fmt})["output"]
    validate(orjson.loads(message["content"][0]["text"]), schema)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_anthropic_tool_use_input_validates(schema: dict[str, Any]) -> None:
    tools = [{"name": "lookup", "description": "d", "input_schema": schema}]
    body = ok(MESSAGES, {**BODIES[MESSAGES], "tools": tools})
    [block] = body["content"]
    assert body["stop_reason"] == "tool_use"
    assert block["type"] == "tool_use" and block["id"].startswith("toolu_") and block["name"] == "lookup"
    validate(block["input"], schema)


def test_json_object_mode() -> None:
    for seed in range(5):
        content = ok(CHAT, {**BODIES[CHAT], "response_format": {"type": "json_object"}}, seed)
        assert isinstance(orjson.loads(content["choices"][0]["message"]["content"]), dict)


def test_forced_tool_choice_is_honoured() -> None:
    tools = chat_tools(*SCHEMAS[:4])
    for name in ("tool_1", "tool_3"):
        choice = {"type": "function", "function": {"name": name}}
        for seed in range(3):
            body = ok(CHAT, {**BODIES[CHAT], "tools": tools, "tool_choice": choice}, seed)
            call = body["choices"][0]["message"]["tool_calls"][0]["function"]
            assert call["name"] == name
            validate(orjson.loads(call["arguments"]), SCHEMAS[int(name[-1])])
    responses = ok(RESPONSES, {**BODIES[RESPONSES], "tools": [{"type": "function", "name": n} for n in "ab"],
                               "tool_choice": {"type": "function", "name": "b"}})
    assert responses["output"][0]["name"] == "b"
    anthropic = ok(MESSAGES, {**BODIES[MESSAGES], "tool_choice": {"type": "tool", "name": "b"},
                              "tools": [{"name": n, "input_schema": {"type": "object"}} for n in "ab"]})
    assert anthropic["content"][0]["name"] == "b"


def test_tool_choice_none_required_and_auto_after_a_tool_result() -> None:
    none = ok(CHAT, {**BODIES[CHAT], "tools": TOOL, "tool_choice": "none"})["choices"][0]
    assert none["finish_reason"] == "stop" and isinstance(none["message"]["content"], str)
    required = ok(CHAT, {**BODIES[CHAT], "tools": TOOL, "tool_choice": "required"})["choices"][0]
    assert required["finish_reason"] == "tool_calls"
    history = [*USER, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "tool_0", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    after = ok(CHAT, {"model": "m", "messages": history, "tools": TOOL})["choices"][0]
    assert after["finish_reason"] == "stop" and isinstance(after["message"]["content"], str)


# -- the schema instance generator ----------------------------------------------------------------

@pytest.mark.parametrize("schema", [*SCHEMAS, {}, True, {"type": "null"}, {"type": ["boolean", "integer"]}])
def test_generate_is_valid_and_deterministic(schema: Any) -> None:
    for seed in range(10):
        value = generate(schema, random.Random(seed))
        validate(value, schema)
        assert orjson.dumps(generate(schema, random.Random(seed))) == orjson.dumps(value)


@pytest.mark.parametrize("schema", [
    False, {"type": "integer", "minimum": 5, "maximum": 3}, {"$ref": "https://example.com/s.json"},
    {"enum": []}, {"type": "string", "pattern": "(a)\\1"}, {"type": 12}, {"type": "string", "minLength": 10**9},
])
def test_generate_rejects_what_it_cannot_satisfy(schema: Any) -> None:
    with pytest.raises(SchemaNotSupported):
        generate(schema, random.Random(0))


@st.composite
def _object(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    props = draw(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=5), children, max_size=4))
    required = draw(st.lists(st.sampled_from(sorted(props)), unique=True)) if props else []
    closed = draw(st.booleans())
    return {"type": "object", "properties": props, "required": required, "additionalProperties": not closed}


LEAVES = st.one_of(
    st.sampled_from([{"type": "boolean"}, {"type": "null"}, {"type": "string"}, {"type": "number"},
                     {"type": ["string", "null"]}, {"type": "string", "format": "date"},
                     {"type": "string", "format": "uuid"}, {"type": "string", "pattern": "^[a-f0-9]{2,6}$"}]),
    st.builds(lambda lo, span: {"type": "integer", "minimum": lo, "maximum": lo + span},
              st.integers(-1000, 1000), st.integers(0, 50)),
    st.builds(lambda lo, m: {"type": "integer", "minimum": lo, "maximum": lo + 10 * m, "multipleOf": m},
              st.integers(-100, 100), st.integers(1, 9)),
    st.builds(lambda lo, span: {"type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": lo + span},
              st.floats(-1e6, 1e6), st.floats(0.5, 100)),
    st.builds(lambda lo, span: {"type": "string", "minLength": lo, "maxLength": lo + span},
              st.integers(0, 20), st.integers(0, 10)),
    st.lists(st.one_of(st.integers(-5, 5), st.text("abc", max_size=3)), min_size=1, max_size=4, unique=True)
    .map(lambda values: {"enum": values}),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda items, lo, extra: {"type": "array", "items": items, "minItems": lo, "maxItems": lo + extra},
                  children, st.integers(0, 3), st.integers(0, 3)),
        _object(children),
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
    )


SCHEMA_STRATEGY = st.recursive(LEAVES, _containers, max_leaves=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMA_STRATEGY, seed=st.integers(0, 2**32))
def test_generated_instances_always_validate(schema: Any, seed: int) -> None:
    validate(generate(schema, random.Random(seed)), schema)

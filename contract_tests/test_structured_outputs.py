"""Tool calls and structured outputs from the simulated model validate against the caller's schemas,
in batch output lines as in realtime answers (api-notes "What the simulator adds")."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import orjson
import pytest

from contract_tests.helpers import chat_line, jsonl, start_batch
from contract_tests.lifecycle import run_to_end
from contract_tests.targets import Target

pytestmark = pytest.mark.simulator_only("drives the manual clock; the live model's answers are not the simulated model's")

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1,
     "maximum": 14}}, "required": ["city", "days"], "additionalProperties": False},
    {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]},
     "minItems": 2, "maxItems": 3}}, "required": ["tags"]},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"},
     "who": {"type": "string", "format": "email"}, "id": {"type": "string", "format": "uuid"}},
     "required": ["when", "who", "id"]},
    {"type": "object", "properties": {"price": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
     "note": {"type": ["string", "null"]}}, "required": ["price", "note"]},
    {"$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
     "qty": {"type": "integer", "minimum": 1}}, "required": ["sku", "qty"]}},
     "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 1}},
     "required": ["items"]},
    {"type": "object", "properties": {"shape": {"anyOf": [
        {"type": "object", "properties": {"r": {"type": "number"}}, "required": ["r"]},
        {"type": "object", "properties": {"w": {"type": "integer"}, "h": {"type": "integer"}}, "required": ["w", "h"]},
    ]}}, "required": ["shape"]},
    {"type": "object", "properties": {"matrix": {"type": "array", "items": {"type": "array",
     "items": {"type": "integer", "minimum": -5, "maximum": 5}, "minItems": 2, "maxItems": 2}}},
     "required": ["matrix"]},
    {"type": "object", "properties": {"status": {"const": "ok"}, "code": {"type": "integer", "enum": [200, 201]}},
     "required": ["status", "code"]},
]


@pytest.mark.profile("doubleword")  # the Doubleword batch flow (OpenAI's: test_openai_profile.py)
@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_batch_tool_calls_and_json_schema_answers_validate(
    api: httpx.Client, target: Target, schema: dict[str, Any]
) -> None:
    tool = {"type": "function", "function": {"name": "record", "description": "Record it", "parameters": schema}}
    lines = [
        chat_line("tool", "Use the tool", tools=[tool], tool_choice="required"),
        chat_line("schema", "Answer in JSON",
                  response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": schema}}),
    ]
    batch = start_batch(api, jsonl(*lines))
    run_to_end(target, api, batch["id"])
    out = {x["custom_id"]: x["response"]["body"] for x in map(orjson.loads,
           api.get(f"/files/{batch['output_file_id']}/content").text.splitlines())}
    assert set(out) == {"tool", "schema"}
    call = out["tool"]["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "record"
    assert out["tool"]["choices"][0]["finish_reason"] == "tool_calls"
    checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    checker.validate(orjson.loads(call["function"]["arguments"]))
    checker.validate(orjson.loads(out["schema"]["choices"][0]["message"]["content"]))


def test_realtime_json_object_mode(api: httpx.Client) -> None:
    body = chat_line("x", "JSON please", response_format={"type": "json_object"})["body"]
    content = api.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    assert isinstance(orjson.loads(content), dict)

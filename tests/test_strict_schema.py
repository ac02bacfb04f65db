"""Unit tests of OpenAI's strict structured-output rules (`domain/strict_schema.py`): for each rule one
schema it accepts and one it refuses, with the literal message. Evidence for the wording: the
`required` and `additionalProperties` messages as clients quoted OpenAI's 400 (vercel/ai#6484,
mastra-ai/mastra#12284; dottxt-ai/outlines#844, moeru-ai/xsai#202) and `'oneOf' is not permitted`
(community.openai.com/t/932422); the root and size messages are in that style and listed as
unverified in docs/fidelity.md."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.domain.model import SimulatedModel
from mockserver.domain.strict_schema import StrictSchemaError, check_strict

PREFIX = "Invalid schema for response_format 'out': "


def obj(**properties: Any) -> dict[str, Any]:
    """A strict object schema: every property required, no additional ones."""
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def refusal(schema: dict[str, Any]) -> str:
    with pytest.raises(StrictSchemaError) as refused:
        check_strict(schema, "out")
    return refused.value.message


def nested(levels: int) -> dict[str, Any]:
    """`levels` objects, each the only property of the one above."""
    schema = obj(leaf={"type": "string"})
    for _ in range(levels - 1):
        schema = obj(child=schema)
    return schema


# -- the root is an object -----------------------------------------------------------------------------
def test_an_object_root_is_accepted() -> None:
    check_strict(obj(a={"type": "string"}), "out")


@pytest.mark.parametrize(("schema", "got"), [
    ({"type": "array", "items": {"type": "string"}}, "array"),
    ({"anyOf": [obj(a={"type": "string"}), obj(b={"type": "string"})]}, "anyOf"),
])
def test_a_root_that_is_not_an_object_is_refused(schema: dict[str, Any], got: str) -> None:
    assert refusal(schema) == f"{PREFIX}schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."


# -- every property is required ------------------------------------------------------------------------
def test_every_property_listed_in_required_is_accepted() -> None:
    check_strict(obj(a={"type": "string"}, b={"type": ["integer", "null"]}), "out")  # optional = nullable


def test_a_property_left_out_of_required_is_refused() -> None:
    schema = obj(name={"type": "string"}, roles={"type": "array", "items": {"type": "string"}})
    schema["required"] = ["name"]
    assert refusal(schema) == (f"{PREFIX}In context=(), 'required' is required to be supplied and to be an array "
                               "including every key in properties. Missing 'roles'.")


def test_a_missing_required_in_a_nested_object_names_its_path() -> None:
    inner = obj(name={"type": "string"}, roles={"type": "string"})
    del inner["required"]
    schema = obj(organizations={"type": "array", "items": inner})
    assert refusal(schema) == (f"{PREFIX}In context=('properties', 'organizations', 'items'), 'required' is required "
                               "to be supplied and to be an array including every key in properties. Missing 'name'.")


# -- additionalProperties: false on every object ---------------------------------------------------------
def test_additional_properties_false_everywhere_is_accepted() -> None:
    check_strict(obj(inner=obj(x={"type": "number"}), many={"type": "array", "items": obj(y={"type": "boolean"})}),
                 "out")


@pytest.mark.parametrize("value", [None, True, {"type": "string"}])
def test_a_root_without_additional_properties_false_is_refused(value: Any) -> None:
    schema = obj(a={"type": "string"})
    if value is None:
        del schema["additionalProperties"]
    else:
        schema["additionalProperties"] = value
    assert refusal(schema) == f"{PREFIX}In context=(), 'additionalProperties' is required to be supplied and to be false."


def test_a_nested_object_without_additional_properties_false_is_refused() -> None:
    inner = obj(x={"type": "string"})
    del inner["additionalProperties"]
    schema = obj(a={"anyOf": [inner, {"type": "null"}]})
    assert refusal(schema) == (f"{PREFIX}In context=('properties', 'a', 'anyOf', '0'), 'additionalProperties' is "
                               "required to be supplied and to be false.")


def test_definitions_are_checked_too() -> None:
    schema = obj(a={"$ref": "#/$defs/A"})
    schema["$defs"] = {"A": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}}
    assert refusal(schema) == (f"{PREFIX}In context=('$defs', 'A'), 'additionalProperties' is required to be "
                               "supplied and to be false.")
    schema["$defs"]["A"]["additionalProperties"] = False
    check_strict(schema, "out")


# -- only the supported keywords -------------------------------------------------------------------------
def test_the_supported_keywords_are_accepted() -> None:
    check_strict(obj(
        s={"type": "string", "pattern": "^a", "format": "email", "description": "d"},
        n={"type": "number", "minimum": 0, "maximum": 9, "exclusiveMinimum": -1, "multipleOf": 0.5},
        a={"type": "array", "items": {"type": "string", "enum": ["x", "y"]}, "minItems": 1, "maxItems": 3},
        c={"const": "k"},
    ), "out")


@pytest.mark.parametrize(("keyword", "value"), [
    ("allOf", [{"type": "string"}]), ("not", {"type": "string"}), ("uniqueItems", True),
    ("patternProperties", {"^x": {"type": "string"}}), ("if", {"type": "string"}),
])
def test_an_unsupported_keyword_is_refused(keyword: str, value: Any) -> None:
    schema = obj(a={"type": "array", "items": {"type": "string"}, keyword: value})
    assert refusal(schema) == f"{PREFIX}In context=('properties', 'a'), '{keyword}' is not permitted."


# -- size limits -----------------------------------------------------------------------------------------
def test_ten_levels_of_nesting_are_accepted() -> None:
    check_strict(nested(10), "out")


def test_eleven_levels_of_nesting_are_refused() -> None:
    path = ("properties", "child") * 10
    assert refusal(nested(11)) == f"{PREFIX}In context={path!r}, the schema nests objects more than 10 levels deep."


def test_five_thousand_properties_are_accepted() -> None:
    check_strict(obj(**{f"p{i}": {"type": "string"} for i in range(5000)}), "out")


def test_more_than_five_thousand_properties_are_refused() -> None:
    schema = obj(**{f"p{i}": {"type": "string"} for i in range(4999)}, inner=obj(x={"type": "string"}))
    assert refusal(schema) == (f"{PREFIX}the schema has 5001 object properties in total, more than the 5000 "
                               "allowed.")


# -- the model: only under the flag, only for strict formats ---------------------------------------------
LOOSE = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["a"]}


def chat(strict: bool) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "out", "strict": strict, "schema": LOOSE}}}


def test_the_openai_model_refuses_a_strict_schema_outside_the_subset() -> None:
    answer = SimulatedModel(0, strict_schemas=True).answer("/v1/chat/completions", chat(True), 1)
    assert answer.status == 400
    assert answer.body == {"error": {
        "message": f"{PREFIX}In context=(), 'additionalProperties' is required to be supplied and to be false.",
        "type": "invalid_request_error", "param": "response_format", "code": None}}


def test_the_responses_route_names_the_schema_and_its_code() -> None:
    body = {"model": "m", "input": "hi", "text": {"format": {"type": "json_schema", "name": "out", "strict": True,
                                                            "schema": LOOSE}}}
    answer = SimulatedModel(0, strict_schemas=True).answer("/v1/responses", body, 1)
    assert answer.status == 400
    assert answer.body["error"]["param"] == "text.format.schema"
    assert answer.body["error"]["code"] == "invalid_json_schema"


def test_a_non_strict_schema_and_the_doubleword_model_are_not_checked() -> None:
    assert SimulatedModel(0, strict_schemas=True).answer("/v1/chat/completions", chat(False), 1).status == 200
    assert SimulatedModel(0).answer("/v1/chat/completions", chat(True), 1).status == 200

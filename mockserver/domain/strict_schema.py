"""OpenAI's strict structured outputs: the subset of JSON Schema a `strict: true` schema must keep.

OpenAI checks a strict `json_schema` response format before the model runs and answers 400 when the
schema leaves it (OpenAI's structured-outputs guide, "Supported schemas"; the openai SDK's
`lib/_pydantic.py` `to_strict_json_schema`, which rewrites pydantic's schemas into this subset):

- the root is an object schema (`type: "object"`, not an `anyOf`);
- every object schema (`type: "object"`, or one with `properties`) has `additionalProperties: false`
  and lists every key of its `properties` in `required`;
- none of the keywords the guide lists as unsupported (`UNSUPPORTED`);
- at most 10 levels of object nesting (`MAX_DEPTH`) and at most 5000 object properties in all
  (`MAX_PROPERTIES`).

Only the OpenAI profile checks this (the simulated model is built with the flag); the Doubleword
profile's upstream (vLLM) takes any schema. The messages of the `required`, `additionalProperties`
and keyword rules are OpenAI's as clients have quoted them (`In context=(...)`, the path as a Python
tuple); the root and size messages are in that style, unverified (docs/fidelity.md). Pure: no HTTP, nothing of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 10  # levels of object nesting, the root object being the first
MAX_PROPERTIES = 5000  # object properties across the whole schema
# The keywords the guide lists as not supported in strict mode (composition, conditionals, and the
# type-specific ones it names for objects, arrays and strings).
UNSUPPORTED = frozenset({
    "allOf", "not", "oneOf", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "patternProperties", "unevaluatedProperties", "propertyNames", "minProperties", "maxProperties",
    "unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems",
})


class StrictSchemaError(ValueError):
    """A strict schema OpenAI refuses; `message` is OpenAI's whole error message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_strict(schema: Mapping[str, Any], name: str) -> None:
    """Raise `StrictSchemaError` for the first rule `schema` (of the response format `name`) breaks."""
    prefix = f"Invalid schema for response_format '{name}': "
    kind = schema.get("type")
    if kind != "object" or "anyOf" in schema:
        got = "anyOf" if "anyOf" in schema and kind is None else kind
        raise StrictSchemaError(f"{prefix}schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'.")
    counted = _walk(schema, (), 0, prefix)
    if counted > MAX_PROPERTIES:
        raise StrictSchemaError(f"{prefix}the schema has {counted} object properties in total, more than the "
                                f"{MAX_PROPERTIES} allowed.")


def _is_object(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


def _walk(node: Mapping[str, Any], path: tuple[str, ...], depth: int, prefix: str) -> int:
    """Check `node` and what it holds; the number of object properties found."""
    context = f"{prefix}In context={path!r}, "
    for keyword in node:
        if keyword in UNSUPPORTED:
            raise StrictSchemaError(f"{context}'{keyword}' is not permitted.")
    counted = 0
    if _is_object(node):
        depth += 1
        if depth > MAX_DEPTH:
            raise StrictSchemaError(f"{context}the schema nests objects more than {MAX_DEPTH} levels deep.")
        if node.get("additionalProperties") is not False:
            raise StrictSchemaError(f"{context}'additionalProperties' is required to be supplied and to be false.")
        properties = node.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = node.get("required")
        listed = required if isinstance(required, list) else []
        missing = [key for key in properties if key not in listed]
        if missing:
            raise StrictSchemaError(f"{context}'required' is required to be supplied and to be an array including "
                                    f"every key in properties. Missing '{missing[0]}'.")
        counted += len(properties)
        for key, child in properties.items():
            if isinstance(child, Mapping):
                counted += _walk(child, (*path, "properties", key), depth, prefix)
    items = node.get("items")
    if isinstance(items, Mapping):
        counted += _walk(items, (*path, "items"), depth, prefix)
    variants = node.get("anyOf")
    if isinstance(variants, list):
        for i, variant in enumerate(variants):
            if isinstance(variant, Mapping):
                counted += _walk(variant, (*path, "anyOf", str(i)), depth, prefix)
    for group in ("$defs", "definitions"):
        defs = node.get(group)
        if isinstance(defs, Mapping):
            for key, child in defs.items():
                if isinstance(child, Mapping):
                    counted += _walk(child, (*path, group, key), 0, prefix)
    return counted

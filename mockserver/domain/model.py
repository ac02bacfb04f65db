"""The simulated upstream model: one request body in, the answer of a model server out.

`SimulatedModel.answer(url, body, created)` returns the status and JSON body an OpenAI-compatible
server (vLLM) gives for /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/responses,
and Anthropic gives for /v1/messages. Bodies are checked the way such a server checks them (400
with an OpenAI error body); tool-call arguments and structured outputs are valid against the
caller's JSON Schemas (see `schema_instance`).

The answer is a pure function of (seed, url, canonical request body, created): every random choice
comes from a `random.Random` seeded with a blake2b hash of the first three, and `created` is only
copied into the answer. This module knows nothing of HTTP, files, batches, the clock or globals.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from mockserver.domain.schema_instance import SchemaNotSupported, generate
from mockserver.domain.strict_schema import StrictSchemaError, check_strict

_WORDS = ("the", "a", "model", "answer", "batch", "request", "quiet", "river", "light", "stone", "runs",
          "finds", "brings", "simple", "careful", "result", "every", "small", "table", "window", "clear",
          "morning", "signal", "returns", "with", "and", "of", "into", "bright", "steady", "number", "path",
          "garden", "holds", "shows", "north", "data", "line", "soft", "takes")
_CHAT_ROLES = ("system", "user", "assistant", "tool", "developer")
_TEXT_KEYS = ("content", "text", "arguments", "output", "tool_calls", "function", "thinking")
_JSON_OBJECT: Mapping[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["answer", "confidence"],
    "properties": {"answer": {"type": "string", "minLength": 1},
                   "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
}
EMBEDDING_MODELS: Mapping[str, int] = {"Qwen/Qwen3-Embedding-8B": 4096}
DEFAULT_DIMENSIONS = 4096
Json = dict[str, Any]
COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # /v1/completions without max_tokens, as vLLM and OpenAI do


@dataclass(frozen=True)
class ModelAnswer:
    status: int  # 200 for success, 400 (or 404) for a rejected request
    body: dict[str, Any]  # the JSON body the model server returns


class _Invalid(Exception):
    def __init__(self, message: str, param: str | None, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.status, self.code = message, param, status, code


@dataclass(frozen=True)
class _Tool:
    name: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class _ToolChoice:
    mode: str  # "none", "auto", "required" or "named"
    name: str | None = None


@dataclass(frozen=True)
class _Output:
    """What the model generated for one choice: text, or a call of `tool` with `arguments`."""

    text: str | None
    tool: _Tool | None
    arguments: Any
    truncated: bool
    tokens: int

    @property
    def arguments_json(self) -> str:
        return _dump(self.arguments)


def _canonical(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # e.g. integers beyond 64 bits
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _dump(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        raise SchemaNotSupported(f"value cannot be encoded as JSON: {exc}") from None


def _hex(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(4 * chars):0{chars}x}"


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _input_tokens(value: str | list[int]) -> int:
    return _tokens(value) if isinstance(value, str) else len(value)


def _text(value: Any) -> str:
    """The prompt text inside a message, a list of messages or content parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(type(m) is dict and m.keys() == {"role", "content"} and
                                       type(m["content"]) is str for m in value):  # the common shape, fast
        return "\n".join(m["content"] for m in value if m["content"])
    if isinstance(value, list):
        return "\n".join(t for t in map(_text, value) if t)
    if isinstance(value, dict):
        return "\n".join(t for t in (_text(value[k]) for k in _TEXT_KEYS if k in value) if t)
    return ""


def _below(getrandbits: Callable[[int], int], n: int) -> int:
    """`Random._randbelow(n)`: the same draws from the same stream (rejection sampling on
    `n.bit_length()` bits), without its call overhead."""
    bits = n.bit_length()
    r = getrandbits(bits)
    while r >= n:
        r = getrandbits(bits)
    return r


def _sentence(rng: random.Random) -> str:
    """Two sentences of 8 to 40 words in all; draws exactly what
    `[rng.choice(_WORDS) for _ in range(rng.randint(8, 40))]` and `rng.randint(4, count - 4)` draw."""
    getrandbits = rng.getrandbits
    count = 8 + _below(getrandbits, 33)
    words: list[str] = []
    add = words.append
    size, bits = len(_WORDS), len(_WORDS).bit_length()
    while len(words) < count:
        r = getrandbits(bits)
        if r < size:
            add(_WORDS[r])
    cut = 4 + _below(getrandbits, count - 7) if count >= 16 else count
    return " ".join(" ".join(part).capitalize() + "." for part in (words[:cut], words[cut:]) if part)


def _truncate(text: str, limit: int | None) -> tuple[str, bool]:
    if limit is None or _tokens(text) <= limit:
        return text, False
    return text[: 4 * limit], True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_token_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(map(_is_int, value))


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, kind) for item in value)


def _usage(prompt: int, completion: int) -> Json:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _check_number(body: Json, key: str, top: float) -> None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                              or not 0 <= value <= top):
        raise _Invalid(f"'{key}' must be a number between 0 and {top:g}.", key)


def _int_field(body: Json, key: str, top: int | None = None, required: bool = False) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise _Invalid(f"'{key}' is required.", key)
        return None
    if not _is_int(value) or value < 1 or (top is not None and value > top):
        raise _Invalid(f"'{key}' must be an integer between 1 and {top}." if top is not None
                       else f"'{key}' must be a positive integer.", key)
    return int(value)


def _parse_tools(raw: Any, style: str) -> list[_Tool]:
    """Function tools in chat (`{type, function:{name, parameters}}`), responses (`{type, name,
    parameters}`) or anthropic (`{name, input_schema}`) form; other responses tools are ignored."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _Invalid("'tools' must be a list.", "tools")
    tools = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _Invalid(f"tools[{i}] must be an object.", f"tools[{i}]")
        if style != "anthropic" and item.get("type") != "function":
            if style == "chat":
                raise _Invalid(f"tools[{i}].type must be 'function'.", f"tools[{i}].type")
            continue
        spec = item.get("function") if style == "chat" else item
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            raise _Invalid(f"tools[{i}] must have a name.", f"tools[{i}].name")
        key = "input_schema" if style == "anthropic" else "parameters"
        params = spec.get(key, None if style == "anthropic" else {})
        if not isinstance(params, dict):
            raise _Invalid(f"tools[{i}].{key} must be a JSON Schema object.", f"tools[{i}].{key}")
        tools.append(_Tool(spec["name"], params if "type" in params else {"type": "object", **params}))
    return tools


def _parse_choice(raw: Any, tools: list[_Tool], style: str) -> _ToolChoice:
    if raw is None:
        return _ToolChoice("auto")
    if style == "anthropic":
        kinds = {"auto": "auto", "any": "required", "tool": "named", "none": "none"}
        if not isinstance(raw, dict) or raw.get("type") not in kinds:
            raise _Invalid("'tool_choice.type' must be one of auto, any, tool, none.", "tool_choice")
        choice = _ToolChoice(kinds[raw["type"]], raw.get("name") if raw["type"] == "tool" else None)
    elif raw in ("none", "auto", "required"):
        choice = _ToolChoice(raw)
    elif isinstance(raw, dict) and raw.get("type") == "function":
        spec = raw.get("function") if style == "chat" else raw
        choice = _ToolChoice("named", spec.get("name") if isinstance(spec, dict) else None)
    else:
        raise _Invalid("'tool_choice' must be 'none', 'auto', 'required' or name a function.", "tool_choice")
    if choice.mode == "named" and not isinstance(choice.name, str):
        raise _Invalid("'tool_choice' must name the function to call.", "tool_choice")
    if choice.mode in ("required", "named") and not tools:
        raise _Invalid("'tool_choice' requires 'tools'.", "tool_choice")
    if choice.name is not None and choice.name not in {t.name for t in tools}:
        raise _Invalid(f"'tool_choice' names function {choice.name!r}, not in 'tools'.", "tool_choice")
    return choice


def _format_schema(raw: Any, param: str, nested: bool, strict_rules: bool = False) -> Mapping[str, Any] | None:
    """The schema the output must follow: None for text, `_JSON_OBJECT` for json_object mode. With
    `strict_rules` (the OpenAI profile) a `strict: true` schema must keep OpenAI's subset (`strict_schema`):
    refused as OpenAI refuses it (chat: param `response_format`, code null; Responses: param
    `text.format.schema`, code `invalid_json_schema`)."""
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return _JSON_OBJECT
    if kind != "json_schema":
        raise _Invalid(f"'{param}.type' must be one of 'text', 'json_object', 'json_schema'.", param)
    spec = raw.get("json_schema") if nested else raw
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise _Invalid(f"'{param}' of type json_schema needs a 'schema' object.", param)
    if strict_rules and spec.get("strict") is True:
        name = spec.get("name")
        try:
            check_strict(schema, name if isinstance(name, str) else "")
        except StrictSchemaError as exc:
            if nested:
                raise _Invalid(exc.message, param) from None
            raise _Invalid(exc.message, f"{param}.schema", code="invalid_json_schema") from None
    return schema


def _produce(rng: random.Random, tools: list[_Tool], choice: _ToolChoice, after_tool: bool,
             schema: Mapping[str, Any] | None, format_param: str, limit: int | None) -> _Output:
    """Generate one choice; with `auto`, a tool is called unless the last turn was a tool result."""
    tool = None
    if tools and choice.mode != "none" and not (choice.mode == "auto" and after_tool):
        tool = next(t for t in tools if t.name == choice.name) if choice.name else rng.choice(tools)
    try:
        if tool is not None:
            arguments = generate(tool.schema, rng)
            return _Output(None, tool, arguments, False, _tokens(tool.name + _dump(arguments)))
        text = _sentence(rng) if schema is None else _dump(generate(schema, rng))
    except SchemaNotSupported as exc:
        what = f"the parameters schema of tool {tool.name!r}" if tool else f"{format_param} schema"
        raise _Invalid(f"{what} is not supported by the simulator: {exc}",
                       "tools" if tool else format_param) from None
    text, truncated = _truncate(text, limit)
    return _Output(text, None, None, truncated, _tokens(text))


class SimulatedModel:
    def __init__(self, seed: int, embedding_models: Mapping[str, int] | None = None, *,
                 strict_schemas: bool = False) -> None:
        """`embedding_models` maps an embeddings model name to its default dimensions; `strict_schemas`
        (the OpenAI profile) refuses a strict response format outside OpenAI's subset (`strict_schema`)."""
        self._seed = seed
        self._strict_schemas = strict_schemas
        self._embedding_models = dict(EMBEDDING_MODELS if embedding_models is None else embedding_models)
        self._handlers: dict[str, Callable[[Json, str, random.Random, int], Json]] = {
            "/v1/chat/completions": self._chat, "/v1/completions": self._completions,
            "/v1/embeddings": self._embeddings, "/v1/responses": self._responses,
            "/v1/messages": self._messages,
        }

    def answer(self, url: str, body: Any, created: int) -> ModelAnswer:
        """The answer to `body` posted to `url`; `created` (unix seconds) is stamped into it."""
        try:
            handler = self._handlers.get(url)
            if handler is None:
                raise _Invalid(f"The model server has no endpoint {url!r}.", None, 404)
            if not isinstance(body, dict):
                raise _Invalid("The request body must be a JSON object.", None)
            if not isinstance(body.get("model"), str) or not body["model"]:
                raise _Invalid("'model' is required and must be a string.", "model")
            rng = random.Random(self._hash(url.encode(), _canonical(body)))
            return ModelAnswer(200, handler(body, body["model"], rng, created))
        except RecursionError:  # a schema or body nested too deeply for the generator or validator
            exc = _Invalid("The request is nested too deeply for the simulated model.", None)
        except _Invalid as invalid:
            exc = invalid
        error = {"message": exc.message, "type": "invalid_request_error", "param": exc.param}
        return ModelAnswer(exc.status, {"error": {**error, "code": exc.code}})

    def _hash(self, *parts: bytes) -> int:
        digest = hashlib.blake2b(digest_size=16)
        for part in (str(self._seed).encode(), *parts):
            digest.update(len(part).to_bytes(8, "big") + part)
        return int.from_bytes(digest.digest(), "big")

    def _chat(self, body: Json, model: str, rng: random.Random, created: int) -> Json:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Invalid("'messages' must be a non-empty list.", "messages")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in _CHAT_ROLES:
                raise _Invalid(f"messages[{i}] must be an object whose 'role' is one of "
                               f"{', '.join(_CHAT_ROLES)}.", f"messages[{i}].role")
        _check_number(body, "temperature", 2)
        _check_number(body, "top_p", 1)
        limit = _int_field(body, "max_tokens")
        limit = _int_field(body, "max_completion_tokens") or limit
        n = _int_field(body, "n", 128) or 1
        tools = _parse_tools(body.get("tools"), "chat")
        choice = _parse_choice(body.get("tool_choice"), tools, "chat")
        schema = _format_schema(body.get("response_format"), "response_format", nested=True,
                                strict_rules=self._strict_schemas)
        after_tool = messages[-1]["role"] == "tool"
        ident = f"chatcmpl-{_hex(rng, 32)}"
        choices, used = [], 0
        for index in range(n):
            out = _produce(rng, tools, choice, after_tool, schema, "response_format", limit)
            reply: Json = {"role": "assistant", "content": out.text}
            if out.tool is not None:
                call = {"name": out.tool.name, "arguments": out.arguments_json}
                reply["tool_calls"] = [{"id": f"call_{_hex(rng, 24)}", "type": "function", "function": call}]
            finish = "tool_calls" if out.tool else "length" if out.truncated else "stop"
            choices.append({"index": index, "message": reply, "logprobs": None, "finish_reason": finish})
            used += out.tokens
        prompt = _tokens(_text(messages))
        return {"id": ident, "object": "chat.completion", "created": created, "model": model,
                "choices": choices, "usage": _usage(prompt, used)}

    def _completions(self, body: Json, model: str, rng: random.Random, created: int) -> Json:
        raw = body.get("prompt")
        if isinstance(raw, str) or _is_token_list(raw):
            prompts: list[Any] = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(p, str) or _is_token_list(p) for p in raw):
            prompts = list(raw)
        else:
            raise _Invalid("'prompt' is required: a string, a list of strings or of token ids.", "prompt")
        _check_number(body, "temperature", 2)
        _check_number(body, "top_p", 1)
        limit = _int_field(body, "max_tokens") or COMPLETIONS_DEFAULT_MAX_TOKENS
        n = _int_field(body, "n", 128) or 1
        ident = f"cmpl-{_hex(rng, 32)}"
        choices, used = [], 0
        for index in range(len(prompts) * n):
            text, truncated = _truncate(_sentence(rng), limit)
            choices.append({"index": index, "text": text, "logprobs": None,
                            "finish_reason": "length" if truncated else "stop"})
            used += _tokens(text)
        prompt = sum(map(_input_tokens, prompts))
        return {"id": ident, "object": "text_completion", "created": created, "model": model,
                "choices": choices, "usage": _usage(prompt, used)}

    def _embeddings(self, body: Json, model: str, rng: random.Random, created: int) -> Json:
        raw = body.get("input")
        if (isinstance(raw, str) and raw) or _is_token_list(raw):
            inputs: list[Any] = [raw]
        elif isinstance(raw, list) and raw and (all(isinstance(p, str) and p for p in raw)
                                                or all(_is_token_list(p) for p in raw)):
            inputs = list(raw)
        else:
            raise _Invalid("'input' must be a non-empty string, list of strings, list of token ids "
                           "or list of lists of token ids.", "input")
        most = self._embedding_models.get(model, DEFAULT_DIMENSIONS)
        dimensions = _int_field(body, "dimensions", most) or most
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise _Invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
        data = []
        for index, item in enumerate(inputs):
            vector_rng = random.Random(self._hash(b"embedding", model.encode(), _canonical(item)))
            raw_ints = struct.unpack(f"<{dimensions}h", vector_rng.randbytes(2 * dimensions))
            vector = [x + 0.5 for x in raw_ints]  # never all zero
            norm = math.sqrt(sum(x * x for x in vector))
            values = [round(x / norm, 6) for x in vector]
            embedding: Any = values if encoding == "float" else base64.b64encode(
                struct.pack(f"<{dimensions}f", *values)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(map(_input_tokens, inputs))
        return {"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    def _responses(self, body: Json, model: str, rng: random.Random, created: int) -> Json:
        raw = body.get("input")
        if not isinstance(raw, str) and not _is_list_of(raw, dict):
            raise _Invalid("'input' is required: a string or a non-empty list of input items.", "input")
        instructions = body.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise _Invalid("'instructions' must be a string.", "instructions")
        _check_number(body, "temperature", 2)
        _check_number(body, "top_p", 1)
        limit = _int_field(body, "max_output_tokens")
        tools = _parse_tools(body.get("tools"), "responses")
        choice = _parse_choice(body.get("tool_choice"), tools, "responses")
        text_config = body.get("text")
        if text_config is not None and not isinstance(text_config, dict):
            raise _Invalid("'text' must be an object.", "text")
        schema = _format_schema((text_config or {}).get("format"), "text.format", nested=False,
                                strict_rules=self._strict_schemas)
        after_tool = isinstance(raw, list) and raw[-1].get("type") == "function_call_output"
        ident = f"resp_{_hex(rng, 48)}"
        out = _produce(rng, tools, choice, after_tool, schema, "text.format", limit)
        if out.tool is not None:
            item: dict[str, Any] = {"type": "function_call", "id": f"fc_{_hex(rng, 48)}",
                                    "call_id": f"call_{_hex(rng, 24)}", "name": out.tool.name,
                                    "arguments": out.arguments_json, "status": "completed"}
        else:
            item = {"type": "message", "id": f"msg_{_hex(rng, 48)}",
                    "status": "incomplete" if out.truncated else "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": out.text, "annotations": []}]}
        prompt = _tokens("\n".join(t for t in (instructions or "", _text(raw)) if t))
        return {
            "id": ident, "object": "response", "created_at": created,
            "status": "incomplete" if out.truncated else "completed", "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if out.truncated else None,
            "instructions": instructions, "max_output_tokens": limit, "model": model, "output": [item],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
            "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
            "text": text_config or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation") or "disabled", "user": body.get("user"),
            "metadata": body.get("metadata") or {},
            "usage": {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": out.tokens, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": prompt + out.tokens},
        }

    def _messages(self, body: Json, model: str, rng: random.Random, created: int) -> Json:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Invalid("'messages' must be a non-empty list.", "messages")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise _Invalid(f"messages[{i}] must be an object whose 'role' is 'user' or 'assistant'.",
                               f"messages[{i}].role")
        limit = _int_field(body, "max_tokens", required=True)
        _check_number(body, "temperature", 1)
        _check_number(body, "top_p", 1)
        tools = _parse_tools(body.get("tools"), "anthropic")
        choice = _parse_choice(body.get("tool_choice"), tools, "anthropic")
        last = messages[-1].get("content")
        after_tool = isinstance(last, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in last)
        ident = f"msg_{_hex(rng, 24)}"
        out = _produce(rng, tools, choice, after_tool, None, "", limit)
        if out.tool is not None:
            block = {"type": "tool_use", "id": f"toolu_{_hex(rng, 24)}", "name": out.tool.name,
                     "input": out.arguments}
            stop = "tool_use"
        else:
            block, stop = {"type": "text", "text": out.text}, "max_tokens" if out.truncated else "end_turn"
        prompt = _tokens("\n".join(t for t in (_text(body.get("system")), _text(messages)) if t))
        return {"id": ident, "type": "message", "role": "assistant", "model": model, "content": [block],
                "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": prompt, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": out.tokens}}

"""Hypothesis strategies: valid batch files, broken files (a valid file plus one named mutation) and
hostile multipart bodies, each carrying what the live service answers to it.

The expectations are the live server's (dwctl `handlers/files.rs::create_file_stream` and
`OpenAIBatchRequest::to_internal`, multer for multipart; `shared/research/doubleword-server.md` §2):
lines are split on `\\n` (a trailing `\\r` dropped) and trimmed, blank lines are skipped and not
counted, each line is parsed by serde into `{custom_id, method, url, body}` and checked in a fixed
order. Where the simulator is known to differ, the region is left out of the main strategies and
`test_known_bugs.py` pins the difference with its minimal example.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from hypothesis import strategies as st

from mockserver.testing import Limits

# -- the contract: configured models, allowed paths, line rules -----------------------------------
CHAT_MODELS = ("Qwen/Qwen3-VL-30B-A3B-Instruct-FP8", "Qwen/Qwen3-VL-235B-A22B-Instruct-FP8")
EMBEDDINGS_MODELS = ("Qwen/Qwen3-Embedding-8B",)
MODELS = CHAT_MODELS + EMBEDDINGS_MODELS
CHAT_URLS = ("/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages")
EMBEDDINGS_URLS = ("/v1/embeddings",)
ALLOWED_URLS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages")
MAX_CUSTOM_ID_BYTES = 64
# a custom_id must be a valid HTTP header value (http's HeaderValue): no controls but TAB, no DEL
FORBIDDEN_ID_CHARS = "".join(map(chr, [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F]))
# serde_json refuses the 128th nested container; the line object and `body` are the first two
SERDE_DEPTH_LIMIT = 128
MAX_VALID_NEST = SERDE_DEPTH_LIMIT - 3
# whitespace both sides trim from a line: Rust's `str::trim` (Unicode White_Space) and Python's
# `bytes.strip` (ASCII) agree on these; `UNICODE_SPACES` are White_Space only for Rust
ASCII_SPACES = " \t\r\x0b\x0c"
UNICODE_SPACES = "\u0085\u00a0\u1680\u2000\u2003\u200a\u2028\u2029\u202f\u205f\u3000"
EMPTY_FILE = "File contains no valid request templates"
NO_FILE = "No file field found in multipart upload"
BAD_MULTIPART = "Failed to read multipart upload: "
NOT_MULTIPART = "Invalid multipart request: "
DEFAULT_TTL = 30 * 86_400
I64 = (-(2**63), 2**63 - 1)


def stored_body(body: Any) -> Any:
    """The body as the service keeps it: `priority` removed."""
    return {k: v for k, v in body.items() if k != "priority"} if isinstance(body, dict) else body


def body_size(body: Any) -> int:
    """The size the per-request limit is measured on: the compact re-serialised stored body."""
    return len(orjson.dumps(stored_body(body)))


def stored_request(obj: dict[str, Any]) -> dict[str, Any]:
    """What `GET /files/{id}/content` returns for one request line."""
    return {"custom_id": obj["custom_id"], "method": obj["method"], "url": obj["url"], "body": stored_body(obj["body"])}


def dump(obj: Any, *, ascii_only: bool = False, spaced: bool = False) -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(obj, ensure_ascii=ascii_only, separators=separators, allow_nan=False).encode()


# one small valid request, for the hand-written regression and known-difference tests
LINE: dict[str, Any] = {"custom_id": "a", "method": "POST", "url": "/v1/embeddings",
                        "body": {"model": EMBEDDINGS_MODELS[0], "input": "x"}}
LINE_TEXT = dump(LINE)


def fit_bytes(text: str, size: int) -> str:
    """`text` cut to at most `size` UTF-8 bytes, at a character boundary."""
    return text.encode()[:size].decode("utf-8", "ignore")


def nested(depth: int, kind: str) -> str:
    """A JSON text of `depth` nested containers (built as text: `json` would hit Python's recursion limit)."""
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "null" + "}" * depth
    return '[{"a":' * (depth // 2) + ("[]" if depth % 2 else "null") + "}]" * (depth // 2)


# -- JSON values ----------------------------------------------------------------------------------
texts = st.text(max_size=40)  # any Unicode scalar value (no surrogates: JSON text is UTF-8)
short_texts = st.text(max_size=12)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=I64[0], max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False), texts,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_texts, inner, max_size=3),
    max_leaves=8,
)
non_strings = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=I64[0], max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.lists(json_values, max_size=2),
    st.dictionaries(short_texts, json_values, max_size=2),
)
non_objects = st.one_of(non_strings.filter(lambda v: not isinstance(v, dict)), texts)

# -- JSON Schemas, tools, response formats --------------------------------------------------------
property_names = st.text(st.characters(min_codepoint=0x61, max_codepoint=0x7A), min_size=1, max_size=8)
_leaf_schemas = st.one_of(
    st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"},
                     {"type": "null"}, {"type": "string", "format": "email"}, {"type": "string", "format": "date"}]),
    st.builds(lambda lo, span: {"type": "integer", "minimum": lo, "maximum": lo + span},
              st.integers(-100, 100), st.integers(0, 100)),
    st.builds(lambda lo, span: {"type": "string", "minLength": lo, "maxLength": lo + span},
              st.integers(0, 5), st.integers(0, 10)),
    st.lists(short_texts, min_size=1, max_size=4, unique=True).map(lambda xs: {"enum": xs}),
    short_texts.map(lambda x: {"const": x}),
)


def _object_schema(props: dict[str, Any], required: list[str], closed: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _object_schemas(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(property_names, inner, min_size=1, max_size=4).flatmap(
        lambda props: st.builds(
            _object_schema, st.just(props), st.lists(st.sampled_from(sorted(props)), unique=True), st.booleans()
        )
    )


json_schemas: st.SearchStrategy[dict[str, Any]] = st.recursive(
    _leaf_schemas,
    lambda inner: st.one_of(
        _object_schemas(inner),
        st.builds(lambda items, lo: {"type": "array", "items": items, "minItems": lo, "maxItems": lo + 2},
                  inner, st.integers(0, 2)),
        st.lists(inner, min_size=1, max_size=2).map(lambda xs: {"anyOf": xs}),
    ),
    max_leaves=6,
)
object_schemas = _object_schemas(json_schemas)
tool_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)

openai_tools = st.lists(
    st.builds(lambda name, doc, schema: {"type": "function", "function": {"name": name, "description": doc,
                                                                            "parameters": schema}},
              tool_names, short_texts, object_schemas),
    min_size=1, max_size=2,
)
responses_tools = st.lists(
    st.builds(lambda name, schema: {"type": "function", "name": name, "parameters": schema}, tool_names, object_schemas),
    min_size=1, max_size=2,
)
anthropic_tools = st.lists(
    st.builds(lambda name, doc, schema: {"name": name, "description": doc, "input_schema": schema},
              tool_names, short_texts, object_schemas),
    min_size=1, max_size=2,
)
response_formats = st.one_of(
    st.builds(lambda name, schema, strict: {"type": "json_schema",
                                            "json_schema": {"name": name, "schema": schema, "strict": strict}},
              tool_names, object_schemas, st.booleans()),
    st.sampled_from([{"type": "json_object"}, {"type": "text"}]),
)

# -- request bodies, one shape per endpoint -------------------------------------------------------
# mostly values the simulated model accepts, sometimes ones it answers 400 to (those requests land
# in the error file, as live; the upload accepts them all: only body.model is checked at upload)
temperatures = st.one_of(st.floats(0, 2), st.sampled_from([-1, 2.5, 7]))
chat_messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant"]), "content": texts}),
    min_size=1, max_size=3,
)
priorities = st.one_of(st.integers(-5, 5), st.sampled_from(["high", "low"]), json_values)
_common_optional: dict[str, st.SearchStrategy[Any]] = {
    "temperature": temperatures, "priority": priorities, "seed": st.integers(0, 2**31),
    "metadata": st.dictionaries(short_texts, short_texts, max_size=2),
}


def _bodies_for(url: str, model: str) -> st.SearchStrategy[dict[str, Any]]:
    required: dict[str, st.SearchStrategy[Any]]
    optional = dict(_common_optional)
    if url == "/v1/chat/completions":
        required = {"messages": chat_messages}
        optional |= {"max_tokens": st.integers(1, 4096), "tools": openai_tools,
                     "tool_choice": st.sampled_from(["auto", "required", "none"]),
                     "response_format": response_formats, "top_p": st.floats(0, 1), "stop": st.lists(short_texts, max_size=2)}
    elif url == "/v1/completions":
        required = {"prompt": texts | st.lists(texts, min_size=1, max_size=3)}
        optional |= {"max_tokens": st.integers(1, 4096)}
    elif url == "/v1/responses":
        required = {"input": texts | chat_messages}
        optional |= {"instructions": texts, "max_output_tokens": st.integers(1, 4096), "tools": responses_tools,
                     "text": st.builds(lambda name, schema: {"format": {"type": "json_schema", "name": name, "schema": schema}},
                                       tool_names, object_schemas)}
    elif url == "/v1/messages":
        required = {"max_tokens": st.integers(1, 4096), "messages": chat_messages}
        optional |= {"system": texts, "tools": anthropic_tools}
    else:
        required = {"input": texts | st.lists(texts, min_size=1, max_size=4)}
        optional = {"dimensions": st.integers(1, 4096), "encoding_format": st.sampled_from(["float", "base64"]),
                    "priority": priorities}
    extra = st.dictionaries(short_texts.map(lambda k: "x-" + k), json_values, max_size=2)
    nest = st.one_of(st.none(), st.tuples(st.integers(1, MAX_VALID_NEST), st.sampled_from(["array", "object", "mixed"])))
    return st.builds(
        _assemble_body, st.just(model), st.fixed_dictionaries(required, optional=optional), extra, nest
    ).flatmap(_shuffled)


def _assemble_body(model: str, fields: dict[str, Any], extra: dict[str, Any], nest: tuple[int, str] | None) -> dict[str, Any]:
    body = {"model": model, **fields, **extra}
    if nest is not None:  # deep, but within serde's limit
        body["x-nest"] = json.loads(nested(*nest))
    return body


def _shuffled(obj: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.permutations(list(obj)).map(lambda keys: {k: obj[k] for k in keys})


def bodies(url: str) -> st.SearchStrategy[dict[str, Any]]:
    models = EMBEDDINGS_MODELS if url in EMBEDDINGS_URLS else CHAT_MODELS
    return st.sampled_from(models).flatmap(lambda model: _bodies_for(url, model))


# -- custom_ids -------------------------------------------------------------------------------------
_id_chars = st.characters(codec="utf-8", exclude_characters=FORBIDDEN_ID_CHARS)
custom_ids = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=MAX_CUSTOM_ID_BYTES),
    st.text(_id_chars, max_size=MAX_CUSTOM_ID_BYTES).map(lambda s: fit_bytes(s, MAX_CUSTOM_ID_BYTES)),
    st.sampled_from([  # at the limits: 64 bytes of 1-, 2-, 3- and 4-byte characters; empty; tab; C1
        "", "x" * 64, "é" * 32, "日本語" * 7 + "x", "🙂" * 16, "a\tb", "a\u0085b", "req-1",
    ]),
)
methods = st.sampled_from(["POST", "post", "Post", "pOsT", "POSt"])


@st.composite
def requests(draw: st.DrawFn, id_pool: Sequence[str] = ()) -> dict[str, Any]:
    """One request line as an object: any endpoint, a model of its type, keys in any order, maybe
    unknown top-level keys (the service drops them)."""
    url = draw(st.sampled_from(ALLOWED_URLS))
    custom_id = draw(st.sampled_from(id_pool) | custom_ids if id_pool else custom_ids)
    obj: dict[str, Any] = {"custom_id": custom_id, "method": draw(methods), "url": url, "body": draw(bodies(url))}
    obj |= draw(st.dictionaries(st.sampled_from(["extra", "metadata", "id", "priority", "x"]), json_values, max_size=2))
    return draw(_shuffled(obj))


# -- files --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchFile:
    """A batch input file: request lines (objects and the exact text written), and the bytes around
    them: `gaps[i]` comes before `texts[i]`, `gaps[-1]` after the last (line breaks, blank lines,
    surrounding whitespace)."""

    requests: tuple[dict[str, Any], ...]
    texts: tuple[bytes, ...]
    gaps: tuple[bytes, ...]

    def render(self, texts: Sequence[bytes] | None = None) -> bytes:
        lines = self.texts if texts is None else texts
        return b"".join(g + t for g, t in zip(self.gaps, lines, strict=False)) + self.gaps[-1]

    def with_text(self, i: int, text: bytes) -> bytes:
        return self.render([*self.texts[:i], text, *self.texts[i + 1 :]])

    def offset_of(self, i: int) -> int:
        return sum(len(g) + len(t) for g, t in zip(self.gaps[:i], self.texts[:i], strict=True)) + len(self.gaps[i])

    def stored(self) -> list[dict[str, Any]]:
        return [stored_request(obj) for obj in self.requests]


@dataclass(frozen=True)
class _Layout:
    blanks_before: str  # blank lines (each with its line break) before the line
    lead: str
    trail: str
    eol: str


def _layouts(spaces: str) -> st.SearchStrategy[_Layout]:
    eols = st.sampled_from(["\n", "\r\n"])
    blank = st.tuples(st.text(st.sampled_from(spaces), max_size=3), eols).map("".join)
    return st.builds(
        _Layout,
        st.one_of(st.just(""), st.lists(blank, max_size=2).map("".join)),
        st.one_of(st.just(""), st.text(st.sampled_from(spaces), max_size=2)),
        st.one_of(st.just(""), st.text(st.sampled_from(spaces), max_size=2)),
        eols,
    )


@st.composite
def batch_files(
    draw: st.DrawFn, limits: Limits, *, budget: int | None = None, max_requests: int | None = None,
    max_distinct: int = 6, unicode_spaces: bool = False,
) -> BatchFile:
    """A valid file: 1 to `max_distinct` distinct request lines, the whole repeated up to the
    request limit (duplicates are allowed), bodies padded up to the per-body limit, at most
    `budget` bytes. `unicode_spaces` also surrounds lines with whitespace only Rust trims."""
    budget = budget if budget is not None else limits.max_file_size * 3 // 4
    max_requests = max_requests if max_requests is not None else limits.max_requests_per_file
    pool = draw(st.lists(custom_ids, min_size=1, max_size=3))
    base = draw(st.lists(requests(pool), min_size=1, max_size=min(max_distinct, max_requests)))
    repeat = draw(st.one_of(st.just(1), st.integers(1, max(1, max_requests // len(base)))))
    per_line = budget // (len(base) * repeat)
    texts: list[bytes] = []
    for i, obj in enumerate(base):
        want = draw(st.one_of(st.just(0), st.integers(0, 256), st.integers(0, limits.max_request_body_size)))
        room = min(limits.max_request_body_size - body_size(obj["body"]) - len(b',"x-padding":""'),
                   per_line - len(dump(obj, ascii_only=True)) - 64)
        if min(want, room) > 0:
            obj = {**obj, "body": {**obj["body"], "x-padding": "p" * min(want, room)}}
            base[i] = obj
        texts.append(dump(obj, ascii_only=draw(st.booleans()), spaced=draw(st.booleans())))
    spaces = ASCII_SPACES + (UNICODE_SPACES if unicode_spaces else "")
    layouts = draw(st.lists(_layouts(spaces), min_size=len(base), max_size=len(base)))
    round_size = sum(len(t) + len((lay.blanks_before + lay.lead + lay.trail + lay.eol).encode())
                     for t, lay in zip(texts, layouts, strict=True))
    repeat = max(1, min(repeat, budget // max(1, round_size)))
    tail = draw(st.one_of(st.just(""), _layouts(spaces).map(lambda lay: lay.eol + lay.blanks_before)))
    gaps: list[str] = []
    previous: _Layout | None = None
    for k in range(len(base) * repeat):
        lay = layouts[k % len(base)]
        gaps.append(("" if previous is None else previous.trail + previous.eol) + lay.blanks_before + lay.lead)
        previous = lay
    assert previous is not None
    gaps.append(previous.trail + tail)
    return BatchFile(
        requests=tuple(base) * repeat, texts=tuple(texts) * repeat, gaps=tuple(g.encode() for g in gaps)
    )


# -- broken files: a valid file plus one named mutation ----------------------------------------------
@dataclass(frozen=True)
class Expect:
    """What the live service answers: the status, and a body that starts with `prefix` (or is
    exactly it), contains `contains`, and names line `line` (or one at most that far: `on/near`)."""

    status: int
    prefix: str
    line: int | None = None
    exact: bool = False
    contains: str = ""
    line_at_most: bool = False


@dataclass(frozen=True)
class Broken:
    mutation: str
    content: bytes
    expect: Expect
    chunked: bool = False  # send without Content-Length (the limit is then met mid-stream)


@dataclass(frozen=True)
class Mutation:
    name: str
    build: Callable[[st.DrawFn, BatchFile, Limits], Broken]
    known_bug: str | None = None
    file_options: dict[str, Any] = field(default_factory=dict)


def _invalid_json(n: int) -> Expect:
    return Expect(400, f"Invalid JSON on line {n}: ", line=n)


def _line_error(n: int, message: str, status: int = 400) -> Expect:
    return Expect(status, f"Line {n}: {message}", line=n, exact=True)


def _pick(draw: st.DrawFn, f: BatchFile) -> tuple[int, int]:
    i = draw(st.integers(0, len(f.texts) - 1))
    return i, i + 1


def _rewrite(draw: st.DrawFn, f: BatchFile, i: int, obj: dict[str, Any]) -> bytes:
    return f.with_text(i, dump(obj, ascii_only=draw(st.booleans())))


def _m_invalid_json(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    text = f.texts[i].decode()
    garbage = [
        "{", "}", "{not json", "[1, 2]", '"just a string"', "null", "true", "42", "{}", "{'custom_id': 'a'}",
        '{"custom_id": "a",}', "NaN", text + text, text + ",", text[:-1] + ",}", "{" + text,
    ]
    bad = draw(st.one_of(st.sampled_from(garbage), st.integers(1, len(text) - 1).map(lambda k: text[:k])))
    return Broken("invalid_json", f.with_text(i, bad.encode()), _invalid_json(n))


def _m_line_break(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    text = f.texts[i].decode()
    k = draw(st.integers(1, len(text) - 1))
    sep = draw(st.sampled_from(["\n", "\r\n"]))
    return Broken("line_break_in_object", f.with_text(i, (text[:k] + sep + text[k:]).encode()), _invalid_json(n))


def _m_missing_key(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    key = draw(st.sampled_from(["custom_id", "method", "url", "body"]))
    obj = {k: v for k, v in f.requests[i].items() if k != key}
    return Broken("missing_key", _rewrite(draw, f, i, obj), replace(_invalid_json(n), contains=f"missing field `{key}`"))


def _m_mistyped_key(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    key = draw(st.sampled_from(["custom_id", "method", "url"]))
    obj = {**f.requests[i], key: draw(non_strings)}
    return Broken("mistyped_key", _rewrite(draw, f, i, obj), replace(_invalid_json(n), contains="invalid type: "))


def _m_body_not_object(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    obj = {**f.requests[i], "body": draw(non_objects)}
    return Broken("body_not_object", _rewrite(draw, f, i, obj), _line_error(n, "Missing 'model' field in request body"))


def _m_long_custom_id(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    start = draw(st.text(st.characters(codec="utf-8"), max_size=80))
    custom_id = start + "y" * max(0, MAX_CUSTOM_ID_BYTES + 1 - len(start.encode()))
    custom_id += draw(st.text(st.characters(codec="utf-8"), max_size=4))
    size = len(custom_id.encode())  # the length check comes first, whatever the characters
    obj = {**f.requests[i], "custom_id": custom_id}
    message = f"custom_id exceeds maximum length of {MAX_CUSTOM_ID_BYTES} characters (got {size})"
    return Broken("long_custom_id", _rewrite(draw, f, i, obj), _line_error(n, message))


def _m_control_custom_id(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    base = fit_bytes(draw(custom_ids), MAX_CUSTOM_ID_BYTES - 1)
    at = draw(st.integers(0, len(base)))
    custom_id = base[:at] + draw(st.sampled_from(FORBIDDEN_ID_CHARS)) + base[at:]
    obj = {**f.requests[i], "custom_id": custom_id}
    message = "custom_id contains invalid characters: must be valid ASCII without control characters"
    return Broken("control_char_custom_id", _rewrite(draw, f, i, obj), _line_error(n, message))


def _m_wrong_method(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    near = ["GET", "PUT", "DELETE", "PATCH", "", " POST", "POST ", "POSTS", "P0ST", "get", "POST\t"]
    method = draw(st.sampled_from(near) | texts.filter(lambda m: m.upper() != "POST"))
    obj = {**f.requests[i], "method": method}
    message = f"Unsupported HTTP method '{method}'. Only POST is currently supported."
    return Broken("wrong_method", _rewrite(draw, f, i, obj), _line_error(n, message))


def _m_wrong_url(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    near = ["/v1/chat/completions/", "/ai/v1/chat/completions", "v1/embeddings", "/V1/chat/completions",
            "/v1/moderations", "", "/v1/chat/completions?x=1", " /v1/completions", "/v1/batches"]
    url = draw(st.sampled_from(near) | texts.filter(lambda u: u not in ALLOWED_URLS))
    obj = {**f.requests[i], "url": url}
    message = f"Unsupported URL path '{url}'. Allowed paths are: {', '.join(ALLOWED_URLS)}"
    return Broken("wrong_url", _rewrite(draw, f, i, obj), _line_error(n, message))


def _m_missing_model(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    body = {k: v for k, v in f.requests[i]["body"].items() if k != "model"}
    if draw(st.booleans()):
        body["model"] = draw(non_strings)
    obj = {**f.requests[i], "body": body}
    return Broken("missing_model", _rewrite(draw, f, i, obj), _line_error(n, "Missing 'model' field in request body"))


def _m_unknown_model(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    near = ["gpt-4o", CHAT_MODELS[0].lower(), CHAT_MODELS[0] + " ", " " + EMBEDDINGS_MODELS[0], "",
            "Qwen/Qwen3-Embedding-8B-v2", "Qwen3-VL-30B-A3B-Instruct-FP8"]
    model = draw(st.sampled_from(near) | texts.filter(lambda m: m not in MODELS))
    obj = {**f.requests[i], "body": {**f.requests[i]["body"], "model": model}}
    message = f"Model '{model}' has not been configured or is not available to user"
    return Broken("unknown_model", _rewrite(draw, f, i, obj), _line_error(n, message, status=403))


def _m_wrong_model_type(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    obj = dict(f.requests[i])
    chat_url = obj["url"] in CHAT_URLS
    if draw(st.booleans()):  # keep the url, take a model of the other type
        obj["body"] = {**obj["body"], "model": draw(st.sampled_from(EMBEDDINGS_MODELS if chat_url else CHAT_MODELS))}
    else:  # keep the model, send it to an endpoint of the other type
        obj["url"] = draw(st.sampled_from(EMBEDDINGS_URLS if chat_url else CHAT_URLS))
    model, url = obj["body"]["model"], obj["url"]
    kind, wanted = ("EMBEDDINGS", "CHAT") if url in CHAT_URLS else ("CHAT", "EMBEDDINGS")
    message = f"Model '{model}' is a {kind} model but endpoint '{url}' requires a {wanted} model"
    return Broken("wrong_model_type", _rewrite(draw, f, i, obj), _line_error(n, message))


def _m_oversized_body(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    limit = limits.max_request_body_size
    body = {k: v for k, v in f.requests[i]["body"].items() if k != "x-padding"}
    over = limit + draw(st.integers(1, 2048))
    body["x-padding"] = "p" * (over - body_size({**body, "x-padding": ""}))
    size = body_size(body)
    assert size == over
    obj = {**f.requests[i], "body": body}
    message = f"Request body is {size} bytes, which exceeds the maximum allowed size of {limit} bytes"
    return Broken("oversized_body", _rewrite(draw, f, i, obj), _line_error(n, message))


def _m_bom(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    bom = "\ufeff".encode()
    if draw(st.booleans()):  # at the start of the file: whatever comes first, line 1 is not JSON
        return Broken("bom", bom + f.render(), _invalid_json(1))
    i, n = _pick(draw, f)
    return Broken("bom", f.with_text(i, bom + f.texts[i]), _invalid_json(n))


BAD_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0\xaf", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80"]


def _m_invalid_utf8(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    text = f.texts[i].decode()
    at = len(text[: draw(st.integers(0, len(text)))].encode())  # a character boundary
    raw = f.texts[i]
    content = f.with_text(i, raw[:at] + draw(st.sampled_from(BAD_UTF8)) + raw[at:])
    # live decodes a chunk at a time and names the line its chunk starts in ("on/near"); the byte
    # offset is exact: where the first bad byte is
    expect = Expect(400, "File contains invalid UTF-8 on/near line ", line=n, line_at_most=True,
                    contains=f" at byte offset {f.offset_of(i) + at}: ")
    return Broken("invalid_utf8", content, expect)


def _m_deep_nesting(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    # 2 + depth nested containers: over serde's limit (and past orjson's own, 1024)
    depth = draw(st.integers(SERDE_DEPTH_LIMIT - 2, 3000))
    obj = {**f.requests[i], "body": {**f.requests[i]["body"], "x-nest": "@@NEST@@"}}
    text = dump(obj).replace(b'"@@NEST@@"', nested(depth, draw(st.sampled_from(["array", "object", "mixed"]))).encode())
    return Broken("deep_nesting", f.with_text(i, text), replace(_invalid_json(n), contains="recursion limit exceeded"))


def _m_empty_file(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    blank = draw(st.one_of(st.just(""), _layouts(ASCII_SPACES).map(lambda lay: lay.blanks_before + lay.lead)))
    return Broken("empty_file", blank.encode(), Expect(400, EMPTY_FILE, exact=True))


def _m_duplicate_key(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    i, n = _pick(draw, f)
    obj = f.requests[i]
    key = draw(st.sampled_from(["custom_id", "method", "url", "body"]))
    again = draw(st.sampled_from([obj[key], stored_request(obj)[key]]))
    text = dump(obj)[:-1] + b"," + dump(key) + b":" + dump(again) + b"}"
    return Broken("duplicate_key", f.with_text(i, text), replace(_invalid_json(n), contains=f"duplicate field `{key}`"))


TINY_LINE = dump({"custom_id": "t", "method": "POST", "url": "/v1/embeddings",
                  "body": {"model": EMBEDDINGS_MODELS[0], "input": "x"}})


def _m_too_many_requests(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    most = limits.max_requests_per_file
    total = most + draw(st.integers(1, 3))
    content = f.render() + b"\n" + b"\n".join([TINY_LINE] * (total - len(f.texts))) + b"\n"
    expect = Expect(400, f"File contains {most + 1} requests, which exceeds the maximum of {most}", exact=True)
    return Broken("too_many_requests", content, expect)


def _m_oversized_file(draw: st.DrawFn, f: BatchFile, limits: Limits) -> Broken:
    content = f.render() + b"\n"
    target_size = limits.max_file_size + draw(st.integers(1, 30 * 1024))
    pad = limits.max_request_body_size - 1024
    filler = dump({"custom_id": "big", "method": "POST", "url": "/v1/embeddings",
                   "body": {"model": EMBEDDINGS_MODELS[0], "input": "x" * pad}}) + b"\n"
    copies = -(-(target_size - len(content)) // len(filler))
    content += filler * copies
    assert len(f.texts) + copies <= limits.max_requests_per_file  # the size limit, not the count, is met
    expect = Expect(413, f"File exceeds the maximum allowed size of {limits.max_file_size} bytes", exact=True)
    return Broken("oversized_file", content, expect, chunked=draw(st.booleans()))


MUTATIONS: dict[str, Mutation] = {m.name: m for m in [
    Mutation("invalid_json", _m_invalid_json),
    Mutation("line_break_in_object", _m_line_break),
    Mutation("missing_key", _m_missing_key),
    Mutation("mistyped_key", _m_mistyped_key),
    Mutation("body_not_object", _m_body_not_object),
    Mutation("long_custom_id", _m_long_custom_id),
    Mutation("control_char_custom_id", _m_control_custom_id),
    Mutation("wrong_method", _m_wrong_method),
    Mutation("wrong_url", _m_wrong_url),
    Mutation("missing_model", _m_missing_model),
    Mutation("unknown_model", _m_unknown_model),
    Mutation("wrong_model_type", _m_wrong_model_type),
    Mutation("oversized_body", _m_oversized_body),
    Mutation("bom", _m_bom),
    Mutation("invalid_utf8", _m_invalid_utf8),
    Mutation("empty_file", _m_empty_file),
    Mutation("too_many_requests", _m_too_many_requests),
    Mutation("oversized_file", _m_oversized_file, file_options={"max_requests": 100, "budget": 256 * 1024}),
    Mutation("deep_nesting", _m_deep_nesting),
    Mutation("duplicate_key", _m_duplicate_key),
]}


@st.composite
def broken_files(draw: st.DrawFn, name: str, limits: Limits) -> Broken:
    mutation = MUTATIONS[name]
    options = {"budget": limits.max_file_size // 2, **mutation.file_options}
    return mutation.build(draw, draw(batch_files(limits, **options)), limits)


# -- multipart ----------------------------------------------------------------------------------------
BOUNDARY = b"dwsim-fuzz-Qx7w3"


@dataclass(frozen=True)
class Part:
    """One multipart part; `filename` is the raw text between the quotes."""

    name: str | None
    data: bytes
    filename: bytes | None = None
    headers: tuple[bytes, ...] = ()
    requests: tuple[dict[str, Any], ...] = ()  # for a file part: the request objects in `data`

    def encode(self) -> bytes:
        disposition = b"Content-Disposition: form-data"
        if self.name is not None:
            disposition += b'; name="' + self.name.encode() + b'"'
        if self.filename is not None:
            disposition += b'; filename="' + self.filename + b'"'
        return b"\r\n".join([disposition, *self.headers]) + b"\r\n\r\n" + self.data


def multipart(parts: Sequence[Part], boundary: bytes = BOUNDARY) -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part.encode() + b"\r\n" for part in parts)
    return body + b"--" + boundary + b"--\r\n"


MULTIPART_TYPE = "multipart/form-data; boundary=" + BOUNDARY.decode()

# Filenames are kept as sent (multer: the bytes between the quotes, `\\"` unescaped; backslashes and
# paths kept); one that is not UTF-8 is dropped (`upload-<id>`). Left out: quotes, a backslash before
# the closing quote, and control characters (a 400: test_known_bugs.py pins it).
_filename_chars = st.characters(codec="utf-8", exclude_characters='"' + FORBIDDEN_ID_CHARS)
_not_utf8 = st.lists(st.sampled_from([b"a", b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b".jsonl"]), min_size=1,
                     max_size=8).map(b"".join).filter(lambda raw: not _is_utf8(raw))
odd_filenames = st.one_of(
    st.sampled_from(["batch.jsonl", "", "..", "../../etc/passwd", "/abs/path.jsonl", "a/b/c.jsonl", "./x",
                     "a;b=c.jsonl", "  spaced  ", "name=x", "日本語.jsonl", "🙂", "x" * 3000, "a'b", "a%2Fb",
                     "C:\\data\\batch.jsonl", "a\\\\b", "\\\\server\\share\\f.jsonl"]),
    st.text(_filename_chars, max_size=60).filter(lambda name: not name.endswith("\\")),
).map(str.encode) | _not_utf8


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Accepted:
    filename: str | None  # None: `upload-<id>`
    expires_after: int | None  # seconds; None: the default 30 days
    requests: tuple[dict[str, Any], ...]
    size: int


@dataclass(frozen=True)
class Form:
    parts: tuple[Part, ...]
    outcome: Accepted | Expect


def i64_text(value: str) -> int | None:
    """Rust's `str::parse::<i64>`: an optional sign, ASCII digits, in range."""
    body = value[1:] if value[:1] in "+-" else value
    if not body or not all("0" <= c <= "9" for c in body):
        return None
    number = int(value)
    return number if I64[0] <= number <= I64[1] else None


purposes = st.one_of(
    st.sampled_from(["batch", "BATCH", "Batch", "bAtCh"]),
    st.sampled_from(["batches", "", "batch_output", "batch_error", "fine-tune", " batch", "batch\n", "batch\x00"]),
    texts,
)
# seconds: live parses an i64 (anything past it is ignored: up to ±2**70 here) and adds it to now with
# chrono (`checked_add_signed(Duration::seconds(s))`, fusillade-arsenal postgres.rs), whose dates end near
# 8.2e12 s from 1970: past them live stores no expiry (the check in test_multipart models it). Past
# i64::MAX / 1000 seconds live panics: that region is left out (a simulator-only contract test covers it)
EXPIRY_IN_RANGE = (-(10**11), 10**12)
CHRONO_SECONDS = (2**63 - 1) // 1000  # chrono's Duration::seconds panics past this
expiry_seconds = st.one_of(
    st.integers(*EXPIRY_IN_RANGE).map(str),
    # past chrono's dates but within its Duration (live: no expiry); beyond that live panics (not sent)
    st.integers(-CHRONO_SECONDS, CHRONO_SECONDS).map(str),
    st.integers(I64[1] + 1, 2**70).map(str),
    st.integers(-(2**70), I64[0] - 1).map(str),
    st.sampled_from([I64[0] - 1, I64[1] + 1, -(2**70), 2**70]).map(str),
    st.integers(0, EXPIRY_IN_RANGE[1]).map(lambda s: f"+{s}"),
    st.integers(I64[1] + 1, 2**70).map(lambda s: f"+{s}"),
    st.sampled_from(["1.5", "1e3", " 5", "5 ", "", "0x10", "\u0663", "++1", "--1", "+-1", "-", "soon"]),
    texts.filter(lambda v: re.fullmatch(r"[+-]?[0-9]+", v) is None),
)


@st.composite
def small_files(draw: st.DrawFn, limits: Limits) -> BatchFile:
    return draw(batch_files(limits, budget=32 * 1024, max_requests=limits.max_requests_per_file // 4, max_distinct=3))


@st.composite
def forms(draw: st.DrawFn, limits: Limits) -> Form:
    """A well-formed multipart body: file parts (maybe none, maybe two), purposes, expiry fields and
    unknown fields, in any order, each maybe repeated; the outcome follows live's loop over parts."""
    parts: list[Part] = []
    named = draw(st.booleans())
    for _ in range(draw(st.sampled_from([1, 1, 1, 1, 2, 0]))):
        # each file part ends with a line break (live glues an unterminated last line to the next
        # file part's first line: test_known_bugs.py)
        f = draw(st.one_of(small_files(limits), st.none()))
        data = f.render().rstrip(ASCII_SPACES.encode()) + b"\n" if f else draw(st.sampled_from([b"", b"\n", b" \r\n"]))
        content_type = draw(st.sampled_from([(), (b"Content-Type: application/jsonl",),
                                             (b"Content-Type: application/octet-stream",), (b"Content-Type: text/plain",)]))
        parts.append(Part("file", data, draw(odd_filenames) if named else None, content_type, f.requests if f else ()))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
        parts.append(Part("purpose", draw(purposes).encode()))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        parts.append(Part("expires_after[seconds]", draw(expiry_seconds).encode()))
    for _ in range(draw(st.sampled_from([0, 0, 1]))):
        parts.append(Part("expires_after[anchor]", draw(st.sampled_from(["created_at", "", "last_active_at"])).encode()))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        name = draw(st.sampled_from(["File", "files", "file[]", "purpose ", "model", "x"]) | st.none())
        parts.append(Part(name, draw(st.binary(max_size=64)).replace(b"\r\n--", b"")))
    order = draw(st.permutations(range(len(parts))))
    ordered = tuple(parts[k] for k in order)
    return Form(ordered, _live_outcome(ordered, limits))


def _live_outcome(parts: Sequence[Part], limits: Limits) -> Accepted | Expect:
    """dwctl's `create_file_stream`: fields in order, the first failure wins."""
    requests: list[dict[str, Any]] = []
    seen_file = False
    filename: str | None = None
    seconds: int | None = None
    size = 0
    for part in parts:
        if part.name == "purpose":
            value = part.data.decode("utf-8", "replace")
            if value.lower() != "batch":
                return Expect(400, f"Invalid purpose '{value}'. Only 'batch' is supported.", exact=True)
        elif part.name == "expires_after[seconds]":
            parsed = i64_text(part.data.decode("utf-8", "replace"))
            seconds = parsed if parsed is not None else seconds
        elif part.name == "file":
            seen_file = True
            filename = part.filename.decode() if part.filename is not None and _is_utf8(part.filename) else None
            requests += part.requests
            size += len(part.data)
            if not requests:
                return Expect(400, EMPTY_FILE, exact=True)
    if not seen_file:
        return Expect(400, NO_FILE, exact=True)
    assert len(requests) <= limits.max_requests_per_file
    return Accepted(filename, seconds, tuple(requests), size)

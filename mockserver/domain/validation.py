"""The rules one request line of an uploaded JSONL file must pass, with the live service's messages.

Order and wording follow dwctl's `OpenAIBatchRequest::to_internal` and `FileUploadError`: a line that
is not a JSON object with `custom_id`, `method`, `url` and `body` is `Invalid JSON on line N: ...`;
then custom_id, method, url, body.model, model access (403), model type, body size, each
`Line N: ...`. N counts non-blank lines from 1. The wording after `Invalid JSON on line N:` is our
parser's (the live server prints serde's); the fidelity table says so.

`quick_check` is the upload's hot path: it validates a line with simdjson, reads only the fields the
rules look at, and accepts the common, valid request with a few cheap operations. Any other line
goes through `parse_line` and `check_request`, which apply the rules one by one, in order, and so
pick the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import simdjson

from mockserver.domain.nesting import MAX_DEPTH, TooDeep, loads
from mockserver.errors import BadRequest, Forbidden

MAX_CUSTOM_ID_BYTES = 64
CHAT_URLS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages"})
EMBEDDINGS_URLS = frozenset({"/v1/embeddings"})
_REQUIRED = ("custom_id", "method", "url", "body")
_STRING_FIELDS = ("custom_id", "method", "url")
_QUOTED_FIELD = re.compile(b'"(?:%s)"' % b"|".join(k.encode() for k in _REQUIRED))  # `"url"`, ...
# http's HeaderValue::from_str: visible ASCII, space, tab and bytes >= 0x80; no other controls, no DEL
_CUSTOM_ID_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_QUICK_MAX_LINE = 1 << 20  # longer lines take the full rules (and the parser's buffer stays small)


@dataclass(frozen=True)
class LineRules:
    allowed_url_paths: tuple[str, ...]
    model_kinds: Mapping[str, str]  # model name -> "chat" | "embeddings"
    max_body_size: int  # 0 means unlimited


def _describe(value: Any) -> str:
    """A JSON value as serde names it in `invalid type: ...` messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    return "sequence" if isinstance(value, list) else "map"


def _invalid_json(n: int, raw: bytes, detail: str) -> BadRequest:
    return BadRequest(f"Invalid JSON on line {n}: {detail} at line 1 column {len(raw)}")


def _may_repeat_a_field(raw: bytes) -> bool:
    """Cheap: whether a top-level field name could appear twice (only then is the exact check run)."""
    names = _QUOTED_FIELD.findall(raw)  # one pass over the line, not one per name
    return len(names) > len(set(names))


def _repeated_field(raw: bytes) -> str | None:
    """A request field the line's top-level object names twice (serde's derived struct refuses it;
    orjson would keep the last)."""
    if not _may_repeat_a_field(raw):
        return None
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        found.append("")  # marks one object; the top-level object is the last one closed
        names = [k for k, _ in items]
        found[-1] = next((k for k in _REQUIRED if names.count(k) > 1), "")
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    return found[-1] or None if found else None


def _custom_id_ok(custom_id: str) -> bool:
    # printable ASCII is the common case; isprintable() alone would also refuse TAB and some non-ASCII
    return (custom_id.isascii() and custom_id.isprintable()) or _CUSTOM_ID_FORBIDDEN.search(custom_id) is None


def parse_line(raw: bytes, n: int) -> dict[str, Any]:
    """Parse a stripped, non-blank line into the request object, or raise the live JSON error."""
    try:
        obj = loads(raw)
    except TooDeep as exc:
        raise _invalid_json(n, raw, exc.detail) from None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Invalid JSON on line {n}: {exc.msg}: line 1 column {exc.colno}") from None
    repeated = _repeated_field(raw)
    if repeated is not None:
        raise _invalid_json(n, raw, f"duplicate field `{repeated}`")
    if not isinstance(obj, dict):
        raise _invalid_json(n, raw, f"invalid type: {_describe(obj)}, expected struct OpenAIBatchRequest")
    for key in _STRING_FIELDS:
        if key in obj and not isinstance(obj[key], str):
            raise _invalid_json(n, raw, f"invalid type: {_describe(obj[key])}, expected a string")
    for key in _REQUIRED:
        if key not in obj:
            raise _invalid_json(n, raw, f"missing field `{key}`")
    return obj


def quick_check(rules: LineRules) -> Callable[[bytes], bool]:
    """A fast test for stripped, non-blank lines: True means `parse_line` and `check_request` pass
    the line; False decides nothing (run them for the verdict and the message).

    It validates the line with simdjson, which checks the whole document (UTF-8, escapes, numbers,
    structure) as strictly as orjson or stricter, and builds Python objects only for the few fields
    read. So it answers False, leaving the verdict to the full rules, wherever it could disagree
    with them: a name used twice at the top or `model` twice in the body (simdjson's `get` takes the
    first, the rules the last), more brackets than the nesting limit (simdjson allows 1,024 levels),
    and lines long enough for the body-size rule to need re-serialising. The parser is not
    thread-safe: each scanner makes its own check."""
    kinds = dict(rules.model_kinds)
    allowed = frozenset(rules.allowed_url_paths)
    # url -> the model kind it requires; other allowed urls take any configured model
    required = dict.fromkeys(CHAT_URLS, "chat") | dict.fromkeys(EMBEDDINGS_URLS, "embeddings")
    max_line = min(rules.max_body_size // 2, _QUICK_MAX_LINE) if rules.max_body_size else _QUICK_MAX_LINE
    parse = simdjson.Parser().parse
    json_object = simdjson.Object

    def ok(raw: bytes) -> bool:
        if raw[0] != 0x7B or len(raw) > max_line or raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
            return False  # not an object (simdjson would skip a BOM), too long, or maybe too deep
        try:
            doc = parse(raw)
        except Exception:  # any parser complaint means: let the full rules decide
            return False
        if type(doc) is not json_object:
            return False
        names = list(doc.keys())
        if len(names) != len(set(names)):
            return False
        custom_id, method, url, body = doc.get("custom_id"), doc.get("method"), doc.get("url"), doc.get("body")
        if type(custom_id) is not str or type(method) is not str or type(url) is not str or type(body) is not json_object:
            return False
        if list(body.keys()).count("model") != 1:
            return False
        model = body.get("model")
        if type(model) is not str:
            return False
        kind = kinds.get(model)
        return (
            kind is not None
            and url in allowed
            and required.get(url, kind) == kind
            and (method == "POST" or method.upper() == "POST")
            and (
                (custom_id.isascii() and len(custom_id) <= MAX_CUSTOM_ID_BYTES and custom_id.isprintable())
                or (len(custom_id.encode()) <= MAX_CUSTOM_ID_BYTES and _custom_id_ok(custom_id))
            )
        )

    return ok


def check_request(obj: Mapping[str, Any], n: int, rules: LineRules, raw_len: int) -> str:
    """Apply the line rules to a parsed request; return its model name."""
    custom_id: str = obj["custom_id"]
    # an ASCII string's length is its UTF-8 size; only others are encoded to measure them
    size = len(custom_id) if custom_id.isascii() else len(custom_id.encode())
    if size > MAX_CUSTOM_ID_BYTES:
        raise BadRequest(
            f"Line {n}: custom_id exceeds maximum length of {MAX_CUSTOM_ID_BYTES} characters (got {size})"
        )
    if not _custom_id_ok(custom_id):
        raise BadRequest(
            f"Line {n}: custom_id contains invalid characters: must be valid ASCII without control characters"
        )
    method: str = obj["method"]
    if method.upper() != "POST":
        raise BadRequest(f"Line {n}: Unsupported HTTP method '{method}'. Only POST is currently supported.")
    url: str = obj["url"]
    if url not in rules.allowed_url_paths:
        allowed = ", ".join(rules.allowed_url_paths)
        raise BadRequest(f"Line {n}: Unsupported URL path '{url}'. Allowed paths are: {allowed}")
    body = obj["body"]
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str):
        raise BadRequest(f"Line {n}: Missing 'model' field in request body")
    kind = rules.model_kinds.get(model)
    if kind is None:
        raise Forbidden(f"Line {n}: Model '{model}' has not been configured or is not available to user")
    expected = "chat" if url in CHAT_URLS else "embeddings" if url in EMBEDDINGS_URLS else kind
    if kind != expected:
        raise BadRequest(
            f"Line {n}: Model '{model}' is a {kind.upper()} model but endpoint '{url}' "
            f"requires a {expected.upper()} model"
        )
    # The live limit applies to the re-serialised body (priority removed). The raw line bounds it
    # closely, so only lines near the limit pay for re-serialising.
    if rules.max_body_size and raw_len * 2 > rules.max_body_size:
        size = len(orjson.dumps(normalised_body(body)))
        if size > rules.max_body_size:
            raise BadRequest(
                f"Line {n}: Request body is {size} bytes, which exceeds the maximum allowed size of "
                f"{rules.max_body_size} bytes"
            )
    return model


def normalised_body(body: Any) -> Any:
    """The body as stored: a `priority` key is removed (callers may not set it)."""
    if isinstance(body, dict) and "priority" in body:
        return {k: v for k, v in body.items() if k != "priority"}
    return body


def normalised_line(obj: Mapping[str, Any]) -> bytes:
    """The request as the input file's content returns it: compact, four keys in this order, priority
    removed, and the body's object keys sorted at every level (live re-serialises it through
    serde_json's `Value`, whose map is a BTreeMap)."""
    head = orjson.dumps({"custom_id": obj["custom_id"], "method": obj["method"], "url": obj["url"]})
    body = orjson.dumps(normalised_body(obj["body"]), option=orjson.OPT_SORT_KEYS)
    return head[:-1] + b',"body":' + body + b"}\n"

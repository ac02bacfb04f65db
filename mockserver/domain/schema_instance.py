"""Build a JSON value that is valid against a JSON Schema, deterministically.

`generate(schema, rng)` walks the schema and draws every choice from the `random.Random` it is
given, then checks the value with `jsonschema` (the draft the schema's `$schema` names, Draft
2020-12 by default; formats checked). It retries a few times and raises `SchemaNotSupported`
with a reason when it finds no valid value.

Keywords honoured while generating:
  type (one or a list, incl. "null"), enum, const, `true` / `{}` schemas,
  $ref (local: "#", "#/$defs/...", "#/definitions/..."; recursion capped), allOf (merged),
  anyOf / oneOf (one branch picked),
  properties, required (always generated; optional properties sometimes), additionalProperties
  (false, or a schema for required names not in properties), patternProperties (for required
  names), minProperties / maxProperties,
  items (a schema, or a list as in draft-07), prefixItems, additionalItems, minItems / maxItems,
  uniqueItems, contains,
  minLength / maxLength, pattern (regular expressions built from literals, classes, groups,
  alternation, quantifiers, anchors and lookaheads), format (date, date-time, time, email, uri,
  uri-reference, uuid, hostname, ipv4, ipv6),
  minimum / maximum / exclusiveMinimum / exclusiveMaximum / multipleOf (integer and number).
Strings, arrays and objects are not built longer than 10,000 (a larger minimum is refused).
Other keywords are not used to generate but are still enforced by the final validation.

Knows nothing of HTTP, clocks or models, and holds no mutable global state.
"""

from __future__ import annotations

import copy
import importlib
import math
import random
import re
import string
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import orjson
from jsonschema import validators
from jsonschema.exceptions import SchemaError, best_match

_ATTEMPTS = 8
_SOFT_DEPTH = 4  # deeper than this, generate as little as the schema allows (ends recursion)
_HARD_DEPTH = 32
_MAX_SIZE = 10_000  # longest string, array or object the generator will build
_WORDS = ("alpha", "blue", "cedar", "delta", "ember", "field", "green", "harbor", "iris", "jade",
          "kite", "lumen", "maple", "north", "ocean", "pine", "quartz", "river", "stone", "tide")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_COMBINATORS = ("$ref", "anyOf", "oneOf", "not", "if", "then", "else")
_FALLBACK_STRINGS = ("a", "abc", "ABC", "Abc", "abc123", "123", "0", "A1", "ab_cd", "ab-cd",
                     "2024-01-01", "user@example.com", "https://example.com")
_POOL = string.ascii_letters + string.digits + " _-.@"
_CATEGORIES: dict[str, Callable[[str], bool]] = {
    "CATEGORY_DIGIT": str.isdigit, "CATEGORY_NOT_DIGIT": lambda c: not c.isdigit(),
    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_",
    "CATEGORY_NOT_WORD": lambda c: not (c.isalnum() or c == "_"),
    "CATEGORY_SPACE": str.isspace, "CATEGORY_NOT_SPACE": lambda c: not c.isspace(),
}
_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date": lambda r: f"{r.randint(2000, 2030):04d}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
    "date-time": lambda r: f"{_FORMATS['date'](r)}T{_FORMATS['time'](r)}",
    "email": lambda r: f"{r.choice(_WORDS)}.{r.choice(_WORDS)}@example.com",
    "uri": lambda r: f"https://example.com/{r.choice(_WORDS)}/{r.choice(_WORDS)}",
    "uri-reference": lambda r: f"https://example.com/{r.choice(_WORDS)}",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "hostname": lambda r: f"{r.choice(_WORDS)}.example.com",
    "ipv4": lambda r: ".".join(str(r.randint(1, 254)) for _ in range(4)),
    "ipv6": lambda r: ":".join(f"{r.getrandbits(16):x}" for _ in range(8)),
}
try:
    _RE_PARSER: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - a Python without re._parser uses the fallback strings
    _RE_PARSER = None


class SchemaNotSupported(ValueError):
    """No valid instance could be produced; the message says why."""


def generate(schema: Mapping[str, Any] | bool, rng: random.Random) -> Any:
    """A value valid against `schema`, every random choice drawn from `rng`."""
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise SchemaNotSupported(f"invalid JSON Schema: {exc.message}") from None
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    reason = "no valid instance found"
    for _ in range(_ATTEMPTS):
        try:
            value = _Generator(schema, rng).any(schema, 0)
        except SchemaNotSupported as exc:
            reason = str(exc)
            continue
        except (TypeError, ValueError, LookupError, AttributeError, re.error) as exc:  # odd schemas
            reason = f"{type(exc).__name__}: {exc}"
            continue
        except RecursionError:
            reason = "the schema nests too deeply"
            continue
        error = best_match(validator.iter_errors(value))
        if error is None:
            return copy.deepcopy(value)  # share nothing with the schema (enum / const values)
        reason = f"generated value fails at {error.json_path}: {error.message}"
    raise SchemaNotSupported(reason)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_size(size: int) -> int:
    if size > _MAX_SIZE:
        raise SchemaNotSupported(f"a minimum size of {size} is more than the simulator builds ({_MAX_SIZE})")
    return size


def _types(value: Any) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def _merge(base: dict[str, Any], extra: Mapping[str, Any] | bool) -> dict[str, Any]:
    """The schema `base` AND `extra`, for the simple cases (conflicts are left to validation)."""
    if extra is True:
        return base
    if extra is False:
        raise SchemaNotSupported("a `false` schema admits no value")
    out = dict(base)
    for key, value in extra.items():
        mine: Any = out.get(key)
        if key not in out:
            out[key] = value
        elif key == "properties":
            out[key] = {**mine, **{k: {"allOf": [mine[k], v]} if k in mine else v for k, v in value.items()}}
        elif key == "required":
            out[key] = list(dict.fromkeys([*mine, *value]))
        elif key in _LOWER or key in _UPPER:
            out[key] = max(mine, value) if key in _LOWER else min(mine, value)
        elif key == "type":
            a, b = _types(mine), _types(value)
            both = a & b | ({"integer"} if "number" in a and "integer" in b else set())
            both |= {"integer"} if "integer" in a and "number" in b else set()
            if not both:
                raise SchemaNotSupported("allOf branches share no type")
            out[key] = sorted(both)
        elif key == "enum":
            out[key] = [v for v in mine if v in value]
        elif key == "allOf":
            out[key] = [*mine, *value]
        elif key in _COMBINATORS:
            out["allOf"] = [*out.get("allOf", []), {key: value}]
        else:
            out[key] = value
    return out


class _Generator:
    def __init__(self, root: Mapping[str, Any] | bool, rng: random.Random) -> None:
        self.root, self.rng = root, rng
        self.kinds: dict[str, Callable[[dict[str, Any], int], Any]] = {
            "object": self._object, "array": self._array, "string": self._string,
            "integer": self._integer, "number": self._number,
            "boolean": lambda s, d: self.rng.random() < 0.5, "null": lambda s, d: None,
        }

    def any(self, schema: Any, depth: int) -> Any:
        if depth > _HARD_DEPTH:
            raise SchemaNotSupported("recursion too deep ($ref cycle with no way out)")
        if schema is False:
            raise SchemaNotSupported("a `false` schema admits no value")
        s = self._flatten(schema if isinstance(schema, Mapping) else {}, depth)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            if not s["enum"]:
                raise SchemaNotSupported("an empty enum admits no value")
            return self.rng.choice(s["enum"])
        if "type" in s:
            types = sorted(_types(s["type"]))
            kind = "null" if depth >= _SOFT_DEPTH and "null" in types else self.rng.choice(types)
        else:
            kind = self._infer(s)
        if kind not in self.kinds:
            raise SchemaNotSupported(f"unknown type {kind!r}")
        return self.kinds[kind](s, depth)

    def _infer(self, s: Mapping[str, Any]) -> str:
        for kind, keys in (("object", ("properties", "required", "additionalProperties", "minProperties")),
                           ("array", ("items", "prefixItems", "minItems", "maxItems", "contains")),
                           ("string", ("minLength", "maxLength", "pattern", "format")),
                           ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                       "multipleOf"))):
            if any(k in s for k in keys):
                return kind
        return self.rng.choice(("string", "integer", "boolean"))

    def _flatten(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        """Resolve $ref, allOf, anyOf and oneOf at the top of `schema` into one plain schema."""
        s = dict(schema)
        for _ in range(_HARD_DEPTH):
            if "$ref" in s:
                s = _merge(s, self._resolve(s.pop("$ref")))
            elif "allOf" in s:
                for part in s.pop("allOf"):
                    s = _merge(s, part)
            elif "anyOf" in s or "oneOf" in s:
                branches = s.pop("anyOf" if "anyOf" in s else "oneOf")
                if not branches:
                    raise SchemaNotSupported("an empty anyOf/oneOf admits no value")
                if depth >= _SOFT_DEPTH:  # prefer a branch that does not recurse
                    branch = min(branches, key=lambda b: isinstance(b, Mapping) and (
                        "$ref" in b or bool(_types(b.get("type", [])) & {"object", "array"})))
                else:
                    branch = self.rng.choice(branches)
                s = _merge(s, branch)
            else:
                return s
        raise SchemaNotSupported("$ref / allOf chain is too long")

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise SchemaNotSupported(f"only local $ref are supported, not {ref!r}")
        node: Any = self.root
        for token in (ref[1:].lstrip("/").split("/") if ref[1:] else []):
            token = unquote(token).replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaNotSupported(f"unresolvable $ref {ref!r}")
        return node

    def _object(self, s: dict[str, Any], depth: int) -> dict[str, Any]:
        props: Mapping[str, Any] = s.get("properties", {})
        required = list(dict.fromkeys(s.get("required", [])))
        extra = s.get("additionalProperties", True)
        optional = [k for k in props if k not in required]
        chosen = [k for k in optional if depth < _SOFT_DEPTH and self.rng.random() < 0.5]
        spare = [k for k in optional if k not in chosen]
        names = required + chosen
        _check_size(s.get("minProperties", 0))
        while len(names) < s.get("minProperties", 0) and (spare or extra is not False):
            names.append(spare.pop(0) if spare else f"extra_{len(names)}")
        while len(names) > s.get("maxProperties", len(names)) and chosen:
            names.remove(chosen.pop())
        out = {}
        for name in [k for k in props if k in names] + [k for k in names if k not in props]:
            sub = props.get(name)
            if sub is None:
                sub = next((v for p, v in s.get("patternProperties", {}).items() if re.search(p, name)),
                           True if extra is False else extra)
            out[name] = self.any(sub, depth + 1)
        return out

    def _array(self, s: dict[str, Any], depth: int) -> list[Any]:
        prefix, items = s.get("prefixItems", []), s.get("items", True)
        if isinstance(items, list):  # draft-07 tuple form
            prefix, items = items, s.get("additionalItems", True)
        lo, hi = _check_size(s.get("minItems", 0)), s.get("maxItems")
        base = max(lo, len(prefix) if hi is None else min(len(prefix), hi))
        top = base + 3 if hi is None else hi
        if items is False:
            top = min(top, len(prefix))
        n = base if depth >= _SOFT_DEPTH else self.rng.randint(base, max(base, min(top, base + 3)))
        out: list[Any] = []
        seen: set[bytes] = set()
        for _ in range(5 * n + 10):
            if len(out) >= n:
                break
            value = self.any(prefix[len(out)] if len(out) < len(prefix) else items, depth + 1)
            key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
            if s.get("uniqueItems") and key in seen:
                continue
            seen.add(key)
            out.append(value)
        if "contains" in s:
            value = self.any(s["contains"], depth + 1)
            if out and len(out) >= top:
                out[-1] = value
            else:
                out.append(value)
        return out

    def _string(self, s: dict[str, Any], depth: int) -> str:
        lo, hi = _check_size(s.get("minLength", 0)), s.get("maxLength")
        pattern, fmt = s.get("pattern"), s.get("format")
        text = ""
        for _ in range(20):
            if pattern is not None:
                text = self._pattern(pattern)
            elif fmt in _FORMATS:
                text = _FORMATS[fmt](self.rng)
            else:
                text = self._text(lo, hi)
            if lo <= len(text) and (hi is None or len(text) <= hi):
                break
        return text

    def _text(self, lo: int, hi: int | None) -> str:
        want = self.rng.randint(lo, min(hi, lo + 40)) if hi is not None else lo
        words = [self.rng.choice(_WORDS) for _ in range(self.rng.randint(1, 3))]
        size = len(" ".join(words))
        while size < want:
            words.append(self.rng.choice(_WORDS))
            size += 1 + len(words[-1])
        text = " ".join(words)
        if hi is not None:
            text = text[:want]
            text = text[:-1] + "s" if text.endswith(" ") else text
        return text

    def _pattern(self, pattern: str) -> str:
        if _RE_PARSER is not None:
            try:
                out: list[str] = []
                self._emit(_RE_PARSER.parse(pattern), out)
                if re.search(pattern, "".join(out)):
                    return "".join(out)
            except (SchemaNotSupported, re.error, ValueError, TypeError):
                pass
        for candidate in _FALLBACK_STRINGS:
            if re.search(pattern, candidate):
                return candidate
        raise SchemaNotSupported(f"cannot produce a string matching pattern {pattern!r}")

    def _emit(self, items: Any, out: list[str]) -> None:
        """Append a string matching the parsed regular expression `items` (re._parser form)."""
        for op, av in items:
            name = op.name
            if name == "LITERAL":
                out.append(chr(av))
            elif name == "NOT_LITERAL":
                out.append("x" if av != ord("x") else "y")
            elif name == "ANY":
                out.append(self.rng.choice(string.ascii_lowercase))
            elif name == "IN":
                out.append(self._char_in(av))
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, high, sub = _check_size(av[0]), av[1], av[2]
                for _ in range(self.rng.randint(low, max(low, min(high, low + 3)))):
                    self._emit(sub, out)
            elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
                self._emit(av[-1] if name == "SUBPATTERN" else av, out)
            elif name == "BRANCH":
                self._emit(self.rng.choice(av[1]), out)
            elif name == "ASSERT" and av[0] == 1:  # lookahead: emit what it looks for (checked later)
                self._emit(av[1], out)
            elif name == "ASSERT_NOT":
                pass
            elif name != "AT":
                raise SchemaNotSupported(f"regular expression feature {name} is not supported")

    def _char_in(self, items: Any) -> str:
        negate = bool(items) and items[0][0].name == "NEGATE"
        rest = items[1:] if negate else items

        def member(c: str) -> bool:
            return any((op.name == "LITERAL" and ord(c) == av)
                       or (op.name == "RANGE" and av[0] <= ord(c) <= av[1])
                       or (op.name == "CATEGORY" and av.name in _CATEGORIES and _CATEGORIES[av.name](c))
                       for op, av in rest)

        pool = list(_POOL)
        if not negate:
            pool += [chr(av) for op, av in rest if op.name == "LITERAL"]
            pool += [chr(av[0]) for op, av in rest if op.name == "RANGE"]
        fits = [c for c in pool if member(c) != negate]
        if not fits:
            raise SchemaNotSupported("cannot produce a character for a class in pattern")
        return self.rng.choice(fits)

    def _integer(self, s: dict[str, Any], depth: int) -> int:
        lo, hi = self._bounds(s, True)
        step = s.get("multipleOf")
        if step is None:
            return self.rng.randint(int(lo), int(hi))
        step = next((i * step for i in range(1, 1001) if float(i * step).is_integer()), None)
        if not step:
            raise SchemaNotSupported(f"no integer is a multiple of {s['multipleOf']}")
        step = int(step)
        k_lo, k_hi = -(-int(lo) // step), int(hi) // step
        if k_lo > k_hi:
            raise SchemaNotSupported(f"no multiple of {step} lies in [{lo}, {hi}]")
        return self.rng.randint(k_lo, k_hi) * step

    def _number(self, s: dict[str, Any], depth: int) -> float | int:
        lo, hi = self._bounds(s, False)
        step = s.get("multipleOf")
        if step is None:
            value = self.rng.uniform(lo, hi)
            rounded = round(value, 2)
            return rounded if lo <= rounded <= hi else value
        if float(step).is_integer():
            return self._integer(s, depth)
        k_lo, k_hi = math.ceil(lo / step), math.floor(hi / step)
        for _ in range(10):
            value = round(self.rng.randint(k_lo, k_hi) * step, 12) if k_lo <= k_hi else 0.0
            if lo <= value <= hi and (value / step).is_integer():
                return value
        raise SchemaNotSupported(f"no multiple of {step} found in [{lo}, {hi}]")

    @staticmethod
    def _bounds(s: Mapping[str, Any], integer: bool) -> tuple[float, float]:
        lows: list[float] = [math.ceil(s["minimum"]) if integer else s["minimum"]] if "minimum" in s else []
        highs: list[float] = [math.floor(s["maximum"]) if integer else s["maximum"]] if "maximum" in s else []
        if _is_number(s.get("exclusiveMinimum")):
            x = s["exclusiveMinimum"]
            lows.append(math.floor(x) + 1 if integer else math.nextafter(x, math.inf))
        if _is_number(s.get("exclusiveMaximum")):
            x = s["exclusiveMaximum"]
            highs.append(math.ceil(x) - 1 if integer else math.nextafter(x, -math.inf))
        lo = max(lows) if lows else (min(highs) - 100 if highs else 0)
        hi = min(highs) if highs else lo + 100
        if lo > hi:
            raise SchemaNotSupported(f"empty numeric range [{lo}, {hi}]")
        return lo, hi

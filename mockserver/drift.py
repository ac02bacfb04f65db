"""Drift check: record what a contract run saw, and compare two records (live vs simulator).

A record lists, per test and in call order, each HTTP exchange reduced to what must match between
the live service and the simulator: method, path (ids masked), status, content type, the live
headers that matter, and the body's shape (object keys and value types, recursively; ids, times and
text not compared). `pytest contract_tests --target live --record live.json` and
`pytest contract_tests --target http --record sim.json`, then `python -m mockserver.drift live.json sim.json`
prints where they differ.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
HEADERS = ("content-type", "x-incomplete", "x-last-line", "retry-after")


def shape(value: Any) -> Any:
    """A JSON value's shape: keys kept, leaves replaced by their type name."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "string"


def exchange(response: httpx.Response) -> dict[str, Any]:
    request = response.request
    path = _ID.sub("{id}", request.url.path).replace("/ai/v1/", "/v1/")
    ctype = response.headers.get("content-type", "")
    body: Any
    if "json" in ctype and "ndjson" not in ctype:
        try:
            body = shape(orjson.loads(response.content))
        except orjson.JSONDecodeError:
            body = "unparseable json"
    elif "ndjson" in ctype:
        lines = [orjson.loads(line) for line in response.content.splitlines() if line.strip()]
        body = {"lines": [shape(lines[0])] if lines else []}
    else:
        body = "text" if response.content else "empty"
    headers = {h: ("present" if h == "x-last-line" else response.headers[h]) for h in HEADERS if h in response.headers}
    return {"call": f"{request.method} {path}", "status": response.status_code, "headers": headers, "body": body}


def without_target(nodeid: str) -> str:
    """A test's id without its target parameter (`test_x[asgi-3]` -> `test_x[3]`, `test_y[live]` -> `test_y`)."""
    named = re.sub(r"(?<=[\[-])(asgi|http|live)(-|(?=\]))", "", nodeid)
    return named.replace("-]", "]").replace("[]", "")


class Recorder:
    """Collects exchanges per test; attach `hook` as an httpx response event hook."""

    def __init__(self) -> None:
        self.current = "(outside tests)"
        self.calls: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def hook(self, response: httpx.Response) -> None:
        response.read()
        self.calls[self.current].append(exchange(response))

    def test_started(self, nodeid: str) -> None:
        self.current = without_target(nodeid)

    def write(self, path: Path) -> None:
        path.write_bytes(orjson.dumps(self.calls, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def compare(a: dict[str, list[dict[str, Any]]], b: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Differences between two records, as readable lines (empty when they agree)."""
    out = []
    for test in sorted(set(a) | set(b)):
        if test not in a or test not in b:
            out.append(f"{test}: only in {'the first' if test in a else 'the second'} record")
            continue
        for n, (x, y) in enumerate(zip(a[test], b[test], strict=False)):
            for key in ("call", "status", "headers", "body"):
                if x[key] != y[key]:
                    out.append(f"{test} #{n} {x['call']}: {key} {x[key]!r} != {y[key]!r}")
        if len(a[test]) != len(b[test]):
            out.append(f"{test}: {len(a[test])} calls != {len(b[test])} calls")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m mockserver.drift FIRST.json SECOND.json", file=sys.stderr)
        return 2
    first, second = (orjson.loads(Path(p).read_bytes()) for p in args)
    differences = compare(first, second)
    for line in differences:
        print(line)
    print(f"{len(differences)} difference(s)")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())

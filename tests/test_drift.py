"""The drift check: records reduce exchanges to shapes, and comparing two records finds differences."""

from __future__ import annotations

import httpx

from mockserver.drift import Recorder, compare, shape, without_target


def _response(status: int, body: bytes, ctype: str, path: str = "/v1/files/0b7e8a2c-1a5e-4f6e-9d0c-6f1f2c3d4e5f") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": ctype},
                          request=httpx.Request("GET", "http://x" + path))


def _record(*responses: httpx.Response) -> dict[str, list[dict[str, object]]]:
    recorder = Recorder()
    recorder.test_started("contract_tests/test_a.py::test_one[live]")
    for response in responses:
        recorder.hook(response)
    return dict(recorder.calls)


def test_shapes_keep_keys_and_types_only() -> None:
    assert shape({"b": [1, 2], "a": {"x": None, "y": "s", "z": True}}) == {
        "a": {"x": "null", "y": "string", "z": "bool"}, "b": ["number"]}


def test_target_names_are_dropped_from_test_ids() -> None:
    assert without_target("t.py::test_x[asgi-3]") == "t.py::test_x[3]"
    assert without_target("t.py::test_x[p-http]") == "t.py::test_x[p]"
    assert without_target("t.py::test_y[live]") == "t.py::test_y"


def test_identical_runs_agree_even_with_other_ids_and_values() -> None:
    a = _record(_response(200, b'{"id": "a", "bytes": 3}', "application/json"))
    b = _record(_response(200, b'{"id": "b", "bytes": 9}', "application/json",
                          path="/ai/v1/files/11111111-2222-4333-8444-555555555555"))
    assert compare(a, b) == []


def test_differences_in_status_body_shape_and_headers_are_reported() -> None:
    live = _record(_response(404, b"File with ID x not found", "text/plain; charset=utf-8"),
                   _response(200, b'{"id": "a", "expires_at": 1}', "application/json"))
    sim = _record(_response(400, b"Invalid", "text/plain; charset=utf-8"),
                  _response(200, b'{"id": "a"}', "application/json"))
    found = compare(live, sim)
    assert any("status 404 != 400" in line for line in found)
    assert any("body" in line and "expires_at" in line for line in found)
    assert compare(live, {}) == ["contract_tests/test_a.py::test_one: only in the first record"]

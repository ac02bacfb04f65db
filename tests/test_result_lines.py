"""Unit tests of the output and error file lines: the live shapes, and held right-sized (a plan
keeps every line of a batch in memory until it is saved)."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable

import pytest

from mockserver.domain.result_lines import error_line, expired_line, output_line

BYTES_OVERHEAD = sys.getsizeof(b"")  # a bytes object's header, beyond its content


def test_output_line_has_the_live_shape() -> None:
    line = output_line("r-1", "c-1", 200, {"choices": [], "text": "é"})
    assert line == (
        b'{"id":"batch_req_r-1","custom_id":"c-1","response":{"status_code":200,"request_id":null,'
        b'"body":{"choices":[],"text":"\xc3\xa9"}},"error":null}\n'
    )


def test_error_line_has_the_live_shape() -> None:
    line = error_line("r-2", "c-2", {"type": "NonRetriableHttpStatus", "details": {"status": 400, "body": "no"}})
    assert line == (
        b'{"id":"batch_req_r-2","custom_id":"c-2","response":null,"error":{"code":null,"message":'
        b'"{\\"type\\":\\"NonRetriableHttpStatus\\",\\"details\\":{\\"status\\":400,\\"body\\":\\"no\\"}}"}}\n'
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: output_line("r", "c", 200, {"text": "x" * 500}),
        lambda: error_line("r", "c", {"type": "Timeout", "details": {"error": "late"}}),
        lambda: expired_line("r", "c"),
    ],
)
def test_lines_are_held_right_sized(make: Callable[[], bytes]) -> None:
    # orjson's own result keeps its write buffer: 4 KiB and more for a line of a few hundred bytes
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        line = make()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= BYTES_OVERHEAD + len(line) + 64

"""A batch or prompts file that is not UTF-8 (issue #21): the line, the byte and its column."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from client import BatchFileError
from client.batchfile import chat_request, encode_line, parse_jsonl
from client.cli import main

GOOD = encode_line(chat_request("a", "hello"))


def run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(["--base-url", "http://127.0.0.1:9/v1", "--api-key", "k", *argv], stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def test_parse_names_the_line_byte_and_column() -> None:
    bad = b'{"x":"\xe9t"}\n'  # a Latin-1 é: byte 0xe9 at column 7
    with pytest.raises(BatchFileError) as raised:
        parse_jsonl(GOOD + b"\n" + GOOD + b'{"custom_id":"\xff"}\n')  # the blank line is not counted
    assert str(raised.value) == "line 3: not UTF-8 (byte 0xff at column 15); the file must be UTF-8"
    with pytest.raises(BatchFileError, match=r"^line 1: not UTF-8 \(byte 0xe9 at column 7\)"):
        parse_jsonl(bad)
    with pytest.raises(BatchFileError, match=r"^line 1: not UTF-8 \(byte 0xff at column 8\)"):
        parse_jsonl('{"x":"é'.encode() + b'\xff"}\n')


@pytest.mark.parametrize("command", ["submit", "estimate"])
def test_submit_and_estimate_refuse_it_with_that_message(command: str, tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(GOOD + GOOD + encode_line(chat_request("c", "café")).replace("é".encode(), b"\xe9"))
    code, err = run(command, str(path))
    assert code == 2
    column = encode_line(chat_request("c", "caf")).index(b"caf") + 4
    assert err == f"error: line 3: not UTF-8 (byte 0xe9 at column {column}); the file must be UTF-8\n"
    assert "surrogates" not in err and "invalid JSON" not in err


def test_make_refuses_a_prompts_file_that_is_not_utf8(tmp_path: Path) -> None:
    prompts = tmp_path / "q.txt"
    prompts.write_bytes(b"first question\nsecond \x93quoted\x94 question\n")
    code, err = run("make", str(prompts))
    assert code == 2 and err == "error: line 2: not UTF-8 (byte 0x93 at column 8); the file must be UTF-8\n"
    table = tmp_path / "q.csv"
    table.write_bytes(b"\xef\xbb\xbfprompt\nfine\nna\xefve\n")
    code, err = run("make", str(table))
    assert code == 2 and "line 3: not UTF-8 (byte 0xef at column 3)" in err

"""Local batch-file helpers: building lines from prompts, the service's rules, splitting over the limits,
retry files from error files, and resumable local downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from client import BatchFileError, Limits, chat_request, split_lines
from client.batchfile import check_file, check_line, parse_jsonl
from client.download import FileSink, complete_lines
from client.models import ResultLine
from client.prompts import id_prefix, read_prompts
from client.retryfile import retry_lines


def test_chat_request_shape() -> None:
    line = chat_request("geo-row-1", "Capital of France?", system="Be brief.", max_tokens=50)
    assert line == {"custom_id": "geo-row-1", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8", "max_tokens": 50,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]}}


@pytest.mark.parametrize(("change", "message"), [
    ({"custom_id": "x" * 65}, "65 bytes"),
    ({"custom_id": "é" * 33}, "66 bytes"),
    ({"custom_id": "a\nb"}, "control characters"),
    ({"custom_id": 7}, "must be a string"),
    ({"method": "GET"}, "unsupported method"),
    ({"url": "/v1/moderations"}, "unsupported url"),
    ({"body": {"messages": []}}, "string `model`"),
    ({"body": {"model": "m", "input": "x" * 200}}, "over the maximum of 100"),
])
def test_line_rules(change: dict[str, Any], message: str) -> None:
    line = {**chat_request("ok", "hi"), **change}
    with pytest.raises(BatchFileError, match=message) as caught:
        check_line(line, 3, Limits(max_body_bytes=100))
    assert str(caught.value).startswith("line 3:")


def test_missing_field_and_lowercase_post() -> None:
    with pytest.raises(BatchFileError, match="missing field `body`"):
        check_line({"custom_id": "a", "method": "POST", "url": "/v1/embeddings"}, 1)
    check_line({**chat_request("a", "b"), "method": "post"}, 1)


def test_file_limits_and_duplicates() -> None:
    lines = [chat_request(f"id-{i}", "hi") for i in range(5)]
    assert check_file(lines).count(b"\n") == 5
    with pytest.raises(BatchFileError, match="over the maximum of 4 per file"):
        check_file(lines, Limits(max_requests=4))
    with pytest.raises(BatchFileError, match="bytes, over the maximum of 200 per file"):
        check_file(lines, Limits(max_file_bytes=200))
    with pytest.raises(BatchFileError, match="repeats line 1"):
        check_file([lines[0], lines[1], lines[0]])
    assert check_file([lines[0], lines[0]], unique_ids=False)
    with pytest.raises(BatchFileError, match="no requests"):
        check_file([])


def test_split_over_count_and_size() -> None:
    lines = [chat_request(f"id-{i}", "x" * (i % 3) * 40) for i in range(30)]
    one = len(orjson.dumps(lines[2])) + 1
    limits = Limits(max_requests=7, max_file_bytes=one * 4)
    files = split_lines(lines, limits)
    assert len(files) > 30 // 7
    parsed = [parse_jsonl(f) for f in files]
    assert [line for part in parsed for line in part] == lines  # every line once, in order
    assert all(len(part) <= 7 and len(f) <= one * 4 for part, f in zip(parsed, files, strict=True))
    assert len(split_lines(lines)) == 1


def test_parse_jsonl_counts_non_blank_lines() -> None:
    assert parse_jsonl(b'{"a":1}\n\n  \n{"b":2}') == [{"a": 1}, {"b": 2}]
    with pytest.raises(BatchFileError, match="line 2: invalid JSON"):
        parse_jsonl(b'{"a":1}\n\n{oops\n')


def test_prompts_from_text_and_csv(tmp_path: Path) -> None:
    text = tmp_path / "my questions.txt"
    text.write_text("What is 2+2?\n\nName a colour.\n")
    assert [(p.custom_id, p.text) for p in read_prompts(text)] == [
        ("my-questions-row-1", "What is 2+2?"), ("my-questions-row-3", "Name a colour.")]
    table = tmp_path / "data.csv"
    table.write_text('id,Prompt,extra\nu1,"multi\nline",x\n,second,y\n')
    assert [(p.custom_id, p.text) for p in read_prompts(table)] == [("u1", "multi\nline"), ("data-row-2", "second")]
    assert [p.text for p in read_prompts(table, column="extra")] == ["x", "y"]
    assert len(id_prefix("x" * 100 + ".csv")) <= 48


def test_retry_lines_pick_the_failed_requests() -> None:
    inputs = [chat_request(f"r-{i}", f"q{i}") for i in range(6)]
    errors = [{"id": "batch_req_1", "custom_id": "r-4", "response": None, "error": {"code": None, "message": "x"}},
              {"id": "batch_req_2", "custom_id": "r-1", "response": None, "error": {"code": None, "message": "y"}}]
    assert retry_lines(inputs, errors) == [inputs[1], inputs[4]]
    with pytest.raises(BatchFileError, match="not in the input file: zz"):
        retry_lines(inputs, [{"custom_id": "zz"}])
    twice = [inputs[0], {**inputs[0], "body": {"model": "other"}}]
    assert retry_lines(twice, [{"custom_id": "r-0"}]) == [inputs[0]]


def test_file_sink_resumes_after_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"n":1}\n{"n":2}\n{"n":')  # a run killed mid-write
    assert complete_lines(path) == 2
    assert path.read_bytes() == b'{"n":1}\n{"n":2}\n'
    sink = FileSink(path)
    assert sink.position == 2
    sink.append(ResultLine(position=p, raw=f'{{"n":{p}}}', data={}) for p in (3, 4))
    assert sink.position == 4 and path.read_text().splitlines()[-1] == '{"n":4}'
    assert FileSink(path, fresh=True).position == 0 and path.read_bytes() == b""

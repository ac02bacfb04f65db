"""Unit tests of the upload's line checks: the fast paths agree with the full rules, and a streamed
upload stores the same bytes, spans and errors however its body is cut into chunks."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.domain import upload as upload_module
from mockserver.domain.upload import Upload
from mockserver.domain.validation import LineRules, _custom_id_ok, check_request, parse_line, quick_check
from mockserver.errors import ApiError, StorageFull
from mockserver.store import Store

CHAT_MODEL = "chat-model"
EMBED_MODEL = "embed-model"
RULES = LineRules(
    allowed_url_paths=("/v1/chat/completions", "/v1/embeddings", "/v1/other"),
    model_kinds={CHAT_MODEL: "chat", EMBED_MODEL: "embeddings"},
    max_body_size=400,
)


def request(**fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "custom_id": "req-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": CHAT_MODEL, "messages": []},
    }
    obj.update(fields)
    return obj


def line(**fields: Any) -> bytes:
    return orjson.dumps(request(**fields))


def full_check(raw: bytes) -> str | None:
    """The message the full rules give for a stripped line, or None if it passes."""
    try:
        check_request(parse_line(raw, 1), 1, RULES, len(raw))
    except ApiError as exc:
        return exc.message
    return None


# -- custom_id characters ---------------------------------------------------------------------------
def _custom_id_ok_by_definition(custom_id: str) -> bool:
    return all(ch == "\t" or (" " <= ch != "\x7f") for ch in custom_id)


def test_custom_id_characters_match_the_definition() -> None:
    chars = [chr(cp) for cp in [*range(0x3000), 0xFEFF, 0xFFFD, 0x1F600, 0x10FFFF]]
    for ch in chars:
        for custom_id in (ch, f"id-{ch}-x", f"{ch}é"):
            assert _custom_id_ok(custom_id) == _custom_id_ok_by_definition(custom_id), repr(custom_id)


def test_custom_id_length_counts_utf8_bytes() -> None:
    assert full_check(line(custom_id="é" * 32)) is None
    assert full_check(line(custom_id="é" * 33)) == (
        "Line 1: custom_id exceeds maximum length of 64 characters (got 66)"
    )
    assert full_check(line(custom_id="x" * 65)) == (
        "Line 1: custom_id exceeds maximum length of 64 characters (got 65)"
    )


# -- quick check against the full rules -------------------------------------------------------------
COMMON = [
    line(),
    line(custom_id="x" * 64),
    line(custom_id="a b~!"),
    line(url="/v1/embeddings", body={"model": EMBED_MODEL, "input": "hi"}),
    line(url="/v1/other", body={"model": EMBED_MODEL}),
    line(body={"model": CHAT_MODEL, "text": "naïve 東京 😀"}),
]
def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


UNCOMMON = [  # valid, or not; the quick check may answer either way but never wrongly True
    line(body={"model": CHAT_MODEL, "parts": [{"url": "https://example.com"}]}),  # "url" twice, not at the top
    line(body={"model": CHAT_MODEL, "deep": nested(125)}),  # 127 levels: the limit
    line(extra=nested(126)),
    line(custom_id="a\tb"),
    line(custom_id="é" * 32),
    line(custom_id="😀" * 17),
    line(method="post"),
    line(body={"model": CHAT_MODEL, "pad": "x" * 250}),  # near the body-size limit
    line(body={"model": CHAT_MODEL, "priority": 1, "pad": "x" * 390}),
    line(body={"model": CHAT_MODEL, "n": 1}).replace(b'"n":1', b'"n":123456789012345678901234567890'),  # > 64 bits
    line(body={"model": CHAT_MODEL, "many": [{} for _ in range(130)]}),  # many brackets, 3 levels
    line(extra=1)[:-1] + b',"extra":2}',  # a name twice that is not a request field
    line(body={"model": CHAT_MODEL, "x": 1})[:-2] + b',"x":2}}',  # a body name twice: the last counts
    line(body={"model": "unknown", "x": 1})[:-2] + b',"model":"chat-model"}}',  # valid: the last `model` counts
    line(body={"model": CHAT_MODEL, "t": "X"}).replace(b'"X"', rb'"\u00e9\ud83d\ude00 \" / \\ \n"'),  # escapes
]
INVALID = [
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"{}",
    b'{"a":"\xff"}',
    line(custom_id=5),
    line(custom_id="x" * 65),
    line(custom_id="é" * 33),
    line(custom_id="a\nb"),
    line(custom_id="a\x7f"),
    line(method="GET"),
    line(method=None),
    line(url="/v1/nope"),
    line(url=["/v1/chat/completions"]),
    line(url="/v1/embeddings"),
    line(body={"model": EMBED_MODEL}),
    line(body={"model": "unknown"}),
    line(body={"model": 3}),
    line(body={}),
    line(body=[]),
    line(body=None),
    line(body={"model": CHAT_MODEL, "pad": "x" * 500}),
    b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions"}',
    b'{"custom_id":"a","custom_id":7,"method":"POST","url":"/v1/chat/completions","body":{"model":"chat-model"}}',
    line()[:-1] + b',"url":"/v1/chat/completions"}',  # a field named twice
    line(body={"model": CHAT_MODEL, "deep": nested(126)}),  # 128 levels
    line(extra=nested(127)),
    b"\xef\xbb\xbf" + line(),  # a BOM (simdjson would skip it; live does not)
    line(body={"model": CHAT_MODEL, "x": 1})[:-2] + b',"model":"unknown"}}',  # `model` twice: the last counts
    line(body={"model": "unknown", "x": 1})[:-2] + b',"model":3}}',
    line(body={"model": CHAT_MODEL, "x": 1})[:-3] + b'1e400}}',  # out of range for a double
    line(body={"model": CHAT_MODEL, "x": "ab"}).replace(b"ab", b"a\xffb"),  # not UTF-8 in a field no rule reads
    line(body={"model": CHAT_MODEL, "x": "ab"}).replace(b"ab", b"\\ud800"),  # a lone surrogate escape
    line(body={"model": CHAT_MODEL, "x": "ab"}).replace(b"ab", b"\\q"),  # no such escape
    line(body={"model": CHAT_MODEL, "x": "ab"}).replace(b"ab", b"a\x01b"),  # a control character
    line(body={"model": CHAT_MODEL, "x": [1]}).replace(b"[1]", b"[1,]"),
    line(body={"model": CHAT_MODEL, "x": 1}).replace(b":1}", b":01}"),
    line() + b"{}",
]


@pytest.mark.parametrize("raw", COMMON)
def test_quick_check_passes_common_requests(raw: bytes) -> None:
    assert full_check(raw) is None
    assert quick_check(RULES)(raw)


@pytest.mark.parametrize("raw", COMMON + UNCOMMON + INVALID)
def test_quick_check_never_passes_what_the_rules_refuse(raw: bytes) -> None:
    if quick_check(RULES)(raw):
        assert full_check(raw) is None


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_lines_are_refused(raw: bytes) -> None:
    assert full_check(raw) is not None
    assert not quick_check(RULES)(raw)


UNLIMITED = LineRules(RULES.allowed_url_paths, RULES.model_kinds, max_body_size=0)


@pytest.mark.parametrize("raw", [line(body={"model": CHAT_MODEL, "deep": nested(126)}), line(extra=nested(127))])
def test_quick_check_never_passes_too_deep_a_line(raw: bytes) -> None:
    # 128 levels: serde_json's limit refuses them, simdjson's (1,024) would not
    with pytest.raises(ApiError, match="recursion limit exceeded"):
        parse_line(raw, 1)
    assert not quick_check(UNLIMITED)(raw)
    assert quick_check(UNLIMITED)(line(body={"model": CHAT_MODEL, "deep": nested(125)}))  # 127 levels pass


# Bytes that change what a JSON parser accepts: structure, escapes, numbers, broken or odd UTF-8,
# controls, whitespace JSON does not allow, a BOM, and literals.
_TRICKY = [
    b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"0", b"-", b"e", b".", b"\\u", b"\\ud800", b"\\udc00",
    b"\\uD83D\\uDE00", b"\\u0000", b"\\/", b"\xff", b"\xc3", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\xf0\x9f\x98", b"\xe2\x80\xa8", b"\xef\xbb\xbf", b"\x00", b"\x1f", b"\x7f", b" ", b"\t", b"\x0c", b"\r",
    b"1e400", b"123456789012345678901234", b"-0", b"01", b"1.", b"tru", b"null", b"NaN", b'"model"', b'"url"',
]
_SEEDS = [*COMMON, *UNCOMMON]


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(raw)))
        piece = draw(st.sampled_from(_TRICKY) | st.binary(min_size=1, max_size=2))
        how = draw(st.sampled_from(["insert", "overwrite", "delete"]))
        if how == "insert":
            raw[at:at] = piece
        elif how == "overwrite":
            raw[at : at + len(piece)] = piece
        else:
            del raw[at : at + len(piece)]
    return bytes(raw)


@settings(max_examples=3000, derandomize=True, database=None, deadline=None)
@given(mutated_lines())
def test_quick_check_never_passes_a_mutated_line_the_rules_refuse(raw: bytes) -> None:
    stripped = raw.strip()
    if stripped and quick_check(RULES)(stripped):
        assert full_check(stripped) is None


# -- streamed uploads -------------------------------------------------------------------------------
BODY = b"\n".join(
    [
        line(custom_id="a"),
        b"",
        b"  " + line(custom_id="b") + b"\r",
        b" \t ",
        line(custom_id="c\t", body={"model": CHAT_MODEL, "t": "東京 😀"}),
        line(custom_id="d") + b"  ",
    ]
)


def expected_spans(body: bytes) -> list[int]:
    spans, start = [], 0
    for piece in body.split(b"\n"):
        if piece.strip():
            spans += [start, start + len(piece)]
        start += len(piece) + 1
    return spans


def cut(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def new_upload(store: Store, **limits: int) -> Upload:
    return Upload(
        store,
        RULES,
        owner="owner",
        file_id="file-1",
        max_file_size=limits.get("max_file_size", 0),
        max_requests=limits.get("max_requests", 0),
        default_ttl=3600,
        now=time.time,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


@pytest.mark.parametrize("body", [BODY, BODY + b"\n", BODY.replace(b"\n", b"\r\n")])
@pytest.mark.parametrize("size", [1, 7, 100, 10**6])
def test_spans_and_body_do_not_depend_on_chunking(store: Store, body: bytes, size: int) -> None:
    upload = new_upload(store)
    upload.field("purpose", "batch")
    upload.begin_file("batch.jsonl")
    for chunk in cut(body, size):
        upload.feed(chunk)
    upload.end_file()
    row = upload.commit()
    assert row.bytes == len(body)
    assert row.line_count == 4
    assert store.file_spans("file-1").tolist() == expected_spans(body)
    assert store.blob_path("file-1").read_bytes() == body


@pytest.mark.parametrize(
    ("body", "limits", "message"),
    [
        (BODY + b"\n" + line(method="GET"), {}, "Line 5: Unsupported HTTP method 'GET'"),
        (BODY + b"\n\n{oops", {}, "Invalid JSON on line 5: "),
        (BODY + "\n\u3000\n\u00a0{oops\u2028".encode(), {}, "Invalid JSON on line 5: "),  # Unicode spaces trimmed
        ("\u00a0\n".encode() + BODY, {"max_requests": 3}, "File contains 4 requests, which exceeds the maximum of 3"),
        (BODY + b'\n {"a": "\xe6\x97x"}', {}, f"File contains invalid UTF-8 on/near line 5 at byte offset {len(BODY) + 9}"),
        (BODY, {"max_requests": 3}, "File contains 4 requests, which exceeds the maximum of 3"),
        (BODY, {"max_file_size": 100}, "File exceeds the maximum allowed size of 100 bytes"),
        (b"\n \r\n", {}, "File contains no valid request templates"),
    ],
)
@pytest.mark.parametrize("size", [1, 7, 10**6])
def test_errors_do_not_depend_on_chunking(
    store: Store, body: bytes, limits: dict[str, int], message: str, size: int
) -> None:
    threads = threading.active_count()
    upload = new_upload(store, **limits)
    with pytest.raises(ApiError) as caught:
        try:
            upload.begin_file("batch.jsonl")
            for chunk in cut(body, size):
                upload.feed(chunk)
            upload.end_file()
        finally:
            upload.abort()
    assert caught.value.message.startswith(message)
    assert not store.temp_path("file-1").exists()
    assert threading.active_count() == threads


def test_a_write_error_reaches_the_caller(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(fd: int, buffers: list[bytes]) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(upload_module, "_write_all", fail)
    threads = threading.active_count()
    upload = new_upload(store)
    with pytest.raises(StorageFull) as caught:  # a full disk: answered 500, logged in one line (app.py)
        try:
            upload.begin_file("batch.jsonl")
            for chunk in cut(BODY, 7):
                upload.feed(chunk)
            upload.end_file()
            upload.commit()
        finally:
            upload.abort()
    assert isinstance(caught.value.__cause__, OSError) and "No space left" in caught.value.reason
    assert not store.temp_path("file-1").exists()
    assert store.get_file("file-1") is None
    assert threading.active_count() == threads

"""Differences from the live service that the fuzz properties found, each pinned by its minimal
example. An open one is marked `@xfail(reason)` (strict: once the simulator is fixed the test passes,
strict xfail turns that into a failure, and the marker and any exclusion in `strategies.py` should
go). All found so far are fixed: each test here now states a live behaviour the simulator has, with
the reason in a comment; on live (`DWSIM_FUZZ_TARGET=live`) they all run as plain tests.

The live behaviour is read from its source: dwctl `api/handlers/files.rs::create_file_stream` and
`OpenAIBatchRequest` (serde_json 1.0.149 without `preserve_order`, Cargo.lock of control-layer
10.13.1), multer 3.1.0 (`Multipart::poll_next_field`, `ContentDisposition`) and httparse (the part
headers). `shared/research/doubleword-server.md` §2 has the upload rules.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, example, given

from fuzz.checks import (
    all_files,
    check_accepted,
    check_nothing_stored,
    check_rejected,
    post_files,
    upload,
)
from fuzz.profiles import fuzz_settings
from fuzz.strategies import (
    BAD_MULTIPART,
    LINE,
    LINE_TEXT,
    MULTIPART_TYPE,
    BatchFile,
    Expect,
    Part,
    batch_files,
    multipart,
    nested,
    stored_request,
)
from fuzz.target import FUZZ_LIMITS, LIVE, FuzzTarget


def xfail(reason: str) -> pytest.MarkDecorator:
    """A known difference: expected to fail on the simulator; on live (`DWSIM_FUZZ_TARGET=live`) the
    test states what live does, so there it must pass."""
    return pytest.mark.known_difference(reason) if LIVE else pytest.mark.xfail(strict=True, reason=reason)


# -- batch file content ---------------------------------------------------------------------------
# live trims each line with Rust's str::trim (Unicode White_Space: U+00A0, U+3000, U+2028, U+0085, ...):
# such lines are blank and skipped, and such padding around a request is dropped
MINIMAL_UNICODE_SPACES = BatchFile(requests=(LINE, LINE), texts=(LINE_TEXT, LINE_TEXT),
                                   gaps=("\u00a0".encode(), "\n\u3000\n".encode(), b"\n"))


# fixed (the line scanner trims Unicode White_Space as str::trim does); kept as a regression test
@fuzz_settings(20, phases=(Phase.explicit, Phase.generate))
@example(f=MINIMAL_UNICODE_SPACES)
@given(f=batch_files(FUZZ_LIMITS, unicode_spaces=True))
def test_unicode_whitespace_around_lines_is_trimmed(fuzz_target: FuzzTarget, f: BatchFile) -> None:
    content = f.render()
    with fuzz_target.watch(), fuzz_target.user() as api:
        check_accepted(api, upload(api, content), size=len(content), filename="batch.jsonl", expected=f.stored())







# fixed; kept as a regression test
def test_a_line_nested_1100_deep_names_the_recursion_limit(fuzz_target: FuzzTarget) -> None:
    line = LINE_TEXT[:-2] + b',"x":' + nested(1100, "array").encode() + b"}}\n"
    with fuzz_target.watch(), fuzz_target.user() as api:
        check_rejected(upload(api, line), Expect(400, "Invalid JSON on line 1: ", line=1,
                                                  contains="recursion limit exceeded"))

# fixed; kept as a regression test
@pytest.mark.simulator_only("drives the manual clock")
def test_a_batch_from_an_output_file_fails_without_a_500(fuzz_target: FuzzTarget) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        file_id = upload(api, LINE_TEXT + b"\n").json()["id"]
        first = api.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/embeddings",
                                           "completion_window": "24h"}).json()
        second = api.post("/batches", json={"input_file_id": first["output_file_id"], "endpoint": "/v1/embeddings",
                                            "completion_window": "24h"})
        assert second.status_code == 201, second.text
        assert second.json()["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
        fuzz_target.advance(2)
        later = api.get(f"/batches/{second.json()['id']}")
        assert later.status_code == 200, later.text
        assert later.json()["status"] == "failed"

# -- multipart ------------------------------------------------------------------------------------
def _file_part(filename: bytes | None = b"batch.jsonl", data: bytes = LINE_TEXT + b"\n",
               headers: tuple[bytes, ...] = ()) -> Part:
    return Part("file", data, filename, headers)


# fixed; kept as a regression test
def test_expires_after_seconds_past_i64_is_ignored(fuzz_target: FuzzTarget) -> None:
    body = multipart([Part("expires_after[seconds]", b"9223372036854775808"), _file_part()])
    with fuzz_target.watch(), fuzz_target.user() as api:
        created = check_accepted(api, post_files(api, body), size=len(LINE_TEXT) + 1, filename="batch.jsonl",
                                 expected=[stored_request(LINE)])
        assert created["expires_at"] - created["created_at"] in (30 * 86_400, 30 * 86_400 + 1)


# fixed; kept as a regression test
@pytest.mark.parametrize("raw", [b"C:\\data\\batch.jsonl", b"a\\\\b.jsonl"], ids=["windows-path", "double-backslash"])
def test_backslashes_in_a_filename_are_kept(fuzz_target: FuzzTarget, raw: bytes) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = post_files(api, multipart([_file_part(raw)]))
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == raw.decode()


# fixed (multer drops a filename that is not UTF-8: `upload-<id>`); kept as a regression test
def test_a_non_utf8_filename_becomes_upload_id(fuzz_target: FuzzTarget) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = post_files(api, multipart([_file_part(b"a\xffb.jsonl")]))
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == f"upload-{response.json()['id']}"


# fixed (multer parses part headers with httparse, which refuses control characters but TAB, and DEL, in
# a header, and ends a header line at a bare LF); kept as a regression test
@pytest.mark.parametrize("raw", [b"a\nb.jsonl", b"a\x01b.jsonl", b"a\x7fb.jsonl"], ids=["bare-LF", "SOH", "DEL"])
def test_control_characters_in_a_part_header_are_400(fuzz_target: FuzzTarget, raw: bytes) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        check_rejected(post_files(api, multipart([_file_part(raw)])), Expect(400, BAD_MULTIPART))
        check_nothing_stored(fuzz_target, api, before)


# fixed (multer has no limit on a part header's length; python-multipart's 4,224 bytes is raised to 1 MiB);
# kept as a regression test
def test_a_long_filename_is_kept(fuzz_target: FuzzTarget) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = post_files(api, multipart([_file_part(b"f" * 5000)]))
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "f" * 5000


# fixed (multer: room for 32 headers a part, httparse's MAX_HEADERS; python-multipart allowed 8); kept as
# regression tests
def test_a_part_with_nine_headers_is_accepted(fuzz_target: FuzzTarget) -> None:
    headers = tuple(b"X-Extra-%d: v" % k for k in range(8))
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = post_files(api, multipart([_file_part(headers=headers)]))
        assert response.status_code == 201, response.text


def test_a_part_with_33_headers_is_400(fuzz_target: FuzzTarget) -> None:
    headers = tuple(b"X-Extra-%d: v" % k for k in range(32))  # and Content-Disposition: 33
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        check_rejected(post_files(api, multipart([_file_part(headers=headers)])), Expect(400, BAD_MULTIPART))
        check_nothing_stored(fuzz_target, api, before)


# fixed (multer skips whatever precedes the first boundary: a preamble, RFC 2046 5.1.1); kept as a
# regression test
def test_a_preamble_before_the_first_boundary_is_skipped(fuzz_target: FuzzTarget) -> None:
    body = b"This is a preamble.\r\n" + multipart([_file_part()])
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = post_files(api, body, MULTIPART_TYPE)
        assert response.status_code == 201, response.text


# fixed (live keeps an unterminated last line in `incomplete_line` after a file part and never clears
# it, so a second `file` part's first line is glued to it); kept as regression tests
def test_a_second_file_part_continues_an_unterminated_line(fuzz_target: FuzzTarget) -> None:
    body = multipart([_file_part(data=LINE_TEXT), _file_part(data=LINE_TEXT + b"\n")])
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        check_rejected(post_files(api, body), Expect(400, "Invalid JSON on line 2: ", line=2))
        check_nothing_stored(fuzz_target, api, before)
        assert all_files(api) == []



@pytest.mark.parametrize(("second", "copies"), [(b"", 2), (b"\n" + LINE_TEXT + b"\n", 3)], ids=["empty", "line-break-first"])
def test_a_second_file_part_repeats_an_unterminated_line(fuzz_target: FuzzTarget, second: bytes, copies: int) -> None:
    """The glued line is the first part's last line itself when the second part is empty or starts
    with a line break: live stores that request again."""
    body = multipart([_file_part(data=LINE_TEXT), _file_part(data=second)])
    with fuzz_target.watch(), fuzz_target.user() as api:
        check_accepted(api, post_files(api, body), size=len(LINE_TEXT) + len(second), filename="batch.jsonl",
                       expected=[stored_request(LINE)] * copies)

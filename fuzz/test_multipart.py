"""Hostile multipart uploads: parts missing, repeated or in any order, odd filenames, wrong
purposes, truncated and garbled bodies, bodies that are not multipart at all. Each gets the live
answer (multer's parsing and dwctl's loop over the parts); none gets a 5xx, and a rejected one
stores nothing."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import assume, event, given
from hypothesis import strategies as st

from fuzz.checks import (
    CONTENT_KEYS,
    all_files,
    check_accepted,
    check_nothing_stored,
    check_rejected,
    no_5xx,
    post_files,
)
from fuzz.profiles import fuzz_settings
from fuzz.strategies import (
    BAD_MULTIPART,
    BOUNDARY,
    DEFAULT_TTL,
    NOT_MULTIPART,
    Expect,
    Form,
    Part,
    forms,
    multipart,
    small_files,
    stored_request,
)
from fuzz.target import FUZZ_LIMITS, FuzzTarget

LIMITS = FUZZ_LIMITS


# chrono 0.4's DateTime<Utc> range in unix seconds: 262143 BCE-01-01 to 262142-12-31T23:59:59
CHRONO_EARLIEST, CHRONO_LATEST = -8_334_601_315_200, 8_210_266_876_799


@fuzz_settings(80)
@given(form=forms(LIMITS))
def test_a_multipart_form_gets_the_live_outcome(fuzz_target: FuzzTarget, form: Form) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        response = post_files(api, multipart(form.parts))
        outcome = form.outcome
        event("rejected" if isinstance(outcome, Expect) else "accepted")
        if isinstance(outcome, Expect):
            check_rejected(response, outcome)
            check_nothing_stored(fuzz_target, api, before)
            return
        created = check_accepted(api, response, size=outcome.size, filename=outcome.filename,
                                 expected=[stored_request(r) for r in outcome.requests])
        ttl = DEFAULT_TTL if outcome.expires_after is None else outcome.expires_after
        if not CHRONO_EARLIEST <= created["created_at"] + ttl <= CHRONO_LATEST:  # live: checked_add_signed is None
            assert "expires_at" not in created, (created, ttl)
        else:
            assert abs(created["expires_at"] - (created["created_at"] + ttl)) <= 1, (created, ttl)


@st.composite
def valid_bodies(draw: st.DrawFn) -> tuple[bytes, list[dict[str, Any]]]:
    f = draw(small_files(LIMITS))
    parts = [Part("file", f.render() + b"\n", b"batch.jsonl", (b"Content-Type: application/jsonl",))]
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, 1)), Part("purpose", b"batch"))
    return multipart(parts), f.stored()


@fuzz_settings(60)
@given(body=valid_bodies(), data=st.data())
def test_a_truncated_body_is_400_and_stores_nothing(
    fuzz_target: FuzzTarget, body: tuple[bytes, list[dict[str, Any]]], data: st.DataObject
) -> None:
    raw, _ = body
    complete = raw.rindex(b"--" + BOUNDARY + b"--") + len(BOUNDARY) + 4  # the close delimiter is whole here
    cut = data.draw(st.integers(0, complete - 1), label="cut")
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        check_rejected(post_files(api, raw[:cut]), Expect(400, BAD_MULTIPART))
        check_nothing_stored(fuzz_target, api, before)


edits = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64), st.just(b"")),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.just(0),
              st.binary(min_size=1, max_size=16) | st.sampled_from([b"\r\n", b"\n", b"--", b"\r\n--" + BOUNDARY, b'"', b";"])),
    st.tuples(st.just("replace"), st.integers(0, 10**6), st.integers(1, 8), st.binary(min_size=1, max_size=8)),
)


@fuzz_settings(100)
@given(body=valid_bodies(), changes=st.lists(edits, min_size=1, max_size=3))
def test_a_garbled_body_never_fails_and_never_half_stores(
    fuzz_target: FuzzTarget, body: tuple[bytes, list[dict[str, Any]]], changes: list[tuple[str, int, int, bytes]]
) -> None:
    raw, _ = body
    for _kind, at, length, data in changes:
        at %= len(raw) + 1
        raw = raw[:at] + data + raw[at + length :]
    assume(raw != body[0])
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        response = post_files(api, raw)
        if response.status_code != 201:
            assert response.status_code in (400, 403, 413), response.text
            assert response.headers["content-type"].startswith("text/plain")
            check_nothing_stored(fuzz_target, api, before)
            return
        created = response.json()
        assert [f["id"] for f in all_files(api)] == [created["id"]]
        content = no_5xx(api.get(f"/files/{created['id']}/content"))
        assert content.status_code == 200
        assert all(list(orjson.loads(line)) == CONTENT_KEYS for line in content.content.splitlines())


NOT_FORM_DATA = [
    None, "", "application/json", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
    "multipart/mixed; boundary=" + BOUNDARY.decode(), "multipart/form-data", "multipart/form-data; boundary=",
    "multipart/form-data; charset=utf-8", "multipart/form-datax; boundary=" + BOUNDARY.decode(),
    "form-data; boundary=" + BOUNDARY.decode(), "application/jsonl",
]


@fuzz_settings(20)
@given(body=valid_bodies(), content_type=st.sampled_from(NOT_FORM_DATA))
def test_a_body_that_is_not_form_data_is_400(
    fuzz_target: FuzzTarget, body: tuple[bytes, list[dict[str, Any]]], content_type: str | None
) -> None:
    with fuzz_target.watch(), fuzz_target.user() as api:
        before = fuzz_target.store_state()
        check_rejected(post_files(api, body[0], content_type), Expect(400, NOT_MULTIPART))
        check_nothing_stored(fuzz_target, api, before)



@fuzz_settings(20)
@given(before=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'), max_size=12),
       newline=st.sampled_from([b"\r\n", b"\r"]),
       after=st.text(st.characters(codec="ascii", categories=["L", "Nd"], include_characters="._-"), max_size=12))
def test_a_line_break_in_a_filename_is_400_and_stores_nothing(
    fuzz_target: FuzzTarget, before: str, newline: bytes, after: str
) -> None:
    """CR LF (or a lone CR) inside the quoted filename ends the part's header line early; what
    follows is no header (httparse: invalid header name or value), so the whole upload fails."""
    part = Part("file", b"", before.encode() + newline + after.encode())
    with fuzz_target.watch(), fuzz_target.user() as api:
        before_state = fuzz_target.store_state()
        check_rejected(post_files(api, multipart([part])), Expect(400, BAD_MULTIPART))
        check_nothing_stored(fuzz_target, api, before_state)

"""The batch list's Doubleword filters (issue #19) for any text: never a 5xx; live's 400s, each with
its own text; and what is answered 200 is filtered as live filters.

Evidence: dwctl models/batches.rs 322-367 (the query struct: `created_after`/`created_before` are
chrono `DateTime<Utc>`, `member_id` a `Uuid`), batches.rs 211-250 (`completion_window`), 1924-1927
(`member_id`), 2033-2038 (`include`); chrono's ParseError texts."""

from __future__ import annotations

import datetime

import httpx
import orjson
from hypothesis import given
from hypothesis import strategies as st

from fuzz.checks import no_5xx, upload
from fuzz.profiles import fuzz_settings
from fuzz.strategies import CHAT_MODELS
from fuzz.target import FuzzTarget

CHRONO_REASONS = ("input contains invalid characters", "premature end of input", "input is out of range",
                  "trailing input", "input is not enough for unique date and time",
                  "no possible date and time matching input")
texts = st.text(st.characters(codec="utf-8"), max_size=40)
windows = st.lists(st.sampled_from(["24h", "1h", " 24h", "1h ", "", " ", "background", "7d", "0s"]),
                   max_size=4).map(",".join)
instants = st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2100, 1, 1),
                        timezones=st.just(datetime.UTC))


def _batches(api: httpx.Client) -> None:
    if not api.get("/batches").json()["data"]:
        line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": CHAT_MODELS[0], "messages": [{"role": "user", "content": "hi"}]}}
        uploaded = upload(api, orjson.dumps(line) + b"\n")
        assert uploaded.status_code == 201, uploaded.text
        for window in ("24h", "1h"):
            created = api.post("/batches", json={"input_file_id": uploaded.json()["id"],
                                                 "endpoint": "/v1/chat/completions", "completion_window": window})
            assert created.status_code == 201, created.text


@fuzz_settings(40)
@given(name=st.sampled_from(["created_after", "created_before"]), value=st.one_of(texts, instants.map(str),
       instants.map(lambda d: d.isoformat()), instants.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))))
def test_created_bounds_are_200_or_chronos_400(fuzz_target: FuzzTarget, name: str, value: str) -> None:
    with fuzz_target.user() as api:
        response = no_5xx(api.get("/batches", params={name: value}))
        if response.status_code == 400:
            prefix = f"Failed to deserialize query string: {name}: "
            assert response.text.startswith(prefix), response.text
            assert response.text[len(prefix):] in CHRONO_REASONS, response.text
        else:
            assert response.status_code == 200, response.text


@fuzz_settings(25)
@given(at=instants, after=st.booleans())
def test_a_well_formed_bound_filters_inclusively(fuzz_target: FuzzTarget, at: datetime.datetime, after: bool) -> None:
    with fuzz_target.user() as api:
        _batches(api)
        everything = api.get("/batches").json()["data"]
        name = "created_after" if after else "created_before"
        response = no_5xx(api.get("/batches", params={name: at.isoformat()}))
        assert response.status_code == 200, response.text
        bound = at.timestamp()
        wanted = {b["id"] for b in everything if (b["created_at"] >= bound if after else b["created_at"] <= bound)}
        got = {b["id"] for b in response.json()["data"]}
        if abs(bound - everything[0]["created_at"]) > 2:  # created_at is whole seconds on the wire
            assert got == wanted


@fuzz_settings(40)
@given(window=st.one_of(windows, texts), include=st.one_of(st.none(), texts, st.just(" analytics,x")))
def test_completion_window_and_include(fuzz_target: FuzzTarget, window: str, include: str | None) -> None:
    with fuzz_target.user() as api:
        _batches(api)
        params = {"completion_window": window} | ({"include": include} if include is not None else {})
        response = no_5xx(api.get("/batches", params=params))
        parts = [p.strip() for p in window.split(",") if p.strip()]
        if "background" in parts:
            assert response.status_code == 400
            assert response.text == "completion_window=background is only available to platform managers"
            return
        assert response.status_code == 200, response.text
        items = response.json()["data"]
        if parts:
            assert all(b["completion_window"] in parts for b in items)
        else:
            assert len(items) == 2
        analytics = include is not None and "analytics" in (p.strip() for p in include.split(","))
        assert all(("analytics" in b) == analytics for b in items)


@fuzz_settings(30)
@given(value=st.one_of(texts, st.uuids().map(str)), path=st.sampled_from(["/batches", "/files"]))
def test_member_id_is_always_a_400(fuzz_target: FuzzTarget, value: str, path: str) -> None:
    with fuzz_target.user() as api:
        response = no_5xx(api.get(path, params={"member_id": value}))
        assert response.status_code == 400
        assert response.text in (
            "member_id filter is only available in organization context or for platform managers",
        ) or response.text.startswith("Failed to deserialize query string: member_id: UUID parsing failed: ")

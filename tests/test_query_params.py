"""Integer query parameters (`skip`, `limit`) read as live reads them: dwctl's `Pagination` parses each
with serde_with's `DisplayFromStr`, i.e. Rust's `i64::from_str`, and axum answers a failure 400
`Failed to deserialize query string: <field>: <ParseIntError>` (research/doubleword-server.md §7:
a bad query string is a plain-text 400; dwctl/src/api/models/pagination.rs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockserver.testing import AsgiTarget


@pytest.fixture(scope="module")
def sim() -> Iterator[AsgiTarget]:
    target = AsgiTarget()
    yield target
    target.close()


@pytest.mark.parametrize(("raw", "why"), [
    ("", "cannot parse integer from empty string"),
    ("x", "invalid digit found in string"),
    ("-", "invalid digit found in string"),
    ("+", "invalid digit found in string"),
    (" 5", "invalid digit found in string"),
    ("\u0661", "invalid digit found in string"),  # ARABIC-INDIC DIGIT ONE: a digit to Python, not to Rust
    ("9223372036854775808", "number too large to fit in target type"),
    ("-9223372036854775809", "number too small to fit in target type"),
    ("9" * 5000, "number too large to fit in target type"),  # past Python's int() digit limit: no 500
    ("-" + "9" * 5000, "number too small to fit in target type"),
])
def test_a_bad_integer_gets_rusts_parse_error(sim: AsgiTarget, raw: str, why: str) -> None:
    with sim.client(sim.new_key()) as api:
        for path in ("/files", "/batches"):
            response = api.get(path, params={"limit": raw})
            assert response.status_code == 400, response.text
            assert response.text == f"Failed to deserialize query string: limit: {why}"


@pytest.mark.parametrize("raw", ["+5", "-9223372036854775808", "9223372036854775807", "007", "0" * 30 + "7"])
def test_what_i64_from_str_takes_is_taken(sim: AsgiTarget, raw: str) -> None:
    with sim.client(sim.new_key()) as api:
        assert api.get("/files", params={"limit": raw}).status_code == 200


@pytest.mark.parametrize(("raw", "epoch"), [
    ("2025-01-02T03:04:05Z", 1735787045.0),
    ("2025-01-02t03:04:05z", 1735787045.0),
    ("2025-1-2 3:4:5.5 +01 : 00", 1735783445.5),  # chrono's relaxed RFC 3339: short numbers, spaces
    ("2025-01-02T03:04:05 UTC", 1735787045.0),
    ("2025-01-02T03:04:05-0130", 1735792445.0),
])
def test_created_after_reads_chronos_relaxed_rfc3339(raw: str, epoch: float) -> None:
    # chrono 0.4 parse_rfc3339_relaxed, which DateTime<Utc>'s Deserialize uses (models/batches.rs 345)
    from mockserver.api.common import _rfc3339_relaxed
    assert _rfc3339_relaxed(raw) == epoch


@pytest.mark.parametrize(("raw", "why"), [
    ("2025-02-30T00:00:00Z", "input is out of range"),
    ("2025-01-01T24:00:00Z", "input is out of range"),
    ("2025-01-01T00:00:00+24:00", "input is out of range"),
    ("2025-01-01T00:00:00", "premature end of input"),
    ("2025-01-01T00:00:00+01", "premature end of input"),
    ("2025-01-01X00:00:00Z", "input contains invalid characters"),
    ("20250-01-01T00:00:00Z", "input contains invalid characters"),
])
def test_created_before_refuses_as_chrono_does(sim: AsgiTarget, raw: str, why: str) -> None:
    with sim.client(sim.new_key()) as api:
        response = api.get("/batches", params={"created_before": raw})
    assert response.status_code == 400
    assert response.text == f"Failed to deserialize query string: created_before: {why}"

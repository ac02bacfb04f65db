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

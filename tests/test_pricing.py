"""Money in one place (`domain/pricing.py`): live's estimate (dwctl `get_file_cost_estimate`;
research/doubleword-server.md §6) and amounts as rust_decimal prints them."""

from __future__ import annotations

from decimal import Decimal

from mockserver.domain.pricing import cost, decimal_text, estimate, price
from mockserver.settings import ModelSpec

CHAT = ModelSpec("chat-m", input_price={"24h": Decimal("0.10")}, output_price={"24h": Decimal("0.40")})
EMBED = ModelSpec("embed-m", kind="embeddings", input_price={"24h": Decimal("0.02")})


def test_amounts_are_plain_decimals() -> None:
    assert decimal_text(Decimal("0")) == "0"
    assert decimal_text(Decimal("1.500")) == "1.5"
    assert decimal_text(Decimal("1E-7")) == "0.0000001"
    assert decimal_text(Decimal("2E+3")) == "2000"


def test_prices_are_per_million_tokens_per_window() -> None:
    assert price(CHAT, "24h", 1_000_000, 500_000) == Decimal("0.30")
    assert price(CHAT, "1h", 1_000_000, 500_000) == 0  # no price for the window: free
    assert price(None, "24h", 10, 10) == 0


def test_cost_adds_up_models_and_skips_unknown_ones() -> None:
    models = {"chat-m": CHAT, "embed-m": EMBED}
    tokens = [("chat-m", 2_000_000, 1_000_000), ("embed-m", 1_000_000, 0), ("gone", 5, 5)]
    assert cost(models, "24h", tokens) == Decimal("0.62")


def test_the_estimate_counts_bytes_over_four_and_ten_percent_more_output() -> None:
    bodies = [{"model": "chat-m", "x": "a" * 30}, {"model": "chat-m"}, {"model": "embed-m", "input": "hi"}]
    got = estimate("f1", bodies, {"chat-m": CHAT, "embed-m": EMBED}, "24h")
    # chat bodies: 55 + 18 = 73 bytes -> 18 input tokens, int(18 * 1.1) = 19 output; embeddings: 1 output each
    assert got == {
        "file_id": "f1", "total_requests": 3, "total_estimated_input_tokens": 18 + 8,
        "total_estimated_output_tokens": 19 + 1, "total_estimated_cost": "0.00000956",
        "models": [
            {"model": "chat-m", "request_count": 2, "estimated_input_tokens": 18, "estimated_output_tokens": 19,
             "estimated_cost": "0.0000094"},
            {"model": "embed-m", "request_count": 1, "estimated_input_tokens": 8, "estimated_output_tokens": 1,
             "estimated_cost": "0.00000016"},
        ],
    }

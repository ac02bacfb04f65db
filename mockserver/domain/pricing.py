"""Pricing: the one home of money. Prices are per million tokens, per model and completion window,
from the models file (`settings.ModelSpec.input_price` / `output_price`).

- `estimate`: dwctl `get_file_cost_estimate` (research/doubleword-server.md §6): input tokens are
  the body's bytes / 4; output tokens are 1 per embeddings request, else 10% more than the input
  (live's fallback when it has no history); per model, then totalled.
- `cost`: what finished requests cost at the batch's window (analytics `total_cost`).
- `decimal_text`: amounts as rust_decimal's Display writes them (plain notation, never an exponent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson

from mockserver.settings import ModelSpec

MILLION = 1_000_000


def decimal_text(value: Decimal) -> str:
    """A decimal in plain notation (rust_decimal's Display never uses an exponent); zero is "0"."""
    return format(value.normalize(), "f") if value else "0"


def price(spec: ModelSpec | None, window: str, prompt: int, completion: int) -> Decimal:
    """What `prompt` input and `completion` output tokens of a model cost at `window`."""
    if spec is None:
        return Decimal(0)
    return (prompt * spec.input_price.get(window, Decimal(0)) + completion * spec.output_price.get(window, Decimal(0))) \
        / MILLION


def cost(models: Mapping[str, ModelSpec], window: str, tokens: Iterable[tuple[str, int, int]]) -> Decimal:
    """The cost of (model, prompt tokens, completion tokens) totals at `window`; unknown models are free."""
    return sum((price(models.get(m), window, p, c) for m, p, c in tokens), Decimal(0))


def estimate(file_id: str, bodies: Iterable[Any], models: Mapping[str, ModelSpec], window: str) -> dict[str, Any]:
    """The cost estimate of a file whose request bodies (as sent) are `bodies`."""
    stats: dict[str, list[int]] = {}
    for body in bodies:
        model = str(body["model"]) if isinstance(body, dict) else ""
        entry = stats.setdefault(model, [0, 0])
        entry[0] += 1
        entry[1] += len(orjson.dumps(body))
    items: list[dict[str, Any]] = []
    totals = [0, 0, 0]
    total_cost = Decimal(0)
    for model, (count, body_bytes) in sorted(stats.items()):
        spec = models.get(model)
        input_tokens = body_bytes // 4
        embeddings = spec is not None and spec.kind == "embeddings"
        output_tokens = count if embeddings else int(input_tokens * 1.1)
        amount = price(spec, window, input_tokens, output_tokens)
        total_cost += amount
        totals = [totals[0] + count, totals[1] + input_tokens, totals[2] + output_tokens]
        items.append({
            "model": model,
            "request_count": count,
            "estimated_input_tokens": input_tokens,
            "estimated_output_tokens": output_tokens,
            "estimated_cost": decimal_text(amount),
        })
    return {
        "file_id": file_id,
        "total_requests": totals[0],
        "total_estimated_input_tokens": totals[1],
        "total_estimated_output_tokens": totals[2],
        "total_estimated_cost": decimal_text(total_cost),
        "models": items,
    }

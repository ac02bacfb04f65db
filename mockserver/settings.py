"""Every knob of the simulator in one place: limits, models, prices, timing.

Defaults follow `shared/api-notes.md` (production limits of the live service, its default models and
completion windows). Nothing here reads the environment or the command line; `__main__` does that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson

ModelKind = Literal["chat", "embeddings"]

BATCH_URL_PATHS: tuple[str, ...] = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/messages",
)

MIB = 1024 * 1024
DAY = 86_400


@dataclass(frozen=True)
class UpstreamConfig:
    """A real OpenAI-compatible server that answers (`--upstream`; `mockserver.upstream` sends to it)."""

    url: str  # the base URL as the openai SDK takes it, e.g. http://localhost:8001/v1
    key: str | None = field(default=None, repr=False)
    models: Mapping[str, str] = field(default_factory=dict)
    concurrency: int = 16
    timeout: float = 600.0


@dataclass(frozen=True)
class ModelSpec:
    """One model the simulated service serves. Prices are per million tokens, per completion window."""

    name: str
    kind: ModelKind = "chat"
    created: int = 1_735_689_600  # 2025-01-01, the deployment's creation epoch reported by /models
    input_price: dict[str, Decimal] = field(default_factory=dict)
    output_price: dict[str, Decimal] = field(default_factory=dict)
    dimensions: int = 4096  # embeddings only
    # the completion windows a batch of this model may ask for (dwctl's per-model allowed windows,
    # batches.rs 666-685); None: every window; empty: no batches at all
    windows: tuple[str, ...] | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ModelSpec:
        def prices(key: str) -> dict[str, Decimal]:
            return {str(k): Decimal(str(v)) for k, v in dict(raw.get(key, {})).items()}

        kind = str(raw.get("kind", "chat"))
        if kind not in ("chat", "embeddings"):
            raise ValueError(f"model kind must be 'chat' or 'embeddings', not {kind!r}")
        return cls(
            name=str(raw["name"]),
            kind="chat" if kind == "chat" else "embeddings",
            created=int(raw.get("created", 1_735_689_600)),
            input_price=prices("input_price"),
            output_price=prices("output_price"),
            dimensions=int(raw.get("dimensions", 4096)),
            windows=_windows(raw.get("windows")),
        )


def _windows(raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(w, str) for w in raw):
        raise ValueError(f"model windows must be a list of strings, not {raw!r}")
    return tuple(raw)


def _priced(name: str, kind: ModelKind, inp: str, out: str) -> ModelSpec:
    # Placeholder list prices per million tokens; `1h` costs 50% more, as the users' guide says.
    return ModelSpec(
        name=name,
        kind=kind,
        input_price={"24h": Decimal(inp), "1h": Decimal(inp) * Decimal("1.5")},
        output_price={"24h": Decimal(out), "1h": Decimal(out) * Decimal("1.5")},
    )


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    _priced("Qwen/Qwen3-VL-30B-A3B-Instruct-FP8", "chat", "0.05", "0.20"),
    _priced("Qwen/Qwen3-VL-235B-A22B-Instruct-FP8", "chat", "0.10", "0.40"),
    _priced("Qwen/Qwen3-Embedding-8B", "embeddings", "0.02", "0"),
)


def load_models(path: Path) -> tuple[ModelSpec, ...]:
    """A JSON list of model objects: `{"name", "kind", "input_price": {"24h": ...}, "windows": [...], ...}`."""
    raw = orjson.loads(path.read_bytes())
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: expected a non-empty JSON list of models")
    return tuple(ModelSpec.from_json(item) for item in raw)


@dataclass(frozen=True)
class Settings:
    # limits (api-notes item 5; production values, each configurable)
    max_file_size: int = 200 * MIB
    max_requests_per_file: int = 50_000
    max_request_body_size: int = 10 * MIB
    allowed_url_paths: tuple[str, ...] = BATCH_URL_PATHS
    completion_windows: tuple[tuple[str, int], ...] = (("24h", DAY), ("1h", 3600))
    input_file_ttl: int = 30 * DAY
    models: tuple[ModelSpec, ...] = DEFAULT_MODELS
    # identity and randomness
    api_keys: tuple[str, ...] = ()  # empty: any Bearer key is accepted, each key its own user
    seed: int | None = None
    profile: str = "doubleword"  # "doubleword" (the live service) or "openai" (see mockserver/dialect.py)
    expiry: str = "live"  # "live": batches never expire; "openai": unfinished at expires_at -> expired
    control_token: str | None = None  # when set, the control API wants `Authorization: Bearer <token>`
    # timing model of the simulated batch engine (api-notes "Decisions")
    validation_delay: float = 1.0
    latency_min: float = 0.2
    latency_max: float = 2.0
    concurrency_per_model: int = 32
    # OpenAI profile only: how long `finalizing` and `cancelling` last
    finalize_delay: float = 2.0
    cancel_delay: float = 5.0
    # where answers come from: the simulated model (default), a real OpenAI-compatible server, or a cassette
    upstream: UpstreamConfig | None = None
    replay: Path | None = None
    replay_missing: str = "error"  # a request the cassette lacks: "error" (a 400 line) or "simulate"

    def model(self, name: str) -> ModelSpec | None:
        for spec in self.models:
            if spec.name == name:
                return spec
        return None

    def window_seconds(self, window: str) -> int | None:
        return dict(self.completion_windows).get(window)

"""Admission: the create-time checks of `POST /batches`, in live's order, before anything is stored.

The body as axum's `Json` extractor checks it (422 on shape errors), then (dwctl `batches.rs`
`create_batch`; research/doubleword-server.md §3): the completion window, the endpoint, the input
file id's format, the scenario's balance flag (402), the input file (404, or 403 when it is
another user's), per-model capacity (429), and the metadata (reserved keys dropped, the owner's
keys added; OpenAI's size limits under that profile). Under the OpenAI profile the body's
`output_expires_after` is checked first, as OpenAI checks its parameters before any lookup. The result is an `Admitted` batch for
`BatchService.create` to store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.domain.faults import Faults
from mockserver.domain.paging import canonical_uuid
from mockserver.domain.policy import Policy
from mockserver.errors import BadRequest, Forbidden, NotFound, PaymentRequired, TooManyRequests, Unprocessable
from mockserver.settings import Settings
from mockserver.store import FileRow, Store

RESERVED_METADATA = frozenset(
    {"created_by_email", "context_name", "context_type", "request_source", "created_by", "dw_user_agent"}
)
_DESERIALIZE = "Failed to deserialize the JSON body into the target type: "
# dwctl batches.rs 532-538: `background` needs the BackgroundInferenceUser role, which no simulated user has
BACKGROUND_REFUSED = ("Insufficient permissions to Create background inference; assign the BackgroundInferenceUser "
                      "role to submit this completion_window")
# dwctl batches.rs 727-731: every simulated user acts in a personal context
API_KEY_ID_REFUSED = "api_key_id selection is only available in organization context"


@dataclass(frozen=True)
class CreateBatch:
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class Admitted:
    """A create request that passed every check: what the new batch is made of."""

    source: FileRow
    endpoint: str
    completion_window: str
    window_seconds: int
    metadata: dict[str, str]
    output_expires_after: int | None = None  # OpenAI profile: seconds the result files live after creation


def parse_create(payload: Any) -> CreateBatch:
    """The body of `POST /batches` as axum's Json extractor checks it (422 on shape errors)."""
    if not isinstance(payload, dict):
        raise Unprocessable(f"{_DESERIALIZE}invalid type: expected struct CreateBatchRequest")
    for key in ("input_file_id", "endpoint", "completion_window"):
        if key not in payload:
            raise Unprocessable(f"{_DESERIALIZE}missing field `{key}`")
        if not isinstance(payload[key], str):
            raise Unprocessable(f"{_DESERIALIZE}{key}: invalid type: expected a string")
    metadata = payload.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise Unprocessable(f"{_DESERIALIZE}metadata: invalid type: expected a map of strings")
    return CreateBatch(payload["input_file_id"], payload["endpoint"], payload["completion_window"], metadata)


def is_reserved(key: str) -> bool:
    norm = key.lower().replace("-", "_")
    return norm in RESERVED_METADATA or norm.startswith("dw_source_")


class Admission:
    def __init__(
        self, store: Store, settings: Settings, policy: Policy, faults: Faults, now: Callable[[], float],
        models_of: Callable[[FileRow], Iterable[str]],
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self.faults = faults
        self.now = now
        self.models_of = models_of  # the model of each request of an input file

    def admit(self, owner: str, email: str, payload: Any) -> Admitted:
        req = parse_create(payload)
        expires_after = output_expires_after(payload.get("output_expires_after")) if self.policy.openai else None
        api_key_id = payload.get("api_key_id") if not self.policy.openai else None
        if api_key_id is not None and (not isinstance(api_key_id, str) or canonical_uuid(api_key_id) is None):
            raise Unprocessable(f"{_DESERIALIZE}api_key_id: UUID parsing failed")  # the Json extractor's
        if req.completion_window == "background" and not self.policy.openai:
            raise Forbidden(BACKGROUND_REFUSED)
        windows = self.policy.windows(self.settings)
        window = dict(windows).get(req.completion_window)
        if window is None:
            allowed = ", ".join(w for w, _ in windows)
            raise BadRequest(f"Unsupported completion_window. Allowed values: {allowed}", param="completion_window")
        if req.endpoint not in self.settings.allowed_url_paths:
            supported = ", ".join(self.settings.allowed_url_paths)
            raise BadRequest(f"Unsupported endpoint '{req.endpoint}'. Supported: {supported}", param="endpoint")
        input_id = self.policy.ids.require("file", req.input_file_id, "Invalid input_file_id format")
        limits = self.faults.scenario.limits
        if limits.negative_balance:
            raise PaymentRequired("Account balance too low. Please add credits to continue.")
        source = self.store.get_file(input_id)
        if source is None or source.deleted:
            raise NotFound("File", req.input_file_id)
        if source.owner != owner:
            if not self.policy.foreign_file_forbidden:
                raise NotFound("File", req.input_file_id)
            raise Forbidden(f"Insufficient permissions to Create batch using file {req.input_file_id}")
        if self.policy.openai:
            metadata = _openai_metadata(req.metadata, source)
        else:
            if source.kind == "input":
                self._check_model_windows(source, req.completion_window)
            if api_key_id is not None:  # after the file and model checks (dwctl batches.rs 727-731)
                raise BadRequest(API_KEY_ID_REFUSED)
            if limits.model_capacity:  # reserved after the key is chosen (dwctl batches.rs 878)
                self._check_capacity(source, req.completion_window, limits.model_capacity)
            metadata = {k: v for k, v in req.metadata.items() if not is_reserved(k)}
            metadata |= {"request_source": "api", "created_by_email": email}
        return Admitted(source, req.endpoint, req.completion_window, window, metadata, expires_after)

    def _check_model_windows(self, source: FileRow, window: str) -> None:
        """A model the models file limits to some windows refuses the others (dwctl batches.rs 666-685;
        live walks a map, the simulator its models by name)."""
        for name in sorted(set(self.models_of(source))):
            spec = self.settings.model(name)
            allowed = spec.windows if spec is not None else None
            if allowed is None or window in allowed:
                continue
            if not allowed:
                raise BadRequest(f"Model '{name}' does not support batch processing.")
            raise BadRequest(f"Model '{name}' does not support completion window '{window}'. "
                             f"Allowed: {', '.join(allowed)}")

    def _check_capacity(self, source: FileRow, window: str, capacity: Mapping[str, int]) -> None:
        """The live per-model capacity reservation: 429 when this batch would take a model past the
        number of unfinished requests the scenario allows it."""
        wanted: dict[str, int] = {}
        for model in self.models_of(source) if source.kind == "input" else ():
            wanted[model] = wanted.get(model, 0) + 1
        busy = self.store.unfinished_by_model(self.now())
        full = sorted(m for m, n in wanted.items() if m in capacity and busy.get(m, 0) + n > capacity[m])
        if full:
            raise TooManyRequests(
                f"Insufficient capacity for {window} completion window. The following models are currently at "
                f"capacity: {', '.join(full)}. Try again later or use a longer completion window."
            )


def _openai_metadata(metadata: dict[str, str], source: FileRow) -> dict[str, str]:
    """OpenAI's checks: at most 16 pairs, keys up to 64 characters, values up to 512; and a batch
    needs a file uploaded with purpose `batch`."""
    if len(metadata) > 16:
        raise BadRequest("Invalid 'metadata': too many properties. Expected an object with at most 16 properties.",
                         param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise BadRequest("Invalid 'metadata': keys may have at most 64 characters and values at most 512.",
                             param="metadata")
    if source.kind != "input" or source.purpose != "batch":
        raise BadRequest(f"File {source.id} was not uploaded with purpose 'batch'.", param="input_file_id")
    return metadata


OUTPUT_EXPIRY_MIN, OUTPUT_EXPIRY_MAX = 3600, 2592000  # the openai SDK's OutputExpiresAfter: 1 hour to 30 days
_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "an array",
               dict: "an object", type(None): "null"}


def output_expires_after(raw: Any) -> int | None:
    """OpenAI's `output_expires_after` (`{"anchor": "created_at", "seconds": 3600..2592000}`): the
    seconds the batch's output and error files live after their creation, or None when not given.
    The wording is OpenAI's general parameter validation (the `Invalid type for`, `integer below
    minimum value`, `Invalid value ... Supported values are` messages), not observed for this field."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid_type("output_expires_after", "an object", raw)
    for key in ("anchor", "seconds"):
        if key not in raw:
            raise BadRequest(f"Missing required parameter: 'output_expires_after.{key}'.",
                             param=f"output_expires_after.{key}", openai_code="missing_required_parameter")
    unknown = sorted(set(raw) - {"anchor", "seconds"})
    if unknown:
        raise BadRequest(f"Unknown parameter: 'output_expires_after.{unknown[0]}'.",
                         param=f"output_expires_after.{unknown[0]}", openai_code="unknown_parameter")
    anchor, seconds = raw["anchor"], raw["seconds"]
    if not isinstance(anchor, str):
        raise _invalid_type("output_expires_after.anchor", "a string", anchor)
    if anchor != "created_at":
        raise BadRequest(f"Invalid value: '{anchor}'. Supported values are: 'created_at'.",
                         param="output_expires_after.anchor", openai_code="invalid_value")
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise _invalid_type("output_expires_after.seconds", "an integer", seconds)
    if seconds < OUTPUT_EXPIRY_MIN:
        raise BadRequest(f"Invalid 'output_expires_after.seconds': integer below minimum value. Expected a value "
                         f">= {OUTPUT_EXPIRY_MIN}, but got {seconds} instead.",
                         param="output_expires_after.seconds", openai_code="integer_below_min_value")
    if seconds > OUTPUT_EXPIRY_MAX:
        raise BadRequest(f"Invalid 'output_expires_after.seconds': integer above maximum value. Expected a value "
                         f"<= {OUTPUT_EXPIRY_MAX}, but got {seconds} instead.",
                         param="output_expires_after.seconds", openai_code="integer_above_max_value")
    return seconds


def _invalid_type(param: str, expected: str, got: Any) -> BadRequest:
    name = _TYPE_NAMES.get(type(got), "a value")
    return BadRequest(f"Invalid type for '{param}': expected {expected}, but got {name} instead.", param=param,
                      openai_code="invalid_type")

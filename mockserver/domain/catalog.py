"""The model catalogue as `GET /models` lists it: the configured models a key may use.

This route alone answers in the OpenAI error envelope and parses `Bearer` case-insensitively
(dwctl `ai_models.rs`).
"""

from __future__ import annotations

import uuid
from typing import Any

from mockserver.domain.users import Users
from mockserver.errors import OpenAIStyleError
from mockserver.settings import ModelSpec


def bearer_token(header: str | None) -> str | None:
    if header is None:
        return None
    parts = header.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].strip():
        return None
    return parts[1].strip()


def _flag(name: str, raw: str | None) -> None:
    if raw is not None and raw.strip().lower() not in ("true", "false"):
        raise OpenAIStyleError(
            400, f"Invalid {name} query parameter. Expected true or false.", "invalid_request_error",
            "invalid_query_parameter",
        )


def list_models(
    users: Users, models: tuple[ModelSpec, ...], authorization: str | None, query: dict[str, str]
) -> dict[str, Any]:
    token = bearer_token(authorization)
    if token is None:
        raise OpenAIStyleError(401, "Missing Authorization header", "authentication_error", "missing_authorization")
    group = query.get("group")
    if group is not None:
        for part in filter(None, (p.strip() for p in group.split(","))):
            try:
                uuid.UUID(part)
            except ValueError:
                raise OpenAIStyleError(
                    400, "Invalid group query parameter. Expected comma-separated UUIDs.",
                    "invalid_request_error", "invalid_group",
                ) from None
    _flag("available_for_realtime", query.get("available_for_realtime"))
    _flag("include_reasoning_capabilities", query.get("include_reasoning_capabilities"))
    try:
        users.from_key(token)
    except Exception:
        raise OpenAIStyleError(401, "Invalid API key", "authentication_error", "invalid_api_key") from None
    data = [
        {"id": m.name, "object": "model", "created": m.created, "owned_by": "None"}
        for m in sorted(models, key=lambda m: m.name)
    ]
    return {"object": "list", "data": data}

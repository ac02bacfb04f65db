"""A bare Starlette app for `bench.batches`: one route returning a prebuilt ~0.9 KB JSON batch object.

    python -m uvicorn bench.bare_app:app --loop uvloop --http httptools --no-access-log --log-level warning --port P

It is the ceiling for `GET /v1/batches/{id}` on the same stack (uvicorn + uvloop + httptools, one
worker, orjson bytes), with no auth, storage or status derivation.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BATCH = {
    "id": "0a6f3c1e-5b7d-4c2a-9e8f-1d2c3b4a5f60",
    "object": "batch",
    "endpoint": "/v1/chat/completions",
    "errors": None,
    "input_file_id": "7e1d2c3b-4a5f-4061-8a6f-3c1e5b7d4c2a",
    "completion_window": "24h",
    "status": "completed",
    "output_file_id": "9e8f1d2c-3b4a-45f6-80a6-f3c1e5b7d4c2",
    "error_file_id": "3b4a5f60-0a6f-43c1-a5b7-d4c2a9e8f1d2",
    "created_at": 1767225600,
    "in_progress_at": 1767225601,
    "expires_at": 1767312000,
    "finalizing_at": 1767227412,
    "completed_at": 1767227412,
    "failed_at": None,
    "expired_at": None,
    "cancelling_at": None,
    "cancelled_at": None,
    "request_counts": {"total": 50000, "completed": 50000, "failed": 0},
    "metadata": {
        "request_source": "api",
        "created_by_email": "user@example.com",
        "description": "nightly evaluation run",
        "team": "platform-inference",
        "project": "batch-sim-bench",
    },
    "analytics": {
        "total_requests": 50000,
        "pending_requests": 0,
        "in_progress_requests": 0,
        "completed_requests": 50000,
        "failed_requests": 0,
        "total_tokens": 30700000,
        "total_cost": "12.3456789",
    },
}
BODY = orjson.dumps(_BATCH)


async def get_batch(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/v1/batches/{batch_id}", get_batch, methods=["GET"])])

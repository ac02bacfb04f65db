"""Presentation helpers for the console: times, sizes, progress, decoded failure reasons, answer summaries.

Pure functions over the API's own JSON shapes (`render.batch_object`, `render.file_object`, result and
error lines), so the pages show exactly what the API would answer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

LINE_OF_MESSAGE = re.compile(r"^(?:Invalid JSON on line|Line) (\d+)\b")

# (API field, label) in the order a batch goes through them
TIMELINE = (
    ("created_at", "Created"),
    ("in_progress_at", "In progress"),
    ("finalizing_at", "Finalizing"),
    ("completed_at", "Completed"),
    ("failed_at", "Failed"),
    ("cancelling_at", "Cancelling"),
    ("cancelled_at", "Cancelled"),
    ("expired_at", "Past its window"),
)

REASONS = {
    "NonRetriableHttpStatus": "the model rejected the request (not retried)",
    "RetriableHttpStatus": "the model kept failing; retries ran out",
    "NetworkError": "network error reaching the model",
    "Timeout": "the model did not answer in time",
    "BatchTerminated": "the batch was stopped",
}


def when(ts: float | int | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float) -> str:
    """A short human duration: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def relative(ts: float | int | None, now: float) -> str:
    """Relative to the simulator's clock (not the browser's): `in 23 h 59 min`, `5 s ago`, `now`."""
    if ts is None:
        return ""
    delta = float(ts) - now
    if abs(delta) < 1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


def size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value:.1f} TiB"


def money(text: str) -> str:
    """A decimal string from the cost estimate, as dollars with enough digits to be non-zero."""
    try:
        value = float(text)
    except ValueError:
        return text
    if value == 0:
        return "$0"
    return f"${value:.6f}".rstrip("0").rstrip(".") if value < 0.01 else f"${value:,.2f}"


def progress(counts: dict[str, int]) -> dict[str, Any]:
    total, completed, failed = counts["total"], counts["completed"], counts["failed"]
    ok = 100.0 * completed / total if total else 0.0
    bad = 100.0 * failed / total if total else 0.0
    label = f"{completed + failed} / {total} done"
    if failed:
        label += f" ({failed} failed)"
    return {
        "total": total, "completed": completed, "failed": failed, "done": completed + failed,
        "ok_pct": f"{ok:.2f}", "bad_pct": f"{bad:.2f}", "bad_x": f"{ok:.2f}", "label": label,
    }


def timeline(batch: dict[str, Any], now: float) -> list[dict[str, str]]:
    out = []
    for key, label in TIMELINE:
        if key in batch:
            out.append({"key": key, "label": label, "when": when(batch[key]), "ago": relative(batch[key], now)})
    return out


def line_of(message: str) -> int | None:
    """The request line (non-blank lines, 1-based) an upload error names, if any."""
    found = LINE_OF_MESSAGE.match(message)
    return int(found.group(1)) if found else None


def _body_text(body: Any) -> str:
    """The useful part of an upstream error body: `error.message`, `message`, or the text itself."""
    parsed = body
    if isinstance(body, str):
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for key in ("message", "detail", "error"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
    return body if isinstance(body, str) else orjson.dumps(body).decode()


def reason(message: str | None) -> dict[str, str]:
    """An error line's `error.message` (a `FailureReason` as a JSON string) decoded for people:
    `{"kind": "NonRetriableHttpStatus", "summary": "HTTP 400: temperature must be ...", "meaning": ...}`."""
    if not message:
        return {"kind": "", "summary": "", "meaning": ""}
    try:
        parsed = orjson.loads(message)
    except orjson.JSONDecodeError:
        return {"kind": "", "summary": message, "meaning": ""}
    if not isinstance(parsed, dict) or "type" not in parsed:
        return {"kind": "", "summary": message, "meaning": ""}
    kind = str(parsed["type"])
    details = parsed.get("details")
    summary = ""
    if isinstance(details, dict):
        if "status" in details:
            summary = f"HTTP {details['status']}: {_body_text(details.get('body', ''))}"
        elif "error" in details:
            summary = str(details["error"])
    return {"kind": kind, "summary": summary, "meaning": REASONS.get(kind, "")}


def answer(body: Any) -> str:
    """A one-line summary of a model answer in any of the five endpoint shapes."""
    if not isinstance(body, dict):
        return "" if body is None else str(body)[:200]
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        message = first.get("message")
        if isinstance(message, dict):
            if message.get("content"):
                return str(message["content"])
            calls = message.get("tool_calls")
            if isinstance(calls, list) and calls:
                fn = calls[0].get("function", {}) if isinstance(calls[0], dict) else {}
                return f"tool call {fn.get('name', '')}({fn.get('arguments', '')})"
        if isinstance(first.get("text"), str):
            return str(first["text"])
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict) and "embedding" in data[0]:
        vector = data[0]["embedding"]
        return f"embedding, {len(vector)} dimensions" if isinstance(vector, list) else "embedding"
    output = body.get("output")
    if isinstance(output, list):
        for item in output:
            for part in item.get("content", []) if isinstance(item, dict) else []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    return str(part["text"])
    content = body.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                return str(part["text"])
    return orjson.dumps(body).decode()[:200]


def pretty(value: Any, limit: int = 4000) -> str:
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return text if len(text) <= limit else text[:limit] + "\n…"

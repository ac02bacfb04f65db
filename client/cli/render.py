"""Human-readable text for batches, lists, result and error lines, and cost estimates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from client.models import Batch, ResultLine, parse_record


def when(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def counts(batch: Batch) -> str:
    c = batch.request_counts
    return f"{c.done}/{c.total} done ({c.completed} completed, {c.failed} failed)"


def batch_block(batch: Batch) -> str:
    rows = [
        ("batch", f"{batch.id}  {batch.status}"),
        ("requests", counts(batch)),
        ("endpoint", f"{batch.endpoint}  window {batch.completion_window}"),
        ("created", when(batch.created_at)),
    ]
    for name in ("in_progress_at", "completed_at", "failed_at", "cancelled_at", "expires_at", "expired_at"):
        if batch.timestamp(name) is not None:
            rows.append((name.removesuffix("_at").replace("_", " "), when(batch.timestamp(name))))
    rows += [("input", batch.input_file_id or "(deleted)"), ("output", batch.output_file_id or "-"),
             ("errors", batch.error_file_id or "-")]
    return "\n".join(f"{name:<12}{value}" for name, value in rows)


def batch_row(batch: Batch) -> str:
    c = batch.request_counts
    return f"{batch.id}  {batch.status:<11} {when(batch.created_at)}  {c.done:>6}/{c.total:<6} {c.failed:>6} failed"


def _short(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def answer(body: Any) -> str:
    """The text of a response body, whichever endpoint produced it."""
    if not isinstance(body, dict):
        return str(body)
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        message = first.get("message")
        if isinstance(message, dict):
            calls = message.get("tool_calls")
            if calls:
                return "tool calls: " + ", ".join(str(c.get("function", {}).get("name")) for c in calls)
            return str(message.get("content") or "")
        return str(first.get("text") or "")
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict) and "embedding" in data[0]:
        return f"[embedding, {len(data[0]['embedding'])} dimensions]"
    for key in ("output", "content"):  # responses, messages
        parts = body.get(key)
        if isinstance(parts, list):
            texts = [str(p["text"]) for p in _flatten(parts) if isinstance(p.get("text"), str)]
            if texts:
                return " ".join(texts)
    return str(body)


def _flatten(parts: list[Any]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, dict):
            flat.append(part)
            if isinstance(part.get("content"), list):
                flat += _flatten(part["content"])
    return flat


def reason(line: ResultLine) -> str:
    """Why a request failed, from the live tagged form `{"type", "details": {"status", "body"}}`."""
    failure = line.failure
    if failure is None:
        return line.error_message or "unknown error"
    found = failure.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    text = str(failure.get("type", "error"))
    if "status" in details:
        text += f" {details['status']}"
    body = details.get("body") or details.get("error")
    if isinstance(body, str):
        inner = parse_record(body).get("error")
        message = inner.get("message") if isinstance(inner, dict) else inner
        text += f": {message if isinstance(message, str) else body}"
    return text


def result_line(line: ResultLine) -> str:
    if line.ok:
        return f"{line.custom_id}: {_short(answer(line.body))}"
    return f"{line.custom_id}: ERROR {_short(reason(line))}"


def estimate(data: dict[str, Any], window: str) -> str:
    lines = [
        f"file {data.get('file_id')}: {data.get('total_requests')} requests, "
        f"~{data.get('total_estimated_input_tokens')} input and ~{data.get('total_estimated_output_tokens')} "
        f"output tokens",
        f"estimated cost ({window}): {data.get('total_estimated_cost')}",
    ]
    for model in data.get("models") or []:
        if isinstance(model, dict):
            cost = model.get("estimated_cost")
            lines.append(f"  {model.get('model')}: {model.get('request_count')} requests, {cost}")
    return "\n".join(lines)

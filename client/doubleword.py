"""`DoublewordClient`: every route of the Batch API, and the whole job on top of them (submit, wait,
read results as they appear, resubmit failures). Synchronous, over httpx."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from client import batchfile, retryfile
from client.batchfile import Limits
from client.clock import Clock, SystemClock
from client.config import resolve_api_key, resolve_base_url
from client.errors import APIStatusError, DoublewordError
from client.http import ApiSession
from client.lines import LineReader
from client.models import Batch, ContentPage, FileObject, ResultLine
from client.pagination import iter_list
from client.polling import PollSchedule, ProgressCallback, schedule_for, wait_for_batch
from client.retrying import Kind, RetryPolicy

Source = bytes | str | os.PathLike[str]


class DoublewordClient:
    """A client for the Doubleword Batch API (or the simulator).

    `api_key` and `base_url` default to `DOUBLEWORD_API_KEY` and `DOUBLEWORD_BASE_URL` (then the live
    `https://api.doubleword.ai/v1`). `clock` is where all waiting happens (polls, retry waits): pass a
    `SimulatorClock` to run against a simulator's manual clock. `poll` is how status polls are spaced
    (default: `schedule_for(base_url)`, short on a loopback host); `poll_interval` alone replaces its
    first wait. The first wait is also the wait between reads of a growing file.
    """

    def __init__(
        self, api_key: str | None = None, base_url: str | None = None, *, timeout: float = 60.0,
        retry: RetryPolicy | None = None, clock: Clock | None = None, poll_interval: float | None = None,
        poll: PollSchedule | None = None, transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self.clock: Clock = clock or SystemClock()
        schedule = poll or schedule_for(self.base_url)
        if poll_interval is not None:
            schedule = PollSchedule(poll_interval, schedule.backoff, max(schedule.maximum, poll_interval))
        self.poll = schedule
        self.poll_interval = schedule.first
        self._session = ApiSession(
            self.base_url, resolve_api_key(api_key), timeout=timeout, policy=retry or RetryPolicy(),
            clock=self.clock, transport=transport,
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> DoublewordClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- files -------------------------------------------------------------------------------

    def upload_file(
        self, source: Source, *, filename: str | None = None, expires_after_seconds: int | None = None,
    ) -> FileObject:
        """Upload a batch file: `bytes` are its content, a `str`/path names a file on disk (streamed).
        Retried only on 429 (see `retrying`): a repeated upload could store the file twice."""
        data: dict[str, str] = {"purpose": "batch"}
        if expires_after_seconds is not None:
            data["expires_after[anchor]"] = "created_at"
            data["expires_after[seconds]"] = str(expires_after_seconds)

        def attempt() -> httpx.Response:
            if isinstance(source, bytes):
                part = (filename or "batch.jsonl", source, "application/jsonl")
                return self._session.send("POST", "/files", data=data, files={"file": part})
            path = Path(source)
            with path.open("rb") as handle:
                part_from_disk = (filename or path.name, handle, "application/jsonl")
                return self._session.send("POST", "/files", data=data, files={"file": part_from_disk})

        return FileObject.from_json(_json(self._session.retrying(attempt, Kind.CREATE)))

    def get_file(self, file_id: str) -> FileObject:
        return FileObject.from_json(self._session.json("GET", f"/files/{file_id}", Kind.READ))

    def list_files(
        self, *, purpose: str | None = None, order: str | None = None, search: str | None = None, page_size: int = 100,
    ) -> Iterator[FileObject]:
        """Every file of this key, page after page (newest first unless `order="asc"`)."""
        params = _present(limit=page_size, purpose=purpose, order=order, search=search)
        for item in iter_list(lambda p: self._session.json("GET", "/files", Kind.READ, params=p), params):
            yield FileObject.from_json(item)

    def delete_file(self, file_id: str) -> bool:
        """Delete a file; deleting a batch's input file cancels that batch if it is still running."""
        return bool(self._session.json("DELETE", f"/files/{file_id}", Kind.CHANGE).get("deleted"))

    def file_content(
        self, file_id: str, *, skip: int | None = None, limit: int | None = None, search: str | None = None,
    ) -> ContentPage:
        """One read of a file's lines (`limit` is clamped by the server to 1..101; none: the remainder)."""
        params = _present(skip=skip, limit=limit, search=search)
        return _page(self._session.request("GET", f"/files/{file_id}/content", Kind.READ, params=params))

    def cost_estimate(self, file_id: str, completion_window: str = "24h") -> dict[str, Any]:
        return _json(self._session.request(
            "GET", f"/files/{file_id}/cost-estimate", Kind.READ, params={"completion_window": completion_window}))

    def iter_file_lines(
        self, file_id: str, *, start: int = 0, follow: bool = False, poll_interval: float | None = None,
        page_size: int | None = None,
    ) -> Iterator[ResultLine]:
        """The lines of a file from line `start`; with `follow`, wait for more while `X-Incomplete` says so."""
        return iter(LineReader(self._session, file_id, start=start, follow=follow, page_size=page_size,
                               poll_interval=poll_interval or self.poll_interval))

    # --- batches -----------------------------------------------------------------------------

    def create_batch(
        self, input_file_id: str, *, endpoint: str = batchfile.CHAT_URL, completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
    ) -> Batch:
        """Create a batch (never retried but on 429: a repeated create could run the batch twice)."""
        payload: dict[str, Any] = {"input_file_id": input_file_id, "endpoint": endpoint,
                                   "completion_window": completion_window}
        if metadata:
            payload["metadata"] = dict(metadata)
        return Batch.from_json(self._session.json("POST", "/batches", Kind.CREATE, json=payload))

    def get_batch(self, batch_id: str) -> Batch:
        return Batch.from_json(self._session.json("GET", f"/batches/{batch_id}", Kind.READ))

    def list_batches(
        self, *, status: str | None = None, search: str | None = None, page_size: int = 100,
    ) -> Iterator[Batch]:
        """Every batch of this key, newest first, page after page."""
        params = _present(limit=page_size, status=status, search=search)
        for item in iter_list(lambda p: self._session.json("GET", "/batches", Kind.READ, params=p), params):
            yield Batch.from_json(item)

    def cancel_batch(self, batch_id: str) -> Batch:
        return Batch.from_json(self._session.json("POST", f"/batches/{batch_id}/cancel", Kind.CHANGE))

    def delete_batch(self, batch_id: str) -> None:
        self._session.request("DELETE", f"/batches/{batch_id}", Kind.CHANGE)

    def retry_batch(self, batch_id: str) -> Batch:
        """Server-side retry: failed and cancelled requests of this batch go back to pending."""
        return Batch.from_json(self._session.json("POST", f"/batches/{batch_id}/retry", Kind.CHANGE))

    def retry_requests(self, batch_id: str, request_ids: Sequence[str]) -> Batch:
        """Server-side retry of chosen requests (bare UUIDs, or `batch_req_<uuid>` from result lines)."""
        ids = [rid.removeprefix("batch_req_") for rid in request_ids]
        return Batch.from_json(self._session.json(
            "POST", f"/batches/{batch_id}/retry-requests", Kind.CHANGE, json={"request_ids": ids}))

    def batch_results(
        self, batch_id: str, *, skip: int | None = None, limit: int | None = None, status: str | None = None,
        search: str | None = None,
    ) -> ContentPage:
        """`/batches/{id}/results`: every request with its input and outcome, in input order."""
        params = _present(skip=skip, limit=limit, status=status, search=search)
        return _page(self._session.request("GET", f"/batches/{batch_id}/results", Kind.READ, params=params))

    def analytics(self, batch_id: str) -> dict[str, Any]:
        return _json(self._session.request("GET", f"/batches/{batch_id}/analytics", Kind.READ))

    def models(self) -> list[dict[str, Any]]:
        data = self._session.json("GET", "/models", Kind.READ).get("data")
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    # --- the job -----------------------------------------------------------------------------

    def submit(
        self, source: Source | Sequence[Mapping[str, Any]], *, completion_window: str = "24h",
        endpoint: str | None = None, metadata: Mapping[str, str] | None = None, filename: str | None = None,
        limits: Limits = batchfile.DEFAULT_LIMITS, unique_ids: bool = True,
    ) -> Batch:
        """Check a batch file locally (lines, limits), upload it and create its batch. `source` is a
        path, JSONL bytes, or request lines. If the service refuses the batch, the upload is deleted."""
        if isinstance(source, bytes | str | os.PathLike):
            raw = source if isinstance(source, bytes) else Path(source).read_bytes()
            lines = batchfile.parse_jsonl(raw)
            name = filename or (None if isinstance(source, bytes) else Path(source).name)
        else:
            lines, name = list(source), filename
        data = batchfile.check_file(lines, limits, unique_ids=unique_ids)
        uploaded = self.upload_file(data, filename=name or "batch.jsonl")
        try:
            return self.create_batch(uploaded.id, endpoint=endpoint or batchfile.endpoint_of(lines),
                                     completion_window=completion_window, metadata=metadata)
        except APIStatusError:  # refused, so nothing was created: do not leave the upload behind
            with contextlib.suppress(DoublewordError):
                self.delete_file(uploaded.id)
            raise

    def wait(
        self, batch_id: str, *, poll_interval: float | None = None, backoff: float | None = None,
        max_interval: float | None = None, timeout: float | None = None, on_progress: ProgressCallback | None = None,
    ) -> Batch:
        """Poll until the batch is completed, failed, cancelled (or expired) and return it. The
        spacing is the client's `poll` schedule, with any of its parts given here replaced."""
        return wait_for_batch(
            lambda: self.get_batch(batch_id), self.clock, poll_interval=poll_interval or self.poll.first,
            backoff=self.poll.backoff if backoff is None else backoff,
            max_interval=self.poll.maximum if max_interval is None else max_interval,
            timeout=timeout, on_progress=on_progress,
        )

    def iter_results(
        self, batch_id: str, *, start: int = 0, follow: bool = True, poll_interval: float | None = None,
        page_size: int | None = None,
    ) -> Iterator[ResultLine]:
        """The batch's output lines as they appear, from line `start`. Each line's `position` is the
        `start` that resumes right after it, in this program or a later one. With `follow`, keeps
        going until the batch has ended and every line was read."""
        return self._iter_batch_file(batch_id, "output_file_id", start, follow, poll_interval, page_size)

    def iter_errors(
        self, batch_id: str, *, start: int = 0, follow: bool = True, poll_interval: float | None = None,
        page_size: int | None = None,
    ) -> Iterator[ResultLine]:
        """The batch's error lines as they appear; see `iter_results`."""
        return self._iter_batch_file(batch_id, "error_file_id", start, follow, poll_interval, page_size)

    def _iter_batch_file(
        self, batch_id: str, which: str, start: int, follow: bool, poll_interval: float | None, page_size: int | None,
    ) -> Iterator[ResultLine]:
        file_id = self.get_batch(batch_id).raw.get(which)
        if not file_id:
            return iter(())
        return iter(LineReader(
            self._session, str(file_id), start=start, follow=follow, page_size=page_size,
            poll_interval=poll_interval or self.poll_interval,
            finished=lambda: self.get_batch(batch_id).is_final,
        ))

    def input_lines(self, batch: Batch) -> list[dict[str, Any]]:
        """The request lines of a batch's input file, as the service stored them."""
        if not batch.input_file_id:
            raise DoublewordError(f"the input file of batch {batch.id} was deleted")
        return [line.data for line in self.iter_file_lines(batch.input_file_id)]

    def failed_requests(
        self, batch_id: str, error_lines: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """The input lines of the requests in `error_lines` (default: the batch's error file so far)."""
        errors = [line.data for line in self.iter_errors(batch_id, follow=False)] if error_lines is None else error_lines
        if not errors:
            return []
        return retryfile.retry_lines(self.input_lines(self.get_batch(batch_id)), errors)

    def retry_failed(
        self, batch_id: str, *, completion_window: str | None = None, metadata: Mapping[str, str] | None = None,
        error_lines: Sequence[Mapping[str, Any]] | None = None,
    ) -> Batch | None:
        """Resubmit the requests that failed so far (or those of `error_lines`, e.g. only the ones
        `retryfile.not_worth_retrying` lets through) as a new batch (same endpoint and window unless
        given), tagged `retry_of: <batch_id>` in its metadata. None when there is nothing to resubmit."""
        lines = self.failed_requests(batch_id, error_lines)
        if not lines:
            return None
        original = self.get_batch(batch_id)
        return self.submit(
            lines, completion_window=completion_window or original.completion_window or "24h",
            endpoint=original.endpoint or None, metadata={"retry_of": batch_id, **(metadata or {})},
            filename=f"batch-{batch_id}-retry.jsonl", unique_ids=False,
        )


def _present(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _json(response: httpx.Response) -> dict[str, Any]:
    parsed = response.json()
    return parsed if isinstance(parsed, dict) else {}


def _page(response: httpx.Response) -> ContentPage:
    last = response.headers.get("x-last-line")
    return ContentPage(
        lines=[line for line in response.text.split("\n") if line.strip()],
        last_line=int(last) if last is not None and last.strip().isdigit() else None,
        incomplete=response.headers.get("x-incomplete", "false").strip().lower() == "true",
    )



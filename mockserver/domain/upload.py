"""One file upload, received as a stream: fields in any order, request lines validated as they arrive.

All or nothing: the body goes to a temporary file and the lines' byte spans to memory; `commit`
makes both durable and only then records the file; any error (or `abort`) leaves no trace. Nothing
here knows about HTTP or multipart; the wire layer calls `field`, `begin_file`, `feed`, `end_file`.

Lines are checked (`line_scan.LineScanner`) on the caller's thread as each chunk arrives, so an
invalid line fails the `feed` that completes it. (Checking in a worker process, fed by the spool
thread, was built and measured: on two cores it was no faster, so it was dropped.) The temporary file is written by a worker thread
(`_Spool`), so disk writes overlap receiving and checking; the thread also starts the disk writes
early, so the fsync in `commit` has little left to wait for.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from collections.abc import Callable
from pathlib import Path

from mockserver.domain.line_scan import LineScanner
from mockserver.domain.validation import LineRules
from mockserver.errors import BadRequest, PayloadTooLarge
from mockserver.store import FileRow, Store, raise_if_full

_INTEGER = re.compile(r"[+-]?[0-9]+")
# The writer thread takes the body in batches of at least _BATCH_BYTES (or _BATCH_PIECES chunks, as
# writev takes at most IOV_MAX buffers), one at a time.
_BATCH_BYTES = 256 * 1024
_BATCH_PIECES = 64
_PENDING = 2  # batches handed over and not yet written: the caller blocks only beyond this
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
_writev = getattr(os, "writev", None)  # not on Windows


class _Spool:
    """A file written by a worker thread.

    `write` collects chunks and hands them over in batches (fewer hand-overs, fewer GIL switches);
    up to `_PENDING` batches may wait for the thread, so the caller does not stop at every batch to
    let the thread take the GIL, and at most `_PENDING + 1` batches (about 0.8 MB) are held.
    `close` waits for the writes, fsyncs once and closes (one fsync of the whole file measured far
    cheaper than syncing as it goes); `discard` drops what is not written yet and closes. An error
    in the thread is re-raised by the next `write` or by `close`.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, _OPEN_FLAGS, 0o666)
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=_PENDING)
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._error: BaseException | None = None
        self._discarding = False
        self._thread = threading.Thread(target=self._run, name=f"upload-spool-{path.name}", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._batch.append(data)
        self._batch_bytes += len(data)
        if self._batch_bytes >= _BATCH_BYTES or len(self._batch) >= _BATCH_PIECES:
            self._hand_over()

    def close(self) -> None:
        """Wait for the writes, then make the file durable; the file is closed either way."""
        self._hand_over()
        self._stop()
        try:
            if self._error is not None:
                raise self._error
            os.fsync(self._fd)
        finally:
            os.close(self._fd)

    def discard(self) -> None:
        self._discarding = True
        self._stop()
        os.close(self._fd)

    def _hand_over(self) -> None:
        if self._batch:
            self._queue.put(self._batch)  # waits only while `_PENDING` batches are not written yet
            self._batch = []
            self._batch_bytes = 0

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                if self._error is None and not self._discarding:
                    _write_all(self._fd, batch)
            except BaseException as exc:  # handed to the caller's thread
                self._error = exc
            finally:
                del batch  # not held while waiting for the next one
                self._queue.task_done()


def _write_all(fd: int, buffers: list[bytes]) -> int:
    """Write the buffers in order with one `writev` (one GIL release), finishing any short write."""
    written = _writev(fd, buffers) if _writev is not None else 0
    total = written
    for data in buffers:
        if written >= len(data):
            written -= len(data)
            continue
        rest = memoryview(data)[written:]
        written = 0
        while rest:
            n = os.write(fd, rest)
            total += n
            rest = rest[n:]
    return total


# Live adds `expires_after[seconds]` with chrono (fusillade postgres.rs: `anchor.checked_add_signed(
# Duration::seconds(s))`, chrono 0.4.44): a date past chrono's range (years -262143 to 262142) is
# None, so the file gets no expiry; more than i64::MAX / 1000 seconds makes `Duration::seconds` panic
# on live. Here that too gives no expiry (the fidelity table says so).
_LATEST_EXPIRY = 8_210_266_876_799  # 262142-12-31T23:59:59Z
_EARLIEST_EXPIRY = -8_334_601_315_200  # -262143-01-01T00:00:00Z
_MOST_SECONDS = (2**63 - 1) // 1000


def expiry(now: int, seconds: int) -> int | None:
    """When a file uploaded at `now` with a lifetime of `seconds` expires; None for never."""
    if abs(seconds) > _MOST_SECONDS or not _EARLIEST_EXPIRY <= now + seconds <= _LATEST_EXPIRY:
        return None
    return now + seconds


OPENAI_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


class Upload:
    def __init__(
        self,
        store: Store,
        rules: LineRules,
        *,
        owner: str,
        file_id: str,
        check_lines: bool = True,
        max_file_size: int,
        max_requests: int,
        default_ttl: int,
        now: Callable[[], float],
    ) -> None:
        self._store = store
        self._check_lines = check_lines  # False (OpenAI profile): any JSONL; lines are checked per batch
        self._scanner = LineScanner(rules, max_requests, check_lines)
        self.owner = owner
        self.file_id = file_id
        self._max_size = max_file_size
        self._default_ttl = default_ttl
        self._now = now
        self.purpose: str | None = None
        self.expires_after_seconds: int | None = None
        self.filename: str | None = None
        self._temp = store.temp_path(file_id)
        self._out: _Spool | None = None
        self._seen_file = False
        self._size = 0

    @property
    def lines(self) -> int:
        return self._scanner.lines

    # -- simple fields ----------------------------------------------------------------------------
    def field(self, name: str, value: str) -> None:
        if name == "purpose":
            if not self._check_lines and value in OPENAI_PURPOSES:
                self.purpose = value
                return
            if not self._check_lines:
                raise BadRequest(f"Invalid purpose '{value}'.", param="purpose", openai_message=(
                    f"'{value}' is not one of {list(OPENAI_PURPOSES)} - 'purpose'"))
            if value.lower() != "batch":
                raise BadRequest(f"Invalid purpose '{value}'. Only 'batch' is supported.")
            self.purpose = value
        elif name == "expires_after[seconds]" and _INTEGER.fullmatch(value) and -(2**63) <= int(value) < 2**63:
            self.expires_after_seconds = int(value)  # live: an i64, anything else silently ignored
        # expires_after[anchor] is accepted and ignored (any anchor means created_at); others ignored

    # -- the file part ----------------------------------------------------------------------------
    def begin_file(self, filename: str | None) -> None:
        self.filename = filename
        self._seen_file = True
        if self._out is None:
            self._out = _Spool(self._temp)

    def feed(self, data: bytes) -> None:
        assert self._out is not None, "feed before begin_file"
        self._size += len(data)
        if self._max_size and self._size > self._max_size:
            raise PayloadTooLarge(f"File exceeds the maximum allowed size of {self._max_size} bytes")
        try:
            self._out.write(data)  # re-raises the writer thread's error, a full disk among them
        except OSError as exc:
            raise_if_full(exc)
            raise
        self._scanner.feed(data)

    def end_file(self) -> None:
        self._scanner.end_part()

    # -- outcome ----------------------------------------------------------------------------------
    def commit(self) -> FileRow:
        if not self._seen_file:
            raise BadRequest("No file field found in multipart upload")
        if not self._check_lines:
            self._check_openai_upload()
        assert self._out is not None
        out, self._out = self._out, None
        try:
            out.close()
        except OSError as exc:  # the last writes, or the fsync, found the disk full
            raise_if_full(exc)
            raise
        lines, spans = self._scanner.lines, self._scanner.spans
        now = self._now()
        ttl = self.expires_after_seconds if self.expires_after_seconds is not None else self._default_ttl
        row = FileRow(
            id=self.file_id,
            owner=self.owner,
            kind="input",
            filename=self.filename if self.filename is not None else f"upload-{self.file_id}",
            purpose=self.purpose,
            bytes=self._size,
            created_at=now,
            expires_at=expiry(int(now), ttl),
            line_count=lines,
            batch_id=None,
            deleted=False,
        )
        try:
            self._store.keep_blob(self._temp, self.file_id)
            self._store.insert_file(row, spans)
        except BaseException:  # e.g. SQLite found the disk full: no body without its row
            self._store.blob_path(self.file_id).unlink(missing_ok=True)
            raise
        return row

    def _check_openai_upload(self) -> None:
        if self.purpose is None:
            raise BadRequest("Missing required parameter: 'purpose'.", param="purpose")
        if self.purpose == "batch" and not (self.filename or "").endswith(".jsonl"):
            raise BadRequest("Invalid file format for Batch API. Must be .jsonl")

    def abort(self) -> None:
        if self._out is not None:
            out, self._out = self._out, None
            out.discard()
        self._temp.unlink(missing_ok=True)

"""One file upload, received as a stream: fields in any order, request lines validated as they arrive.

All or nothing: the body goes to a temporary file and the lines' byte spans to memory; `commit`
makes both durable and only then records the file; any error (or `abort`) leaves no trace. Nothing
here knows about HTTP or multipart; the wire layer calls `field`, `begin_file`, `feed`, `end_file`.

Lines are checked (`line_scan.LineScanner`) on the caller's thread as each chunk arrives, so an
invalid line fails the `feed` that completes it; or, for a large upload, in a worker process
(`scan_pool.RemoteScan`) that the spool thread forwards the body to, so checking overlaps receiving:
its first error fails the next `feed` (or `commit`), and `abort` lets it finish what came before a
failure, so an earlier bad line still wins. The temporary file is written by a worker thread
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
from mockserver.domain.scan_pool import RemoteScan
from mockserver.domain.validation import LineRules
from mockserver.errors import ApiError, BadRequest, PayloadTooLarge
from mockserver.store import FileRow, Store

_INTEGER = re.compile(r"[+-]?[0-9]+")
# The writer thread takes the body in batches of at least _BATCH_BYTES (or _BATCH_PIECES chunks, as
# writev takes at most IOV_MAX buffers), one at a time.
_BATCH_BYTES = 256 * 1024
_BATCH_PIECES = 64
_SYNC_EVERY = 8 * 1024 * 1024  # bytes written between two fdatasyncs
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
_fdatasync = getattr(os, "fdatasync", os.fsync)  # not on macOS or Windows
_writev = getattr(os, "writev", None)  # not on Windows


class _Spool:
    """A file written by a worker thread.

    `write` collects chunks and hands them over in batches (fewer hand-overs, fewer GIL switches),
    each once the thread has written the one before, so at most two batches are held: one being
    collected, one being written. `close` waits for the writes, fsyncs and closes; `discard` drops
    what is not written yet and closes. An error in the thread is re-raised by the next `write` or
    by `close`. The thread also fdatasyncs every `_SYNC_EVERY` bytes, so little is left for `close`.
    """

    def __init__(self, path: Path, forward: RemoteScan | None = None) -> None:
        self._fd = os.open(path, _OPEN_FLAGS, 0o666)
        self._forward = forward  # also hand every batch, in order, to this line-checking worker
        self._queue: queue.Queue[list[bytes] | str | None] = queue.Queue()
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

    def mark_part_end(self) -> None:
        """Tell the worker, after the data before it, that a file part ended."""
        self._hand_over()
        self._queue.put("part-end")

    def flush(self) -> None:
        """Wait until everything written so far is written (and forwarded)."""
        self._hand_over()
        self._queue.join()

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
            self._queue.join()  # the previous batch is written
            self._queue.put(self._batch)
            self._batch = []
            self._batch_bytes = 0

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        unsynced = 0
        forward = self._forward
        while (batch := self._queue.get()) is not None:
            try:
                if isinstance(batch, str):
                    if forward is not None and self._error is None and not self._discarding:
                        forward.end_part()
                elif self._error is None and not self._discarding:
                    unsynced += _write_all(self._fd, batch)
                    if forward is not None:
                        forward.data(batch)
                    if unsynced >= _SYNC_EVERY:
                        _fdatasync(self._fd)
                        unsynced = 0
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
        remote: RemoteScan | None = None,
        release: Callable[[RemoteScan], None] | None = None,
    ) -> None:
        self._store = store
        self._check_lines = check_lines  # False (OpenAI profile): any JSONL; lines are checked per batch
        # the lines are checked here, or by a worker process the spool thread forwards the body to
        self._scanner = LineScanner(rules, max_requests, check_lines)
        self._remote = remote
        self._release = release
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
            self._out = _Spool(self._temp, self._remote)

    def feed(self, data: bytes) -> None:
        assert self._out is not None, "feed before begin_file"
        self._size += len(data)
        if self._max_size and self._size > self._max_size:
            raise PayloadTooLarge(f"File exceeds the maximum allowed size of {self._max_size} bytes")
        self._out.write(data)
        if self._remote is None:
            self._scanner.feed(data)
        elif (found := self._remote.poll()) is not None:
            raise found

    def end_file(self) -> None:
        if self._remote is None:
            self._scanner.end_part()
        else:
            assert self._out is not None
            self._out.mark_part_end()

    # -- outcome ----------------------------------------------------------------------------------
    def commit(self) -> FileRow:
        if not self._seen_file:
            raise BadRequest("No file field found in multipart upload")
        if not self._check_lines:
            self._check_openai_upload()
        assert self._out is not None
        out, self._out = self._out, None
        out.close()
        lines, spans = self._scanner.lines, self._scanner.spans
        if self._remote is not None:
            remote, self._remote = self._remote, None
            try:
                found, error = remote.finish(), remote.error
            finally:
                self._give_back(remote)
            if found is None:
                assert error is not None
                raise error
            lines, spans = found
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
            expires_at=int(now) + ttl,
            line_count=lines,
            batch_id=None,
            deleted=False,
        )
        self._store.keep_blob(self._temp, self.file_id)
        self._store.insert_file(row, spans)
        return row

    def _check_openai_upload(self) -> None:
        if self.purpose is None:
            raise BadRequest("Missing required parameter: 'purpose'.", param="purpose")
        if self.purpose == "batch" and not (self.filename or "").endswith(".jsonl"):
            raise BadRequest("Invalid file format for Batch API. Must be .jsonl")

    def abort(self) -> ApiError | None:
        """Drop everything received. With a worker checking the lines, first let it check what came
        before the failure and return its error, if it found one: that line came first in the body,
        so its error is the answer (as on the inline path, which raises it as the line arrives)."""
        earlier = None
        if self._remote is not None:
            remote, self._remote = self._remote, None
            try:
                if self._out is not None:
                    self._out.flush()
                remote.finish()
                earlier = remote.error
            except ApiError:  # the worker is gone: nothing earlier to report
                pass
            finally:
                self._give_back(remote)
        if self._out is not None:
            out, self._out = self._out, None
            out.discard()
        self._temp.unlink(missing_ok=True)
        return earlier

    def _give_back(self, remote: RemoteScan) -> None:
        if self._release is not None:
            self._release(remote)

"""The simulator the fuzz suite runs against, with its server log watched.

`DWSIM_FUZZ_TARGET` names it: `asgi` (default: the app in this process) or `http` (a
`python -m mockserver` child process), both from `mockserver.testing`, with a manual clock, seed 7
and small limits (`FUZZ_LIMITS`), so that files at and over every limit stay cheap to generate; or
`live` (the live service, `DOUBLEWORD_API_KEY`, optionally `DOUBLEWORD_BASE_URL`): a differential run
with a tiny budget (`profiles.LIVE_EXAMPLES` a test), where every failure is a place the simulator
and the live service disagree. On live, the files stay within the small limits (valid there too),
the tests of limits, of the clock and of the store are skipped (`simulator_only`), the known
differences run as plain tests (they assert what live does), and what each test created is deleted.

Besides the HTTP surface, the fuzz properties need two things the contract suite does not:
- the server's error log: in-process, a handler on the `mockserver` logger (which logs every
  unhandled exception) and on `asyncio` (background tasks); over HTTP, the child's output, read
  by a thread (which also keeps the pipe from filling up);
- for the in-process target, a look at the store behind the API (rows and files on disk), so
  "a rejected upload changes nothing" is checked below the API too.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from mockserver.testing import AsgiTarget, HttpTarget, Limits, LiveTarget, Target

TARGET_ENV = "DWSIM_FUZZ_TARGET"
TARGET = os.environ.get(TARGET_ENV, "asgi")
LIVE = TARGET == "live"
FUZZ_LIMITS = Limits(max_file_size=2 * 1024 * 1024, max_requests_per_file=200, max_request_body_size=64 * 1024)
FUZZ_FLAGS = (
    "--seed", "7",
    "--max-file-size", str(FUZZ_LIMITS.max_file_size),
    "--max-requests-per-file", str(FUZZ_LIMITS.max_requests_per_file),
    "--max-request-body-size", str(FUZZ_LIMITS.max_request_body_size),
)
_ERROR_LINE = re.compile(r"Traceback|unhandled error|\bERROR\b|\bCRITICAL\b")


class LogCollector(logging.Handler):
    """Keeps the text of every record at ERROR or above."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.sink.append(text)


class _WatchedHttpTarget(HttpTarget):
    """`HttpTarget`, with the child's output read to the end by a thread and its error lines kept."""

    def __init__(self, sink: list[str], flags: tuple[str, ...] = FUZZ_FLAGS) -> None:
        super().__init__(flags)
        stdout = self.proc.stdout
        assert stdout is not None

        def drain() -> None:
            for line in stdout:
                if _ERROR_LINE.search(line):
                    sink.append(line.rstrip())

        threading.Thread(target=drain, name="dwsim-fuzz-log", daemon=True).start()


@dataclass(frozen=True)
class StoreState:
    """What lies behind the API: row counts and the names of the stored and half-received bodies."""

    files: int
    batches: int
    blobs: tuple[str, ...]
    partial: tuple[str, ...]


class FuzzTarget:
    def __init__(self, name: str, extra_flags: tuple[str, ...] = ()) -> None:
        """`extra_flags` add to `FUZZ_FLAGS` (e.g. `--profile openai`)."""
        self.name = name
        self.errors: list[str] = []
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self.inner: Target
        if name == "asgi":
            self.inner = AsgiTarget((*FUZZ_FLAGS, *extra_flags))
            for logger_name in ("mockserver", "asyncio"):
                logger, handler = logging.getLogger(logger_name), LogCollector(self.errors)
                logger.addHandler(handler)
                self._handlers.append((logger, handler))
        elif name == "http":
            self.inner = _WatchedHttpTarget(self.errors, (*FUZZ_FLAGS, *extra_flags))
        elif name == "live":
            self.inner = LiveTarget()  # its server log is not ours to read: `watch` sees nothing
        else:
            raise ValueError(f"{TARGET_ENV}={name!r}: choose 'asgi', 'http' or 'live'")

    @property
    def limits(self) -> Limits:
        return self.inner.limits

    def new_key(self) -> str:
        return self.inner.new_key()

    @contextmanager
    def user(self, key: str | None = None) -> Iterator[httpx.Client]:
        """A client for `key` (default: a new user; on live, one of its two keys), closed at the end of
        the block (on live, what the block created is deleted then)."""
        client = self.inner.client(self.new_key() if key is None else key)
        try:
            yield client
        finally:
            client.close()
            self.clean_up()  # on live, whose two keys every example shares: leave the account empty

    def advance(self, seconds: float) -> None:
        """Move the manual clock (through the control API, on the session's event loop)."""
        client = self.inner.client(None)
        try:
            headers: dict[str, str] = getattr(self.inner, "control_headers", {})  # with --control-token
            response = client.post(self.inner.root_url + "/_mock/clock/advance", json={"seconds": seconds},
                                   headers=headers)
            assert response.status_code == 200, response.text
        finally:
            client.close()

    @contextmanager
    def watch(self) -> Iterator[None]:
        """Fail if the server logs an error (an unhandled exception) while the block runs. Errors
        are reported once: a block that fails anyway (an xfail, say) takes its errors with it."""
        start = len(self.errors)
        try:
            yield
        except BaseException:
            if self.name == "http":
                time.sleep(0.1)  # let the reader thread catch up with the child's output
            del self.errors[start:]
            raise
        logged = self.errors[start:]
        del self.errors[start:]
        assert not logged, "the server logged errors:\n" + "\n".join(logged)

    def clean_up(self) -> None:
        """On live: cancel and delete what the last test created."""
        if isinstance(self.inner, LiveTarget):
            self.inner.clean_up()

    def store_state(self) -> StoreState | None:
        """The store behind the API (in-process target only; None over HTTP)."""
        if not isinstance(self.inner, AsgiTarget):
            return None
        store = self.inner.backend.store
        data_dir: Path = store.data_dir
        # a read-only connection of our own sees only committed rows, whatever the app is doing
        with closing(sqlite3.connect(f"file:{data_dir / 'state.sqlite3'}?mode=ro", uri=True)) as db:
            files = int(db.execute("SELECT count(*) FROM files").fetchone()[0])
            batches = int(db.execute("SELECT count(*) FROM batches").fetchone()[0])
        return StoreState(
            files=files,
            batches=batches,
            blobs=tuple(sorted(p.name for p in store.blob_dir.iterdir())),
            partial=tuple(sorted(p.name for p in store.tmp_dir.iterdir())),
        )

    def close(self) -> None:
        for logger, handler in self._handlers:
            logger.removeHandler(handler)
        self.inner.close()

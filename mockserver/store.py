"""Durable state: one SQLite database (WAL, synchronous=FULL) and a folder of uploaded file bodies.

The store knows records, not rules: it maps the domain's records (`FileRow`, `BatchRow`,
`RequestRow`) to rows and back, and nothing else in the simulator runs SQL. Every write that backs an
acknowledged create is committed (and the body fsynced) before the call returns.

The one write policy: every write goes through a method here. Writes made while answering a request
use the event loop's connection. The two writes that may run on a worker thread, so that a large
plan or an upstream's answers never hold up the loop, are `save_requests` (one transaction on a
connection of its own) and the read `batch_stopped`; worker threads never touch the caches. After
such a write the caller drops the batch's cached row on the event loop (`forget_batch`), and every
write bumps the batch's `version`, which the caches above the store (views, rendered JSON) compare.
A full disk is `errors.StorageFull`, with nothing of the write kept.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from array import array
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from mockserver.errors import StorageFull

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,              -- input | output | error
    filename TEXT NOT NULL,
    purpose TEXT,                    -- as stored: NULL when the upload named none
    bytes INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at INTEGER,
    line_count INTEGER NOT NULL DEFAULT 0,
    spans BLOB,                      -- input files: (start, end) byte offsets of each request line
    batch_id TEXT,                   -- output and error files: the batch they belong to
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS files_by_owner ON files (owner, deleted, created_at, id);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    input_file_id TEXT,              -- NULL once the input file is deleted (reported as "")
    source_file_id TEXT NOT NULL,    -- the input file it was created from (kept after deletion)
    endpoint TEXT NOT NULL,
    completion_window TEXT NOT NULL,
    metadata TEXT NOT NULL,          -- JSON object of strings
    created_at REAL NOT NULL,
    ready_at REAL NOT NULL,          -- end of validation: requests become runnable
    expires_at REAL NOT NULL,
    total INTEGER NOT NULL,
    output_file_id TEXT,
    error_file_id TEXT,
    cancelled_at REAL,
    scheduled INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    errors TEXT,                     -- OpenAI profile: JSON list of the input file's validation errors
    model TEXT,                      -- OpenAI profile: the one model of the input file
    output_expires_after INTEGER,    -- OpenAI profile: seconds its output and error files live (NULL: no expiry)
    version INTEGER NOT NULL DEFAULT 0  -- bumped by every write to the batch or its requests (cache key)
);
CREATE INDEX IF NOT EXISTS batches_by_owner ON batches (owner, deleted, created_at, id);
CREATE TABLE IF NOT EXISTS requests (
    batch_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    custom_id TEXT NOT NULL,
    model TEXT NOT NULL,
    start_at REAL NOT NULL,
    end_at REAL NOT NULL,
    ok INTEGER NOT NULL,             -- 1: ends in the output file, 0: in the error file
    line BLOB NOT NULL,              -- that file's line, newline included
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, idx)
);
CREATE INDEX IF NOT EXISTS requests_by_end ON requests (batch_id, ok, end_at, request_id);
CREATE TABLE IF NOT EXISTS responses (   -- stored Responses API objects (background ones move on the clock)
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    start_at REAL NOT NULL,
    end_at REAL NOT NULL,
    body BLOB NOT NULL,              -- the final response object
    cancelled_at REAL,
    deleted INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class FileRow:
    id: str
    owner: str
    kind: str
    filename: str
    purpose: str | None
    bytes: int
    created_at: float
    expires_at: int | None
    line_count: int
    batch_id: str | None
    deleted: bool


@dataclass(frozen=True)
class BatchRow:
    id: str
    owner: str
    input_file_id: str | None
    source_file_id: str
    endpoint: str
    completion_window: str
    metadata: str
    created_at: float
    ready_at: float
    expires_at: float
    total: int
    output_file_id: str | None
    error_file_id: str | None
    cancelled_at: float | None
    scheduled: bool
    deleted: bool
    errors: str | None = None
    model: str | None = None
    output_expires_after: int | None = None  # OpenAI profile: its result files' expiry, in seconds after creation
    version: int = 0  # bumped by every write to the batch or its requests: caches compare it


class RequestRow(NamedTuple):
    """One request of a batch as stored: its schedule and its output or error line."""

    batch_id: str
    idx: int
    request_id: str
    custom_id: str
    model: str
    start_at: float
    end_at: float
    ok: int  # 1: ends in the output file, 0: in the error file
    line: bytes  # that file's line, newline included (b"" while an upstream has not answered)
    prompt_tokens: int
    completion_tokens: int


_REQUEST_COLUMNS = ", ".join(RequestRow._fields)
_BATCH_FIELDS = tuple(f.name for f in fields(BatchRow))
_BATCH_COLUMNS = ", ".join(_BATCH_FIELDS)


def _batch_row(row: tuple[Any, ...]) -> BatchRow:
    values = dict(zip(_BATCH_FIELDS, row, strict=True))
    values["scheduled"] = bool(values["scheduled"])
    values["deleted"] = bool(values["deleted"])
    return BatchRow(**values)


def _batch_values(row: BatchRow) -> tuple[Any, ...]:
    return tuple(int(v) if isinstance(v, bool) else v for v in (getattr(row, f) for f in _BATCH_FIELDS))


_FILE_COLUMNS = "id, owner, kind, filename, purpose, bytes, created_at, expires_at, line_count, batch_id, deleted"
_BLOB_PIECE = 64 * 1024  # bytes of an input file's spans written to SQLite at a time


def _batch_update(batch_id: str, changes: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The UPDATE statement and its values that set `changes` (batch fields) on one batch and bump
    its version."""
    assert set(changes) <= set(_BATCH_FIELDS) - {"version"}, changes
    assignments = "".join(f"{key} = ?, " for key in changes)
    return f"UPDATE batches SET {assignments}version = version + 1 WHERE id = ?", (*changes.values(), batch_id)


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk is full: ENOSPC (or a quota's EDQUOT) from the OS, SQLITE_FULL from SQLite."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+; the message otherwise
        return (code & 0xFF) == sqlite3.SQLITE_FULL if isinstance(code, int) else "disk is full" in str(exc)
    return False


def raise_if_full(exc: BaseException) -> None:
    """Raise `StorageFull` (caused by `exc`) when `exc` is the disk being full; return otherwise."""
    if is_disk_full(exc):
        raise StorageFull(str(exc)) from exc


@contextmanager
def _storing() -> Iterator[None]:
    """Around a write: the disk being full becomes `StorageFull` (answered 500, logged in one line)."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        raise_if_full(exc)
        raise


def _file_row(row: tuple[Any, ...]) -> FileRow:
    (id_, owner, kind, filename, purpose, size, created_at, expires_at, line_count, batch_id, deleted) = row
    return FileRow(id_, owner, kind, filename, purpose, size, created_at, expires_at, line_count, batch_id, bool(deleted))


@_storing()
def write_requests(path: Path, batch_id: str, rows: list[RequestRow], mark_scheduled: bool, **changes: Any) -> None:
    """Insert or replace request rows of a batch in one transaction, with `changes` to the batch (and
    its version bumped), on a connection of its own: it may run on a worker thread or in the planning
    process, so a large plan never holds up the event loop. The caller then drops the batch's cached
    row on the event loop (`Store.forget_batch`). A full disk raises `StorageFull`, nothing stored."""
    db = _connect(path)
    try:
        with db:
            db.executemany(
                f"INSERT OR REPLACE INTO requests ({_REQUEST_COLUMNS}) VALUES ({', '.join('?' * len(RequestRow._fields))})",
                rows,
            )
            if mark_scheduled:
                changes["scheduled"] = 1
            db.execute(*_batch_update(batch_id, changes))
    finally:
        db.close()


def _connect(path: Path, autocommit: bool = False) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None if autocommit else "DEFERRED", timeout=30, check_same_thread=False)
    db.execute("PRAGMA synchronous=FULL")
    return db


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blob_dir = data_dir / "files"
        self.tmp_dir = data_dir / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp_dir.iterdir():  # half-received uploads of a previous run
            stale.unlink(missing_ok=True)
        self.path = data_dir / "state.sqlite3"
        self._batches: dict[str, BatchRow] = {}
        self.db = self._connect(autocommit=True)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(batches)")}
        for added, kind in (("errors", "TEXT"), ("model", "TEXT"), ("version", "INTEGER NOT NULL DEFAULT 0"),
                            ("output_expires_after", "INTEGER")):
            if added not in columns:  # data folders written before these columns existed
                self.db.execute(f"ALTER TABLE batches ADD COLUMN {added} {kind}")

    def _connect(self, autocommit: bool = False) -> sqlite3.Connection:
        return _connect(self.path, autocommit)

    def close(self) -> None:
        self.db.close()

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @_storing()
    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- file bodies ------------------------------------------------------------------------------
    def temp_path(self, name: str) -> Path:
        return self.tmp_dir / f"{name}.part"

    def blob_path(self, file_id: str) -> Path:
        return self.blob_dir / f"{file_id}.jsonl"

    @_storing()
    def keep_blob(self, temp: Path, file_id: str) -> None:
        """Move a fully written, fsynced upload into place and make the rename durable."""
        os.replace(temp, self.blob_path(file_id))
        dir_fd = os.open(self.blob_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- files ------------------------------------------------------------------------------------
    @_storing()
    def insert_file(self, row: FileRow, spans: array[int] | None = None) -> None:
        """Record a file; an input file's spans go in as a blob written in pieces from the array
        itself (binding it whole made SQLite and Python copy all of it: about 3 MiB of peak memory
        for 50,000 lines, most of an upload's memory growth)."""
        if spans is None:
            self._insert_file(row, None)
            return
        data = memoryview(spans).cast("B")
        with nullcontext() if self.db.in_transaction else self.transaction():
            rowid = self._insert_file(row, len(data))
            if data:
                with self.db.blobopen("files", "spans", rowid) as blob:
                    for at in range(0, len(data), _BLOB_PIECE):
                        blob.write(data[at : at + _BLOB_PIECE])

    def _insert_file(self, row: FileRow, spans_size: int | None) -> int:
        cursor = self.db.execute(
            f"INSERT INTO files ({_FILE_COLUMNS}, spans) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "CASE WHEN ? IS NULL THEN NULL ELSE zeroblob(?) END)",
            (
                row.id, row.owner, row.kind, row.filename, row.purpose, row.bytes, row.created_at,
                row.expires_at, row.line_count, row.batch_id, int(row.deleted), spans_size, spans_size,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def get_file(self, file_id: str) -> FileRow | None:
        row = self.db.execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)).fetchone()
        return None if row is None else _file_row(row)

    def file_spans(self, file_id: str) -> array[int]:
        row = self.db.execute("SELECT spans FROM files WHERE id = ?", (file_id,)).fetchone()
        spans: array[int] = array("Q")
        if row is not None and row[0] is not None:
            spans.frombytes(row[0])
        return spans

    def list_files(
        self,
        owner: str,
        *,
        after: FileRow | None,
        limit: int,
        descending: bool,
        purpose: str | None,
        search: str | None,
    ) -> list[FileRow]:
        where = ["owner = ?", "deleted = 0"]
        args: list[Any] = [owner]
        if purpose is not None:
            where.append("purpose = ?")
            args.append(purpose)
        if search:
            where.append("instr(lower(filename), lower(?)) > 0")
            args.append(search)
        if after is not None:
            where.append(f"(created_at, id) {'<' if descending else '>'} (?, ?)")
            args += [after.created_at, after.id]
        direction = "DESC" if descending else "ASC"
        sql = (
            f"SELECT {_FILE_COLUMNS} FROM files WHERE {' AND '.join(where)} "
            f"ORDER BY created_at {direction}, id {direction} LIMIT ?"
        )
        return [_file_row(r) for r in self.db.execute(sql, (*args, limit))]

    @_storing()
    def mark_file_deleted(self, file_id: str) -> None:
        self.db.execute("UPDATE files SET deleted = 1 WHERE id = ?", (file_id,))

    # -- batches ----------------------------------------------------------------------------------
    @_storing()
    def insert_batch(self, row: BatchRow) -> None:
        self.db.execute(
            f"INSERT INTO batches ({_BATCH_COLUMNS}) VALUES ({', '.join('?' * len(_BATCH_FIELDS))})",
            _batch_values(row),
        )

    def get_batch(self, batch_id: str) -> BatchRow | None:
        """By id, from a read-through cache (batches are polled hard; every write goes through here)."""
        cached = self._batches.get(batch_id)
        if cached is not None:
            return cached
        row = self.db.execute(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            return None
        found = self._batches[batch_id] = _batch_row(row)
        return found

    def owner_batches(self, owner: str) -> list[BatchRow]:
        """Every live batch of `owner`, newest first (by created_at, then id)."""
        sql = f"SELECT {_BATCH_COLUMNS} FROM batches WHERE owner = ? AND deleted = 0 ORDER BY created_at DESC, id DESC"
        return [_batch_row(r) for r in self.db.execute(sql, (owner,))]

    def batches_of_file(self, file_id: str) -> list[BatchRow]:
        sql = f"SELECT {_BATCH_COLUMNS} FROM batches WHERE input_file_id = ? OR output_file_id = ? OR error_file_id = ?"
        return [_batch_row(r) for r in self.db.execute(sql, (file_id, file_id, file_id))]

    def unscheduled_batches(self) -> list[BatchRow]:
        return [_batch_row(r) for r in self.db.execute(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE scheduled = 0")]

    @_storing()
    def update_batch(self, batch_id: str, **changes: Any) -> None:
        self.db.execute(*_batch_update(batch_id, changes))
        self.forget_batch(batch_id)

    def forget_batch(self, batch_id: str) -> None:
        """Drop the batch's cached row (it is read again from the database when next asked for)."""
        self._batches.pop(batch_id, None)

    # -- requests of a batch --------------------------------------------------------------------
    def save_requests(self, batch_id: str, rows: list[RequestRow], mark_scheduled: bool, **changes: Any) -> None:
        """`write_requests` into this store."""
        write_requests(self.path, batch_id, rows, mark_scheduled, **changes)

    def batch_stopped(self, batch_id: str) -> bool:
        """Whether the batch is cancelled, deleted or gone; callable from any thread (its own connection)."""
        db = self._connect()
        try:
            found = db.execute("SELECT cancelled_at, deleted FROM batches WHERE id = ?", (batch_id,)).fetchone()
        finally:
            db.close()
        return found is None or found[0] is not None or bool(found[1])

    def requests_ending_from(self, at: float) -> dict[str, list[int]]:
        """The indices of the requests ending at `at` or later, by batch (the ones an upstream left pending)."""
        found: dict[str, list[int]] = {}
        for batch_id, index in self.db.execute("SELECT batch_id, idx FROM requests WHERE end_at >= ?", (at,)):
            found.setdefault(str(batch_id), []).append(int(index))
        return found

    def request_ends(self, batch_id: str, ok: int) -> list[tuple[float, int]]:
        """(end time, line length) of the batch's successes or failures, in file order."""
        sql = "SELECT end_at, length(line) FROM requests WHERE batch_id = ? AND ok = ? ORDER BY end_at, request_id"
        return [(float(a), int(b)) for a, b in self.db.execute(sql, (batch_id, ok))]

    def request_lines(
        self, batch_id: str, ok: int, until: float, offset: int, limit: int, search: str | None
    ) -> list[bytes]:
        where = "batch_id = ? AND ok = ? AND end_at <= ?"
        args: list[Any] = [batch_id, ok, until]
        if search:
            where += " AND instr(lower(custom_id), lower(?)) > 0"
            args.append(search)
        sql = f"SELECT line FROM requests WHERE {where} ORDER BY end_at, request_id LIMIT ? OFFSET ?"
        return [bytes(r[0]) for r in self.db.execute(sql, (*args, limit, offset))]

    def requests_by_index(self, batch_id: str, offset: int, limit: int) -> list[RequestRow]:
        sql = f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE batch_id = ? ORDER BY idx LIMIT ? OFFSET ?"
        return [RequestRow._make((*r[:8], bytes(r[8]), *r[9:])) for r in self.db.execute(sql, (batch_id, limit, offset))]

    def token_totals(self, batch_id: str, until: float) -> tuple[int, int, int, float]:
        sql = (
            "SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), "
            "coalesce(avg(end_at - start_at), 0) FROM requests WHERE batch_id = ? AND ok = 1 AND end_at <= ?"
        )
        count, prompt, completion, duration = self.db.execute(sql, (batch_id, until)).fetchone()
        return int(count), int(prompt), int(completion), float(duration)

    def success_tokens_by_model(self, batch_id: str, until: float) -> list[tuple[str, int, int]]:
        """(model, prompt tokens, completion tokens) of the batch's successes ended by `until`."""
        sql = ("SELECT model, coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) FROM requests "
               "WHERE batch_id = ? AND ok = 1 AND end_at <= ? GROUP BY model")
        return [(str(m), int(p), int(c)) for m, p, c in self.db.execute(sql, (batch_id, until))]

    # -- stored responses ----------------------------------------------------------------------------
    @_storing()
    def insert_response(self, response_id: str, owner: str, start_at: float, end_at: float, body: bytes) -> None:
        self.db.execute(
            "INSERT INTO responses (id, owner, start_at, end_at, body) VALUES (?, ?, ?, ?, ?)",
            (response_id, owner, start_at, end_at, body),
        )

    def get_response(self, response_id: str) -> tuple[str, float, float, bytes, float | None, bool] | None:
        row = self.db.execute(
            "SELECT owner, start_at, end_at, body, cancelled_at, deleted FROM responses WHERE id = ?", (response_id,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], bytes(row[3]), row[4], bool(row[5]))

    @_storing()
    def update_response(self, response_id: str, *, cancelled_at: float | None = None, deleted: bool = False) -> None:
        if cancelled_at is not None:
            self.db.execute("UPDATE responses SET cancelled_at = ? WHERE id = ?", (cancelled_at, response_id))
        if deleted:
            self.db.execute("UPDATE responses SET deleted = 1 WHERE id = ?", (response_id,))

    def unfinished_by_model(self, now: float) -> dict[str, int]:
        """Requests of live, uncancelled batches that have not ended by `now`, per model."""
        sql = (
            "SELECT r.model, count(*) FROM requests r JOIN batches b ON b.id = r.batch_id "
            "WHERE r.end_at > ? AND b.cancelled_at IS NULL AND b.deleted = 0 GROUP BY r.model"
        )
        return {str(m): int(n) for m, n in self.db.execute(sql, (now,))}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; a full disk at COMMIT (or before) is `StorageFull`, with nothing kept."""
        self.db.execute("BEGIN")
        try:
            with _storing():
                yield
                self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLite may have rolled back already (a full disk can do that)
                self.db.execute("ROLLBACK")
            raise

    @_storing()
    def forget_everything(self) -> None:
        """Reset: drop every object and body; the clock (in `meta`) stays."""
        self._batches.clear()
        self.db.execute("DELETE FROM files")
        self.db.execute("DELETE FROM batches")
        self.db.execute("DELETE FROM requests")
        self.db.execute("DELETE FROM responses")
        for blob in self.blob_dir.iterdir():
            blob.unlink(missing_ok=True)

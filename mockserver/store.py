"""Durable state: one SQLite database (WAL, synchronous=FULL) and a folder of uploaded file bodies.

The store knows rows, not rules: it saves and loads what the domain hands it. Every write that backs
an acknowledged create is committed (and the body fsynced) before the call returns. One connection,
used from the event loop only; reads are short primary-key or indexed queries.
"""

from __future__ import annotations

import os
import sqlite3
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


_FILE_COLUMNS = "id, owner, kind, filename, purpose, bytes, created_at, expires_at, line_count, batch_id, deleted"


def _file_row(row: tuple[Any, ...]) -> FileRow:
    (id_, owner, kind, filename, purpose, size, created_at, expires_at, line_count, batch_id, deleted) = row
    return FileRow(id_, owner, kind, filename, purpose, size, created_at, expires_at, line_count, batch_id, bool(deleted))


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blob_dir = data_dir / "files"
        self.tmp_dir = data_dir / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp_dir.iterdir():  # half-received uploads of a previous run
            stale.unlink(missing_ok=True)
        self.db = sqlite3.connect(data_dir / "state.sqlite3", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- file bodies ------------------------------------------------------------------------------
    def temp_path(self, name: str) -> Path:
        return self.tmp_dir / f"{name}.part"

    def blob_path(self, file_id: str) -> Path:
        return self.blob_dir / f"{file_id}.jsonl"

    def keep_blob(self, temp: Path, file_id: str) -> None:
        """Move a fully written, fsynced upload into place and make the rename durable."""
        os.replace(temp, self.blob_path(file_id))
        dir_fd = os.open(self.blob_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- files ------------------------------------------------------------------------------------
    def insert_file(self, row: FileRow, spans: array[int] | None = None) -> None:
        self.db.execute(
            f"INSERT INTO files ({_FILE_COLUMNS}, spans) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id, row.owner, row.kind, row.filename, row.purpose, row.bytes, row.created_at,
                row.expires_at, row.line_count, row.batch_id, int(row.deleted),
                None if spans is None else spans.tobytes(),
            ),
        )

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

    def mark_file_deleted(self, file_id: str) -> None:
        self.db.execute("UPDATE files SET deleted = 1 WHERE id = ?", (file_id,))

    def forget_everything(self) -> None:
        """Reset: drop every object and body; the clock (in `meta`) stays."""
        self.db.execute("DELETE FROM files")
        for blob in self.blob_dir.iterdir():
            blob.unlink(missing_ok=True)

    def read_span(self, file_id: str, start: int, end: int) -> bytes:
        with open(self.blob_path(file_id), "rb") as fh:
            fh.seek(start)
            return fh.read(end - start)

    def iter_blob(self, file_id: str, start: int, end: int, chunk: int = 1 << 20) -> Iterator[bytes]:
        with open(self.blob_path(file_id), "rb") as fh:
            fh.seek(start)
            left = end - start
            while left > 0:
                data = fh.read(min(chunk, left))
                if not data:
                    return
                left -= len(data)
                yield data

"""Unit tests of the SQLite store's file records: an input file's line spans, written to SQLite in
pieces, read back whole, from this connection and from a store reopened on the same folder."""

from __future__ import annotations

import sqlite3
from array import array
from dataclasses import replace
from pathlib import Path

import pytest

from mockserver.store import FileRow, Store


def file_row(file_id: str, lines: int) -> FileRow:
    return FileRow(
        id=file_id, owner="owner", kind="input", filename="f.jsonl", purpose="batch", bytes=10 * lines,
        created_at=1.0, expires_at=100, line_count=lines, batch_id=None, deleted=False,
    )


def spans_of(lines: int) -> array[int]:
    spans: array[int] = array("Q")
    for i in range(lines):
        spans.extend((10 * i, 10 * i + 9 + i % 3))  # uneven, so a piece written twice or out of order shows
    return spans


@pytest.mark.parametrize("lines", [0, 1, 4096, 20_000])  # 4,096 lines: exactly one 64 KiB piece
def test_spans_read_back_as_written(tmp_path: Path, lines: int) -> None:
    store = Store(tmp_path)
    store.insert_file(file_row("file-a", lines), spans_of(lines))
    store.insert_file(file_row("file-b", 3), spans_of(3))
    assert store.file_spans("file-a") == spans_of(lines)
    store.close()
    reopened = Store(tmp_path)
    assert reopened.file_spans("file-a") == spans_of(lines)
    assert reopened.file_spans("file-b") == spans_of(3)
    assert reopened.get_file("file-a") == file_row("file-a", lines)


def test_a_file_recorded_in_a_transaction_that_fails_is_not_kept(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_file(file_row("file-a", 5000), spans_of(5000))
        raise RuntimeError("later step failed")
    assert store.get_file("file-a") is None
    assert store.file_spans("file-a") == array("Q")
    store.insert_file(file_row("file-a", 2), spans_of(2))  # the id is free again
    assert store.file_spans("file-a") == spans_of(2)


def test_a_data_folder_from_before_output_expires_after_gains_the_column(tmp_path: Path) -> None:
    """The migration: a batches table without `output_expires_after` gets it (NULL for old batches), and a
    batch stored with one reads back with it."""
    old = sqlite3.connect(tmp_path / "state.sqlite3")
    old.executescript(
        "CREATE TABLE batches (id TEXT PRIMARY KEY, owner TEXT NOT NULL, input_file_id TEXT, source_file_id TEXT NOT "
        "NULL, endpoint TEXT NOT NULL, completion_window TEXT NOT NULL, metadata TEXT NOT NULL, created_at REAL NOT "
        "NULL, ready_at REAL NOT NULL, expires_at REAL NOT NULL, total INTEGER NOT NULL, output_file_id TEXT, "
        "error_file_id TEXT, cancelled_at REAL, scheduled INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL "
        "DEFAULT 0, errors TEXT, model TEXT, version INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO batches (id, owner, source_file_id, endpoint, completion_window, metadata, created_at, ready_at, "
        "expires_at, total) VALUES ('batch_old', 'o', 'file-a', '/v1/chat/completions', '24h', '{}', 1, 2, 3, 0);"
    )
    old.commit()
    old.close()
    store = Store(tmp_path)
    found = store.get_batch("batch_old")
    assert found is not None and found.output_expires_after is None
    store.insert_batch(replace(found, id="batch_new", output_expires_after=7200))
    store.close()
    reopened = Store(tmp_path).get_batch("batch_new")
    assert reopened is not None and reopened.output_expires_after == 7200

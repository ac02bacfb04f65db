"""Unit tests of the SQLite store's file records: an input file's line spans, written to SQLite in
pieces, read back whole, from this connection and from a store reopened on the same folder."""

from __future__ import annotations

from array import array
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

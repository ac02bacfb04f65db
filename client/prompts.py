"""Reading prompts to turn into a batch: a text file (one prompt per line) or a CSV with a header.

Each prompt gets a unique, descriptive `custom_id`: the CSV's `custom_id` or `id` column when there
is one, otherwise `<source name>-row-<n>` (n the text line or CSV data row, from 1), so a result can
be traced back to its source line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from client.batchfile import MAX_CUSTOM_ID_BYTES, decode_utf8
from client.errors import BatchFileError

PROMPT_COLUMNS = ("prompt", "text", "question", "input", "content")
ID_COLUMNS = ("custom_id", "id")


@dataclass(frozen=True)
class Prompt:
    custom_id: str
    text: str


def id_prefix(name: str) -> str:
    """A custom_id prefix from a file name: safe characters only, short enough to leave room for a row."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).stem).strip("-.") or "prompt"
    return stem[: MAX_CUSTOM_ID_BYTES - 16]


def from_text(text: str, prefix: str) -> list[Prompt]:
    return [Prompt(f"{prefix}-row-{n}", line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _column(header: Sequence[str], wanted: Sequence[str]) -> str | None:
    lowered = {name.strip().lower(): name for name in header}
    return next((lowered[w] for w in wanted if w in lowered), None)


def from_csv(text: str, prefix: str, column: str | None = None) -> list[Prompt]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    if not header:
        raise BatchFileError("the CSV file is empty")
    prompt_col = column if column is not None else _column(header, PROMPT_COLUMNS) or header[0]
    if prompt_col not in header:
        raise BatchFileError(f"no column {prompt_col!r} in the CSV header {header}")
    id_col = _column(header, ID_COLUMNS)
    prompts: list[Prompt] = []
    for n, row in enumerate(reader, 1):
        text_value = (row.get(prompt_col) or "").strip()
        if not text_value:
            continue
        custom_id = (row.get(id_col) or "").strip() if id_col else ""
        prompts.append(Prompt(custom_id or f"{prefix}-row-{n}", text_value))
    return prompts


def read_prompts(path: str | Path, *, prefix: str | None = None, column: str | None = None) -> list[Prompt]:
    """The prompts in `path` (`.csv`: CSV with a header; anything else: one prompt per non-blank line)."""
    source = Path(path)
    text = decode_utf8(source.read_bytes())
    chosen = prefix if prefix is not None else id_prefix(source.name)
    if source.suffix.lower() == ".csv":
        return from_csv(text, chosen, column)  # newlines inside quoted fields are kept: no newline translation
    return from_text(text, chosen)

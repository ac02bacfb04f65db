"""Result pages: the one home of the content routes' paging and header rules.

Every content route (an input file's content, a batch's output and error files, `/results`) reads
lines with `skip` (from 0, below 0 is 0), an optional `limit` (clamped to 1..101) and an optional
`search` (a custom_id substring), and answers two live headers (dwctl `files.rs`
`get_file_content`, `batches.rs` `get_batch_results`; research/doubleword-server.md §5):

- `X-Incomplete`: `true` when lines exist past this page (only a read with a `limit` can stop
  short), or when the file may still grow (its batch is still running);
- `X-Last-Line`: the index after the page's last line (`skip` + the lines sent). A read with a
  `limit` always sends it. A read of the rest (no `limit`) sends it only for a batch's result
  file, and not when `search` filtered the lines or the batch was deleted; an input file's whole
  read sends none.

Nothing else computes these headers: routes build a `Window`, take the lines it selects, and call
`page`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from mockserver.domain.paging import clamp_limit, clamp_skip

T = TypeVar("T")


@dataclass(frozen=True)
class Content:
    """A content download: the body (bytes or a stream of chunks) and the two live headers."""

    chunks: Iterator[bytes] | AsyncIterator[bytes] | bytes
    incomplete: bool
    last_line: int | None  # None: send no X-Last-Line


@dataclass(frozen=True)
class Window:
    """Which lines a read asks for: from `skip`, at most `limit` (None: the rest), matching `search`."""

    skip: int
    limit: int | None
    search: str | None = None

    @classmethod
    def of(cls, skip: int | None, limit: int | None, search: str | None = None) -> Window:
        return cls(clamp_skip(skip), None if limit is None else clamp_limit(limit), search or None)

    def take(self, items: Sequence[T]) -> tuple[Sequence[T], bool]:
        """The items of this window out of all the matching `items`, and whether more follow."""
        if self.limit is None:
            return items[self.skip :], False
        end = self.skip + self.limit
        return items[self.skip : end], end < len(items)

    def matches(self, custom_id: str) -> bool:
        return not self.search or self.search.lower() in custom_id.lower()


def page(
    window: Window,
    chunks: Iterator[bytes] | AsyncIterator[bytes] | bytes,
    *,
    shown: int,
    more: bool,
    growing: bool = False,
    result_file: bool = True,
    deleted: bool = False,
) -> Content:
    """The content of `window`: `shown` lines (in `chunks`), `more` lines after them, a file that is
    `growing` (its batch still runs); `result_file` False for an input file; `deleted`: its batch was."""
    end = window.skip + shown
    if window.limit is not None:
        return Content(chunks, incomplete=more or growing, last_line=end)
    whole_read_has_last_line = result_file and not window.search and not deleted
    return Content(chunks, incomplete=growing, last_line=end if whole_read_has_last_line else None)


EMPTY = Content(b"", incomplete=False, last_line=None)

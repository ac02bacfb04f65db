"""The content routes' paging and header rules, in one place (`domain/pages.py`; dwctl `files.rs`
`get_file_content`, `batches.rs` `get_batch_results`; research/doubleword-server.md §5)."""

from __future__ import annotations

from mockserver.domain.pages import Window, page


def test_a_window_clamps_as_live_does() -> None:
    assert Window.of(-5, None) == Window(0, None, None)
    assert Window.of(3, 0) == Window(3, 1, None)
    assert Window.of(3, 500) == Window(3, 101, None)
    assert Window.of(None, 7, "") == Window(0, 7, None)


def test_a_window_takes_its_lines_and_says_whether_more_follow() -> None:
    lines = list(range(10))
    assert Window(2, 3).take(lines) == ([2, 3, 4], True)
    assert Window(7, 3).take(lines) == ([7, 8, 9], False)
    assert Window(12, 3).take(lines) == ([], False)
    assert Window(4, None).take(lines) == ([4, 5, 6, 7, 8, 9], False)


def test_a_window_matches_custom_ids_by_substring_in_any_case() -> None:
    assert Window(0, None, "Req").matches("my-req-1")
    assert not Window(0, None, "x").matches("my-req-1")
    assert Window(0, None, None).matches("anything")


def test_a_limited_page_always_says_where_it_ended() -> None:
    got = page(Window(10, 5), b"", shown=5, more=True)
    assert (got.incomplete, got.last_line) == (True, 15)
    got = page(Window(10, 5), b"", shown=2, more=False)
    assert (got.incomplete, got.last_line) == (False, 12)
    got = page(Window(10, 5), b"", shown=2, more=False, growing=True)
    assert (got.incomplete, got.last_line) == (True, 12)
    got = page(Window(10, 5, "x"), b"", shown=2, more=False, result_file=False)
    assert (got.incomplete, got.last_line) == (False, 12)


def test_a_read_of_the_rest_says_where_it_ended_only_for_an_unfiltered_result_file() -> None:
    assert page(Window(3, None), b"", shown=4, more=False).last_line == 7
    assert page(Window(3, None, "q"), b"", shown=4, more=False).last_line is None
    assert page(Window(3, None), b"", shown=4, more=False, deleted=True).last_line is None
    assert page(Window(3, None), b"", shown=4, more=False, result_file=False).last_line is None


def test_a_read_of_the_rest_is_incomplete_only_while_the_file_grows() -> None:
    assert page(Window(0, None), b"", shown=4, more=False).incomplete is False
    assert page(Window(0, None), b"", shown=4, more=False, growing=True).incomplete is True

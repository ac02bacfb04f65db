"""The request lines of an upload's file part(s), found and checked as the bytes arrive.

`LineScanner` splits the stream into lines, keeps the byte span of every non-blank one, and checks
each with the live rules (`validation`): a quick check for the common valid line, the full rule
chain (which picks the live message) otherwise. The first bad line raises its error.

Unchecked (the OpenAI profile, where any JSONL is stored and a file over the request limit fails
only its batches), lines past the limit are counted but not kept: the span of line `max_requests + 1`
is open (it ends at `OPEN_END`) and stands for that line and every non-blank line after it, which
`files.raw_lines` reads from the bytes. So the spans of a 200 MB file of tiny lines stay as small as
the limit, and the batch-time check still sees every line.
"""

from __future__ import annotations

from array import array

from mockserver.domain.validation import LineRules, check_request, parse_line, quick_check
from mockserver.errors import BadRequest

# Rust's `char::is_whitespace` (Unicode White_Space), which live's `str::trim` removes around a line
OPEN_END = 2**64 - 1  # the end of an open span: the line starting there and all non-blank lines after it

RUST_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


def unicode_trimmed(stripped: bytes) -> tuple[int, bytes]:
    """A line already stripped of ASCII whitespace whose first or last byte is not ASCII: trimmed of
    Unicode whitespace as live trims it, and how many bytes went from its start. Not UTF-8: as is
    (its UTF-8 error is reported by the checks)."""
    try:
        text = stripped.decode()
    except UnicodeDecodeError:
        return 0, stripped
    kept = text.strip(RUST_WHITESPACE)
    if not kept:
        return len(stripped), b""
    lead = len(text) - len(text.lstrip(RUST_WHITESPACE))
    return len(text[:lead].encode()), kept.encode()


class LineScanner:
    def __init__(self, rules: LineRules, max_requests: int, check_lines: bool = True) -> None:
        self._rules = rules
        self._quick = quick_check(rules)
        self._max_requests = max_requests
        self._check_lines = check_lines  # False (OpenAI profile): any JSONL; lines are checked per batch
        self._tail: list[bytes] = []  # the pieces received so far of the line not yet ended by b"\n"
        self._offset = 0  # where that line starts in the body
        self.lines = 0
        self.spans: array[int] = array("Q")

    def feed(self, data: bytes) -> None:
        lines = data.split(b"\n")
        if len(lines) == 1:  # no line ends in this chunk
            self._tail.append(data)
            return
        if self._tail:
            self._tail.append(lines[0])
            lines[0] = b"".join(self._tail)
        last = lines.pop()
        self._tail = [last] if last else []
        self._lines(lines)

    def end_part(self) -> None:
        """A file part ended: its unterminated last line is a line too. As live (which never clears
        its `incomplete_line` here), that line also stays the start of the next line, so a second
        `file` part continues it (and an empty one, or one starting with a line break, repeats it)."""
        if self._tail:
            last = b"".join(self._tail)
            start = self._offset
            self._lines([last])
            self._tail, self._offset = [last], start
        if self.lines == 0 and self._check_lines:
            raise BadRequest("File contains no valid request templates")

    def _lines(self, lines: list[bytes]) -> None:
        """Check whole lines (without their newlines) that follow each other from `self._offset`."""
        quick, spans, max_requests = self._quick, self.spans, self._max_requests
        n = self.lines
        start = self._offset
        if not self._check_lines:
            for line in lines:
                if line.strip():
                    n += 1
                    if not max_requests or n <= max_requests:
                        spans.append(start)
                        spans.append(start + len(line))
                    elif n == max_requests + 1:  # past the limit: one open span for the rest
                        spans.append(start)
                        spans.append(OPEN_END)
                start += len(line) + 1
            self.lines, self._offset = n, start
            return
        for line in lines:
            end = start + len(line)
            stripped = line.strip()
            if stripped and (stripped[0] >= 0x80 or stripped[-1] >= 0x80):  # maybe Unicode spaces around it
                lead, trimmed = unicode_trimmed(stripped)
                if len(trimmed) != len(stripped):
                    self._line_at(trimmed, start + line.find(stripped[:1]) + lead, n + 1 if trimmed else n)
                    n += 1 if trimmed else 0
                    start = end + 1
                    continue
            if stripped:
                if max_requests and n >= max_requests:
                    raise BadRequest(
                        f"File contains {n + 1} requests, which exceeds the maximum of {max_requests}"
                    )
                n += 1
                if not quick(stripped):
                    self._check(line, stripped, n, start)
                spans.append(start)
                spans.append(end)
            start = end + 1
        self.lines = n
        self._offset = start

    def _line_at(self, trimmed: bytes, at: int, n: int) -> None:
        """A line that Unicode whitespace surrounded: `trimmed` (maybe empty: a blank line) starts at `at`."""
        if not trimmed:
            return
        max_requests = self._max_requests
        if max_requests and n > max_requests:
            raise BadRequest(f"File contains {n} requests, which exceeds the maximum of {max_requests}")
        if not self._quick(trimmed):
            self._check(trimmed, trimmed, n, at)
        self.spans.append(at)
        self.spans.append(at + len(trimmed))

    def _check(self, line: bytes, stripped: bytes, n: int, start: int) -> None:
        """The full checks of one line that the quick check did not pass; raise its error, if any."""
        try:
            obj = parse_line(stripped, n)
        except BadRequest:
            self._raise_if_not_utf8(stripped, n, start + line.find(stripped[:1]))
            raise
        check_request(obj, n, self._rules, len(stripped))

    @staticmethod
    def _raise_if_not_utf8(line: bytes, n: int, offset: int) -> None:
        try:
            line.decode()
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"File contains invalid UTF-8 on/near line {n} at byte offset {offset + exc.start}: "
                f"invalid utf-8 sequence of {exc.end - exc.start} bytes from index {exc.start}"
            ) from None

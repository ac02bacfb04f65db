"""Reading a JSONL file that may still be growing (a running batch's output or error file).

The position is the number of lines already read. Each read asks for `skip=<position>` and counts
the complete lines received; that count is what the server reports as `X-Last-Line`, and the
position moves one line at a time, so a reader stopped anywhere (a broken connection, a `break`, a
killed program given its last position back) resumes with no line twice and none skipped. A read
ends the file when `X-Incomplete` is false; otherwise, when following, it waits and reads again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from client.errors import APIConnectionError
from client.http import ApiSession
from client.models import ResultLine, parse_record
from client.retrying import Kind


class LineReader:
    """Iterates the lines of file `file_id` from line `start` (0-based); `position` is where it stands."""

    def __init__(
        self, session: ApiSession, file_id: str, *, start: int = 0, follow: bool = False,
        poll_interval: float = 30.0, page_size: int | None = None, finished: Callable[[], bool] | None = None,
    ) -> None:
        if start < 0:
            raise ValueError("start must be >= 0")
        self.session = session
        self.file_id = file_id
        self.position = start
        self.follow = follow
        self.poll_interval = poll_interval
        self.page_size = page_size  # None: stream the whole remainder in one response
        self.finished = finished  # tells that no line will be added any more (the batch ended)
        self._incomplete = True
        self._full_page = False

    def __iter__(self) -> Iterator[ResultLine]:
        failures = 0
        final_read = False
        while True:
            before = self.position
            try:
                yield from self._read()
            except APIConnectionError as exc:
                failures = 1 if self.position > before else failures + 1  # progress resets the count
                wait = self.session.policy.delay(exc, Kind.READ, failures - 1)
                if wait is None:
                    raise
                self.session.clock.sleep(wait)
                continue
            failures = 0
            got = self.position - before
            if not self._incomplete or final_read:
                return
            if self._full_page:
                continue
            if not self.follow:
                return
            if got == 0 and self.finished is not None and self.finished():
                final_read = True  # one last read: lines may have landed before the end was seen
                continue
            self.session.clock.sleep(self.poll_interval)

    def _read(self) -> Iterator[ResultLine]:
        params: dict[str, Any] = {"skip": self.position}
        if self.page_size is not None:
            params["limit"] = self.page_size
        received = 0
        with self.session.stream(f"/files/{self.file_id}/content", params) as response:
            self._incomplete = response.headers.get("x-incomplete", "false").strip().lower() == "true"
            buffer = b""
            for chunk in response.iter_bytes():
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    if raw.strip():
                        received += 1
                        yield self._advance(raw)
            if buffer.strip():  # the body ended cleanly without a final newline
                received += 1
                yield self._advance(buffer)
        self._full_page = self.page_size is not None and received >= self.page_size

    def _advance(self, raw: bytes) -> ResultLine:
        self.position += 1
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        return ResultLine(position=self.position, raw=text, data=parse_record(text))


"""Worker processes that check a large upload's lines while the event loop keeps receiving it.

JSON parsing holds the GIL, so a thread cannot overlap it with receiving; a process can. For an upload
whose declared size is at least `Settings.scan_in_worker_from`, the upload's spool thread forwards
every batch of the body (and the end of each file part) to a `RemoteScan`, which runs the same
`LineScanner` as the inline path in its own process. Its first error comes back at once (the upload
polls for it as it feeds), and the line count and spans come back when the upload finishes.

Protocol on the data pipe (one message each): `B<max requests>` begin an upload, `D<bytes>` data, `E` end of a file part, `F` finish
(answer `("end", None | (lines, spans))`), `Q` quit. On the result pipe, besides the `end` answer,
`("error", class name, message)` as soon as a line fails; after an error the rest is skipped.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from array import array
from multiprocessing.connection import Connection
from typing import Any

from mockserver.domain.line_scan import LineScanner
from mockserver.domain.validation import LineRules
from mockserver.errors import ApiError, BadRequest, Forbidden, InternalError, PayloadTooLarge

log = logging.getLogger("mockserver")
_ERRORS: dict[str, type[ApiError]] = {cls.__name__: cls for cls in (BadRequest, Forbidden, PayloadTooLarge)}


def _context() -> Any:
    """forkserver where there is one (a clean parent, unlike forking a server with threads)."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        ctx.set_forkserver_preload(["mockserver.domain.line_scan"])
    return ctx


def _serve(data: Connection, results: Connection, rules: LineRules) -> None:
    scanner = LineScanner(rules, 0)
    failed = False
    while True:
        try:
            msg = data.recv_bytes()
        except EOFError:
            return
        tag = msg[:1]
        if tag == b"Q":
            return
        if tag == b"B":
            scanner, failed = LineScanner(rules, int(msg[1:])), False
            continue
        if tag == b"F":
            results.send(("end", None if failed else (scanner.lines, scanner.spans.tobytes())))
            continue
        if failed:
            continue
        try:
            if tag == b"D":
                scanner.feed(msg[1:])
            else:
                scanner.end_part()
        except ApiError as exc:
            failed = True
            results.send(("error", type(exc).__name__, exc.message))


def _rebuilt(name: str, message: str) -> ApiError:
    return _ERRORS.get(name, BadRequest)(message)


class RemoteScan:
    """One worker process, and the upload side of its two pipes."""

    def __init__(self, ctx: Any, rules: LineRules) -> None:
        data_end, self._data = ctx.Pipe(duplex=False)
        self._results, results_end = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_serve, args=(data_end, results_end, rules),
                                   name="dwsim-line-scan", daemon=True)
        self.process.start()
        data_end.close()
        results_end.close()
        self.error: ApiError | None = None
        self.healthy = True

    def begin(self, max_requests: int) -> None:
        """A new upload (before its spool thread forwards anything)."""
        self.error = None
        self._data.send_bytes(b"B%d" % max_requests)

    # -- called from the upload's spool thread, in body order ---------------------------------------
    def data(self, pieces: list[bytes]) -> None:
        self._data.send_bytes(b"".join([b"D", *pieces]))

    def end_part(self) -> None:
        self._data.send_bytes(b"E")

    # -- called from the upload ---------------------------------------------------------------------
    def poll(self) -> ApiError | None:
        """The worker's error, if it has found one by now (without waiting)."""
        try:
            if self.error is None and self._results.poll():
                self._take(self._results.recv())
        except (OSError, EOFError):
            raise self._lost() from None
        return self.error

    def finish(self) -> tuple[int, array[int]] | None:
        """Wait for the worker to check everything sent; its line count and spans, or None after an error
        (in `self.error`)."""
        try:
            self._data.send_bytes(b"F")
            while True:
                msg = self._results.recv()
                if msg[0] == "end":
                    if msg[1] is None:
                        return None
                    lines, raw = msg[1]
                    spans: array[int] = array("Q")
                    spans.frombytes(raw)
                    return int(lines), spans
                self._take(msg)
        except (OSError, EOFError):
            raise self._lost() from None

    def _lost(self) -> ApiError:
        """The worker died (killed, out of memory): this upload fails whole, the pool starts another."""
        self.healthy = False
        log.error("the line-checking worker %s stopped; the upload it was checking fails", self.process.pid)
        return InternalError()

    def _take(self, msg: tuple[Any, ...]) -> None:
        if msg[0] == "error" and self.error is None:
            self.error = _rebuilt(str(msg[1]), str(msg[2]))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._data.send_bytes(b"Q")
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.terminate()
        self._data.close()
        self._results.close()


class ScanPool:
    """Up to `size` workers, started on first need and kept; `acquire` gives None when all are busy
    (the upload then checks its lines inline)."""

    def __init__(self, rules: LineRules, size: int) -> None:
        self._rules = rules
        self.size = size
        self._idle: list[RemoteScan] = []
        self._all: list[RemoteScan] = []
        self._ctx: Any = None

    @property
    def started(self) -> int:
        """Workers running now."""
        return len(self._all)

    def acquire(self, max_requests: int) -> RemoteScan | None:
        """A worker, begun on a new upload; None when every worker is busy (or none can start)."""
        while self._idle:
            scan = self._idle.pop()
            try:
                scan.begin(max_requests)
                return scan
            except OSError:  # it died while idle: replace it
                self._all.remove(scan)
                scan.close()
        if len(self._all) >= self.size:
            return None
        if self._ctx is None:
            self._ctx = _context()
        try:
            scan = RemoteScan(self._ctx, self._rules)
            scan.begin(max_requests)
        except OSError:
            return None
        self._all.append(scan)
        return scan

    def release(self, scan: RemoteScan) -> None:
        if scan.healthy and scan.process.is_alive():
            self._idle.append(scan)
            return
        self._all.remove(scan)
        scan.close()

    def close(self) -> None:
        for scan in self._all:
            scan.close()
        self._all.clear()
        self._idle.clear()

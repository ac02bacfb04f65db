"""Exit codes a script can rely on."""

from __future__ import annotations

from client.models import Batch

OK = 0  # done; for a batch: completed (even if some requests failed; see `errors`)
ERROR = 1  # the service refused, or could not be reached
USAGE = 2  # bad arguments or a bad local file (nothing was sent)
FAILED = 3  # the batch failed: every request failed
CANCELLED = 4  # the batch was cancelled
EXPIRED = 5  # the batch expired
RUNNING = 6  # the batch has not ended (status of a running batch, or --timeout ran out)
INTERRUPTED = 130  # Ctrl-C
PIPE_CLOSED = 141  # stdout was closed by its reader (`| head`), as a shell shows a process SIGPIPE ended

_BY_STATUS = {"completed": OK, "failed": FAILED, "cancelled": CANCELLED, "cancelling": CANCELLED, "expired": EXPIRED}


def for_batch(batch: Batch) -> int:
    return _BY_STATUS.get(batch.status, RUNNING)

"""Reference client and command line for the Doubleword Batch API (and this simulator).

`DoublewordClient` covers every route and the whole job: build a batch file (`batchfile`,
`prompts`), `submit` it, `wait` for it, read results and errors while it runs (`iter_results`,
`iter_errors`, resumable by position), and resubmit what failed (`retry_failed`). `dw-batch`
(also `python -m client`) is the command line over it.
"""

from client.batchfile import DEFAULT_LIMITS, Limits, chat_request, split_lines
from client.clock import Clock, SimulatorClock, SystemClock
from client.doubleword import DoublewordClient
from client.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    BatchFileError,
    ConfigurationError,
    ConflictError,
    DoublewordError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from client.models import FINAL_STATUSES, Batch, ContentPage, FileObject, RequestCounts, ResultLine
from client.retrying import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LIMITS",
    "FINAL_STATUSES",
    "APIConnectionError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchFileError",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "ContentPage",
    "DoublewordClient",
    "DoublewordError",
    "FileObject",
    "InternalServerError",
    "Limits",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestCounts",
    "ResultLine",
    "RetryPolicy",
    "ServiceUnavailableError",
    "SimulatorClock",
    "SystemClock",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "chat_request",
    "split_lines",
]

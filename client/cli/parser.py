"""The command line's arguments. Global options are accepted before or after the command."""

from __future__ import annotations

import argparse
import importlib.metadata

import client
from client.batchfile import DEFAULT_LIMITS, DEFAULT_MODEL
from client.config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, POLL_INTERVAL_ENV

PROG = "dw-batch"
DISTRIBUTION = "dw-batch-sim"

WINDOWS = ("24h", "1h")

EPILOG = """exit codes: 0 completed (or done), 1 API or network error, 2 bad arguments or local file,
3 batch failed, 4 batch cancelled, 5 batch expired, 6 batch still running, 130 interrupted,
141 stdout closed early (e.g. piped into head)

the API key and base URL come from --api-key/--base-url, else the environment, else the active
account of Doubleword's `dw` tool (~/.dw/config.toml and ~/.dw/credentials.toml)"""


def version() -> str:
    """The installed distribution's version (the package's own when it is not installed)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return client.__version__


def _globals(suppress: bool) -> argparse.ArgumentParser:
    """Global options; in the subcommands their defaults are suppressed so a value given before the
    command is not overwritten."""

    def d(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("global options")
    g.add_argument("--base-url", default=d(None), help=f"API base URL (env {BASE_URL_ENV}; default {DEFAULT_BASE_URL})")
    g.add_argument("--api-key", default=d(None), help=f"API key (env {API_KEY_ENV})")
    g.add_argument("--json", action="store_true", default=d(False), help="machine-readable output on stdout")
    g.add_argument("--poll-interval", type=float, default=d(None), metavar="SECONDS",
                   help=f"poll the status every SECONDS (env {POLL_INTERVAL_ENV}; default: 1 s growing to 5 s "
                        "on a loopback host such as a local simulator, else 30 s growing to 60 s)")
    return p


def _download_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="wait for the batch to end (progress on stderr)")
    p.add_argument("--output", metavar="F", help="save results to F while the batch runs (implies --wait)")
    p.add_argument("--errors", metavar="F", help="save error lines to F while the batch runs (implies --wait)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop waiting after S seconds (exit 6)")


def _follow_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="batch id")
    p.add_argument("--follow", "-f", action="store_true", help="keep reading until the batch has ended")
    p.add_argument("--output", metavar="F", help="append to F, resuming after the lines already in it")
    p.add_argument("--from", dest="start", type=int, default=0, metavar="N", help="start after line N (a position)")


def build_parser() -> argparse.ArgumentParser:
    common = _globals(suppress=True)
    parser = argparse.ArgumentParser(
        prog=PROG, parents=[_globals(suppress=False)], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run batch jobs on the Doubleword Batch API (or the simulator).",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help_text, description=help_text, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = command("make", "turn a prompts file (one per line) or a CSV into batch JSONL, split over the limits")
    p.add_argument("input", help="prompts .txt (one per line) or .csv with a header (column prompt/text/...)")
    p.add_argument("-o", "--out", metavar="F", help="output file (default: INPUT with .jsonl; -NNN when split)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model (default {DEFAULT_MODEL})")
    p.add_argument("--system", help="system prompt for every request")
    p.add_argument("--max-tokens", type=int, help="max_tokens for every request")
    p.add_argument("--temperature", type=float, help="temperature for every request (0..2)")
    p.add_argument("--column", help="CSV column holding the prompt")
    p.add_argument("--prefix", help="custom_id prefix (default: from the input file name)")
    p.add_argument("--max-requests", type=int, default=DEFAULT_LIMITS.max_requests, help="requests per file")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_LIMITS.max_file_bytes, help="bytes per file")

    p = command("submit", "check, upload and start a batch file")
    p.add_argument("file", help="JSONL batch file")
    p.add_argument("--window", choices=WINDOWS, default="24h", help="completion window (default 24h)")
    p.add_argument("--endpoint", help="batch endpoint (default: the lines' url)")
    p.add_argument("--metadata", action="append", default=[], metavar="K=V", help="batch metadata (repeatable)")
    p.add_argument("--allow-duplicate-ids", action="store_true", help="accept repeated custom_ids")
    _download_flags(p)

    p = command("status", "show a batch")
    p.add_argument("id", help="batch id")

    p = command("list", "list batches, newest first")
    p.add_argument("--limit", type=int, default=20, help="how many (default 20; 0: all)")
    p.add_argument("--status", help="in_progress, completed, failed, cancelled or expired")

    p = command("watch", "follow a batch's progress until it ends (bar on stderr when it is a terminal)")
    p.add_argument("id", help="batch id")
    p.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds (exit 6)")

    _follow_flags(command("results", "print a batch's result lines (JSONL), also while it runs"))
    _follow_flags(command("errors", "print a batch's error lines (JSONL), also while it runs"))

    p = command("retry-failed", "resubmit a batch's failed requests as a new batch")
    p.add_argument("id", help="batch id")
    p.add_argument("--window", choices=WINDOWS, help="completion window (default: the original's)")
    p.add_argument("--all", action="store_true",
                   help="also resubmit the requests a retry cannot help (e.g. NonRetriableHttpStatus 400)")
    _download_flags(p)

    p = command("cancel", "cancel a batch")
    p.add_argument("id", help="batch id")

    p = command("estimate", "estimate the cost of a batch file (uploaded, estimated, then deleted)")
    p.add_argument("file", help="JSONL batch file, or the id of an uploaded file")
    p.add_argument("--window", choices=WINDOWS, default="24h", help="completion window (default 24h)")
    p.add_argument("--keep", action="store_true", help="keep the uploaded file")
    return parser

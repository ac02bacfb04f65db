"""Command line: flags (each with an environment twin) -> settings -> backend -> uvicorn."""

from __future__ import annotations

import argparse
import atexit
import gc
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import uvicorn

from mockserver.app import create_app
from mockserver.backend import Backend, next_start_number, open_clock
from mockserver.cassette import CassetteError
from mockserver.dialect import PROFILES
from mockserver.domain.faults import NO_SCENARIO, Scenario, ScenarioError, load_scenario
from mockserver.domain.ids import IdSource
from mockserver.settings import Settings, load_models
from mockserver.store import Store
from mockserver.upstream import upstream_config

ENV_PREFIX = "DWSIM_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name.upper().replace("-", "_"), default)


def _secret(name: str) -> str:
    """A secret's environment twin, read after parsing (an argparse default would show in --help)."""
    return _env(name) or ""


def build_parser() -> argparse.ArgumentParser:
    d = Settings()
    p = argparse.ArgumentParser(
        prog="python -m mockserver",
        description="Offline simulator of the Doubleword Batch API. Every flag has an environment twin "
        f"named {ENV_PREFIX}<FLAG> (e.g. {ENV_PREFIX}PORT, {ENV_PREFIX}DATA_DIR, {ENV_PREFIX}API_KEY "
        "as a comma-separated list).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default=_env("host", "127.0.0.1"), help="interface to listen on")
    p.add_argument("--port", type=int, default=int(_env("port", "8000") or 8000), help="port (0: any free port)")
    p.add_argument(
        "--data-dir",
        default=_env("data_dir"),
        help="folder for the SQLite database and file bodies; state persists there across restarts "
        "(default: a fresh temporary folder, removed at exit)",
    )
    p.add_argument(
        "--api-key",
        action="append",
        default=None,  # secrets: taken from the environment after parsing, so --help never shows them
        help="accept only this Bearer key (repeatable); with none given, any key is accepted and each "
        "distinct key is its own user",
    )
    seed = _env("seed")
    p.add_argument("--seed", type=int, default=int(seed) if seed else None, help="seed for ids and simulated outcomes")
    p.add_argument("--scenario", default=_env("scenario"),
                   help="fault scenario file (JSON or YAML) in force from the start; see the README")
    p.add_argument("--profile", default=_env("profile", "doubleword"), choices=list(PROFILES),
                   help="doubleword: behave as the live Doubleword Batch API; openai: as OpenAI's Batch API "
                   "(ids, errors, validation, statuses; see mockserver/dialect.py)")
    p.add_argument("--finalize-delay", type=float, default=float(_env("finalize_delay", str(d.finalize_delay)) or 0),
                   help="openai profile: seconds a batch stays `finalizing` after its last request")
    p.add_argument("--cancel-delay", type=float, default=float(_env("cancel_delay", str(d.cancel_delay)) or 0),
                   help="openai profile: seconds a cancelled batch stays `cancelling`")
    p.add_argument("--expiry", default=_env("expiry", "live"), choices=["live", "openai"],
                   help="live: a batch past its window keeps running (as the live service); openai: it becomes "
                   "`expired` and its unfinished requests go to the error file as `batch_expired`")
    p.add_argument("--control-token", default=None,
                   help="require `Authorization: Bearer TOKEN` on the control API (/_mock); default: open")
    p.add_argument("--log-level", default=_env("log_level", "info"), choices=["debug", "info", "warning", "error"])
    p.add_argument("--clock", default=_env("clock", "real"), choices=["real", "manual"], help="time source")
    p.add_argument("--speed", type=float, default=float(_env("speed", "1") or 1), help="virtual seconds per real second (real clock)")
    p.add_argument("--models-file", default=_env("models_file"), help="JSON list of models (name, kind, prices)")
    p.add_argument("--max-file-size", type=int, default=int(_env("max_file_size", str(d.max_file_size)) or 0), help="bytes per upload (0: no limit)")
    p.add_argument("--max-requests-per-file", type=int, default=int(_env("max_requests_per_file", str(d.max_requests_per_file)) or 0), help="request lines per file (0: no limit)")
    p.add_argument("--max-request-body-size", type=int, default=int(_env("max_request_body_size", str(d.max_request_body_size)) or 0), help="bytes per request body (0: no limit)")
    p.add_argument("--validation-delay", type=float, default=float(_env("validation_delay", str(d.validation_delay)) or 0),
                   help="seconds a batch stays `validating`")
    p.add_argument("--latency-min", type=float, default=float(_env("latency_min", str(d.latency_min)) or 0),
                   help="shortest simulated request, seconds")
    p.add_argument("--latency-max", type=float, default=float(_env("latency_max", str(d.latency_max)) or 0),
                   help="longest simulated request, seconds (larger bodies take longer)")
    p.add_argument("--concurrency", type=int, default=int(_env("concurrency", str(d.concurrency_per_model)) or 1),
                   help="requests of one model a batch runs at once")
    p.add_argument("--upstream", default=_env("upstream"), metavar="URL",
                   help="send every batch request (when the clock reaches it) and every realtime call to this "
                   "OpenAI-compatible server (its base URL, e.g. http://localhost:8001/v1) instead of the "
                   "simulated model; its answers and failures go to the output and error files as live records them")
    p.add_argument("--upstream-key", default=None, metavar="KEY",
                   help="Bearer key for the upstream (never logged, printed or written)")
    upstream_models = _env("upstream_model")
    p.add_argument("--upstream-model", action="append", metavar="LOCAL=REMOTE",
                   default=upstream_models.split(",") if upstream_models else None,
                   help="send requests for model LOCAL to the upstream as model REMOTE (repeatable)")
    p.add_argument("--upstream-concurrency", type=int, default=int(_env("upstream_concurrency", "16") or 16),
                   help="requests in flight to the upstream at once, over all batches and realtime calls")
    p.add_argument("--upstream-timeout", type=float, default=float(_env("upstream_timeout", "600") or 600),
                   help="real seconds an upstream request may take before it fails as `Timeout` (then retried)")
    p.add_argument("--replay", default=_env("replay"), metavar="CASSETTE",
                   help="answer from a cassette written by `python -m client.record` (matched by url and body), "
                   "with the recorded latencies on the virtual clock")
    p.add_argument("--replay-missing", default=_env("replay_missing", "error"), choices=["error", "simulate"],
                   help="a request the cassette lacks: a 400 `cassette_miss` error, or the simulated model's answer")
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings(
        api_keys=tuple(k for k in (args.api_key or _secret("api_key").split(",")) if k),
        seed=args.seed,
        control_token=args.control_token or _secret("control_token") or None,
        expiry=args.expiry,
        profile=args.profile,
        finalize_delay=args.finalize_delay,
        cancel_delay=args.cancel_delay,
        max_file_size=args.max_file_size,
        max_requests_per_file=args.max_requests_per_file,
        max_request_body_size=args.max_request_body_size,
        validation_delay=args.validation_delay,
        latency_min=args.latency_min,
        latency_max=args.latency_max,
        concurrency_per_model=args.concurrency,
    )
    if not 0 <= settings.latency_min <= settings.latency_max or settings.concurrency_per_model < 1:
        raise SystemExit("need 0 <= --latency-min <= --latency-max and --concurrency >= 1")
    if not 0 < args.speed < math.inf:
        raise SystemExit("need 0 < --speed (virtual seconds per real second)")
    if settings.finalize_delay < 0 or settings.cancel_delay < 0:
        raise SystemExit("need --finalize-delay >= 0 and --cancel-delay >= 0")
    if args.models_file:
        settings = replace(settings, models=load_models(Path(args.models_file)))
    if args.upstream and args.replay:
        raise SystemExit("choose one of --upstream and --replay")
    if args.upstream:
        try:
            upstream = upstream_config(args.upstream, args.upstream_key or _secret("upstream_key") or None,
                                       [m for m in args.upstream_model or [] if m], args.upstream_concurrency,
                                       args.upstream_timeout)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        settings = replace(settings, upstream=upstream)
    if args.replay:
        settings = replace(settings, replay=Path(args.replay), replay_missing=args.replay_missing)
    return settings


def scenario_from(args: argparse.Namespace) -> Scenario:
    """The `--scenario` file, checked; a bad one stops the start with its message (exit code 2)."""
    if not args.scenario:
        return NO_SCENARIO
    try:
        return load_scenario(Path(args.scenario))
    except ScenarioError as exc:
        print(f"error: --scenario {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = settings_from(args)
    if args.data_dir:
        data_dir = Path(args.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="dw-batch-sim-"))
        atexit.register(shutil.rmtree, data_dir, True)
    scenario = scenario_from(args)
    store = Store(data_dir)
    clock = open_clock(store, args.clock, args.speed, time.time())
    try:
        backend = Backend(settings, store, clock, IdSource(settings.seed, next_start_number(store)), scenario)
    except (CassetteError, OSError) as exc:
        print(f"error: --replay {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app = create_app(backend)

    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.log_level == "debug",
        loop="uvloop" if sys.platform != "win32" else "asyncio", http="httptools",
    )
    server = uvicorn.Server(config)
    _announce_when_started(server, data_dir, args, keys_required=bool(settings.api_keys))
    try:
        server.run()
    finally:
        backend.close()
        store.close()


def banner(base: str, profile: str, data_dir: Path, clock: str, keys_required: bool) -> str:
    """What the server prints once it listens: where, and how a client authenticates (any key, or one
    of the `--api-key` keys, which are secrets and not printed)."""
    key = '"<one of your --api-key keys>"' if keys_required else '"any-key"'
    env_key = "<one of your --api-key keys>" if keys_required else "any-key"
    note = "  only the keys given with --api-key (or DWSIM_API_KEY) are accepted\n" if keys_required else ""
    return (
        f"Doubleword Batch API simulator listening on {base}  (profile: {profile}, data: {data_dir}, "
        f"clock: {clock})\n{note}"
        f"  openai SDK:  OpenAI(base_url=\"{base}\", api_key={key})\n"
        f"  or:          export OPENAI_BASE_URL={base} OPENAI_API_KEY={env_key}"
    )


def _announce_when_started(server: uvicorn.Server, data_dir: Path, args: argparse.Namespace,
                           keys_required: bool) -> None:
    original = server.startup

    async def startup(sockets: object = None) -> None:
        await original(sockets=sockets)  # type: ignore[arg-type]
        gc.collect()
        gc.freeze()  # what start-up made lives for good: keep it out of every later collection
        servers = getattr(server, "servers", [])
        port = args.port
        for srv in servers:
            for sock in srv.sockets:
                port = sock.getsockname()[1]
        base = f"http://{args.host}:{port}/v1"
        print(banner(base, args.profile, data_dir, args.clock, keys_required), flush=True)

    server.startup = startup  # type: ignore[method-assign]


if __name__ == "__main__":
    main()

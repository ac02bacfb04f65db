"""Running the simulator from tests: in-process (ASGI), as a real process over HTTP, or the live service
in its place. Each target hands out httpx clients with the same API, one user per key, and steers the
simulator's manual clock. The pytest plugin (`mockserver.pytest_plugin`) builds on this.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx

if TYPE_CHECKING:  # imported when an AsgiTarget is made: importing it warns without httpx2 (the [test] extra)
    from starlette.testclient import TestClient

LIVE_BASE = "https://api.doubleword.ai/v1"
LIVE_MAX_ADVANCE = 10.0  # seconds: the most real time LiveTarget.advance waits; longer is refused


class LiveClockError(RuntimeError):
    """`advance` on the live target for longer than it will wait: the live service's clock cannot move."""


@dataclass(frozen=True)
class Limits:
    max_file_size: int
    max_requests_per_file: int
    max_request_body_size: int


LIVE_LIMITS = Limits(max_file_size=200 * 1024 * 1024, max_requests_per_file=50_000, max_request_body_size=10 * 1024 * 1024)


def limits_of(flags: list[str]) -> tuple[Limits, dict[str, str]]:
    """The upload limits the flags set, and the headers the control API then wants."""
    from mockserver.__main__ import build_parser, settings_from

    settings = settings_from(build_parser().parse_args(flags))
    limits = Limits(settings.max_file_size, settings.max_requests_per_file, settings.max_request_body_size)
    token = settings.control_token
    return limits, {} if token is None else {"Authorization": f"Bearer {token}"}


class Target:
    response_hooks: list[Callable[[httpx.Response], None]]
    name: str
    limits: Limits
    base_url: str  # ends with /v1
    is_simulator = True
    profile = "doubleword"  # the API the target plays (`--profile`); live is always doubleword

    def _transport_client(self, headers: dict[str, str]) -> httpx.Client:
        raise NotImplementedError

    def __init__(self) -> None:
        self.response_hooks = []  # called with every response of every client handed out
        self.control_headers: dict[str, str] = {}

    def new_key(self) -> str:
        return f"test-{uuid.uuid4()}"

    def client(self, key: str | None) -> httpx.Client:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        client = self._transport_client(headers)
        client.event_hooks["response"] = list(self.response_hooks)
        return client

    def control(self, method: str, path: str, json: Any = None) -> Any:
        with self.client(None) as c:
            response = c.request(method, self.root_url + path, json=json, headers=self.control_headers)
            response.raise_for_status()
            return response.json()

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def post_declaring_length(self, path: str, key: str, headers: dict[str, str], declared: int) -> tuple[int, str]:
        """POST a request whose Content-Length promises `declared` bytes but send only a few: a
        server that decides from the header answers before the body arrives. httpx refuses to send
        less than it declares, so this speaks HTTP/1.1 over a raw socket (TLS for https)."""
        url = httpx.URL(self.base_url + path)
        port = url.port or (443 if url.scheme == "https" else 80)
        lines = [f"POST {url.raw_path.decode()} HTTP/1.1", f"Host: {url.host}", "Connection: close",
                 f"Authorization: Bearer {key}", f"Content-Length: {declared}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        with socket.create_connection((url.host, port), timeout=30) as plain:
            sock = ssl.create_default_context().wrap_socket(plain, server_hostname=url.host) \
                if url.scheme == "https" else plain
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n--b\r\n").encode())
            raw = b""
            while b"\r\n\r\n" not in raw:
                raw += sock.recv(65536)
            head, _, body = raw.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(body) < length:
                body += sock.recv(65536)
        return int(head.split()[1]), body[:length].decode()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (the simulator's manual clock)."""
        self.control("POST", "/_mock/clock/advance", {"seconds": seconds})

    def close(self) -> None:
        pass


@functools.cache
def _shared_loop_client() -> type[TestClient]:
    from starlette.testclient import TestClient

    class SharedLoopClient(TestClient):
        """A TestClient on the target's one event loop: entering it (`with`) starts no loop and no second
        lifespan of the app, so work the app starts outlives the request that started it."""

        def __enter__(self) -> SharedLoopClient:
            return self

        def __exit__(self, *args: object) -> None:
            self.close()

    return SharedLoopClient


class AsgiTarget(Target):
    """The app in this process, through Starlette's TestClient (a real ASGI transport, no socket)."""

    name = "asgi"

    def __init__(self, flags: Sequence[str] = ()) -> None:
        super().__init__()
        from starlette.testclient import TestClient

        from mockserver.__main__ import build_parser, scenario_from, settings_from
        from mockserver.app import create_app
        from mockserver.backend import Backend, next_start_number, open_clock
        from mockserver.domain.ids import IdSource
        from mockserver.store import Store

        self._tmp = tempfile.TemporaryDirectory(prefix="dwsim-asgi-")
        all_flags = ["--clock", "manual", *flags, "--data-dir", self._tmp.name]
        self.limits, self.control_headers = limits_of(all_flags)
        args = build_parser().parse_args(all_flags)
        settings = settings_from(args)
        store = Store(Path(self._tmp.name))
        clock = open_clock(store, args.clock, args.speed, time.time())
        scenario = scenario_from(args)
        self.backend = Backend(settings, store, clock, IdSource(settings.seed, next_start_number(store)), scenario)
        self.app = create_app(self.backend)
        self.base_url = "http://testserver/v1"
        # One TestClient, entered for the whole session, so that its event loop (and the batch
        # planning tasks started on it) lives as long as the app; each user's client shares it.
        self._runner = TestClient(self.app, base_url=self.base_url)
        self._runner.__enter__()

    def post_declaring_length(self, path: str, key: str, headers: dict[str, str], declared: int) -> tuple[int, str]:
        with self.client(key) as c:  # in-process, the header alone reaches the app
            response = c.post(path, content=b"--b\r\n", headers={**headers, "content-length": str(declared)})
            return response.status_code, response.text

    def _transport_client(self, headers: dict[str, str]) -> httpx.Client:
        client = _shared_loop_client()(self.app, base_url=self.base_url, headers=headers)
        client.portal = self._runner.portal  # run on the session's event loop
        return cast(httpx.Client, client)

    def close(self) -> None:
        self._runner.__exit__(None, None, None)
        self.backend.close()
        self.backend.store.close()
        self._tmp.cleanup()


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace: float = 10) -> None:
    """Stop a child process with `sig` (SIGINT: the simulator's clean shutdown), killed if it is still
    running after `grace` seconds; nothing if it has already ended."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ServerProcess:
    """`python -m mockserver --port 0 ARGS` as a child process: waits for its start line and keeps
    reading what it prints (`output`), so a chatty server never blocks on a full pipe."""

    def __init__(self, args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
                 wait: float = 60) -> None:
        cmd = [sys.executable, "-m", "mockserver", "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                                     env=env)
        self.output: list[str] = []
        self.root = ""  # http://host:port, without /v1
        self._listening = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        started = self._listening.wait(wait)
        if not started or not self.root:  # no start line in time, or its output ended without one
            self.proc.kill()
            code = self.proc.wait()
            why = f"exited with {code}" if started else f"no start line in {wait:g} s"
            raise RuntimeError(f"simulator did not start ({why}):\n" + "".join(self.output[-40:]))

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            found = re.search(r"listening on (http://\S+)/v1", line)
            if found and not self._listening.is_set():
                self.root = found.group(1)
                self._listening.set()
        self._listening.set()  # the output ended: a child that died at start is not waited for


class HttpTarget(Target):
    """`python -m mockserver` in a child process on a free port, spoken to over a real socket."""

    name = "http"

    def __init__(self, flags: Sequence[str] = ()) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory(prefix="dwsim-http-")
        all_flags = ["--clock", "manual", *flags, "--data-dir", self._tmp.name]
        self.limits, self.control_headers = limits_of(all_flags)
        self.server = ServerProcess(["--log-level", "warning", *all_flags])
        self.proc = self.server.proc
        self.base_url = self.server.root + "/v1"

    def _transport_client(self, headers: dict[str, str]) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    def close(self) -> None:
        stop_process(self.proc, signal.SIGINT)
        self._tmp.cleanup()


class LiveTarget(Target):
    """The live service; needs DOUBLEWORD_API_KEY (and DOUBLEWORD_API_KEY_2 for isolation tests)."""

    name = "live"
    limits = LIVE_LIMITS
    is_simulator = False

    def __init__(self) -> None:
        super().__init__()
        self.base_url = os.environ.get("DOUBLEWORD_BASE_URL", LIVE_BASE)
        keys = [os.environ["DOUBLEWORD_API_KEY"], os.environ.get("DOUBLEWORD_API_KEY_2", "")]
        self._keys = itertools.cycle([k for k in keys if k])  # a test's two users get the two keys
        self._created: list[tuple[str, str]] = []  # (authorization, URL) of what the tests created
        self.response_hooks.append(self._note_created)

    def new_key(self) -> str:
        return next(self._keys)

    def _note_created(self, response: httpx.Response) -> None:
        request = response.request
        if request.method == "POST" and response.status_code == 201 and request.url.path.endswith(("/files", "/batches")):
            response.read()
            created = response.json()
            authorization = request.headers.get("authorization", "")
            # the URL as sent (whatever prefix the base URL has, e.g. /ai/v1), without its query
            created_in = request.url.copy_with(query=None)
            files = created_in.copy_with(path=created_in.path.rsplit("/", 1)[0] + "/files")
            for key in ("output_file_id", "error_file_id"):  # a batch's files outlive it
                if created.get(key):
                    self._created.append((authorization, f"{files}/{created[key]}"))
            if created.get("id"):
                self._created.append((authorization, f"{created_in}/{created['id']}"))

    def clean_up_requests(self) -> list[httpx.Request]:
        """What `clean_up` sends: cancel and delete every batch, and delete every file, the last test
        created (newest first)."""
        requests = []
        for authorization, url in reversed(self._created):
            headers = {"Authorization": authorization}
            if "/batches/" in url:
                requests.append(httpx.Request("POST", url + "/cancel", headers=headers))
            requests.append(httpx.Request("DELETE", url, headers=headers))
        return requests

    def clean_up(self) -> None:
        """Cancel and delete every batch, and delete every file, the last test created (newest first)."""
        with httpx.Client(timeout=60) as http:
            for request in self.clean_up_requests():
                http.send(request)
        self._created.clear()

    def _transport_client(self, headers: dict[str, str]) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=120)

    def advance(self, seconds: float) -> None:
        """The live service's clock cannot be moved: wait `seconds` of real time, at most LIVE_MAX_ADVANCE
        (short waits, e.g. to space the creation times of two objects, work on live as on a simulator);
        refuse longer ones rather than sleep for an hour."""
        if seconds > LIVE_MAX_ADVANCE:
            raise LiveClockError(
                f"advance({seconds:g}) on the live target: the live service's clock cannot be moved, and "
                f"waiting {seconds:g} s of real time is refused (at most {LIVE_MAX_ADVANCE:g} s is waited); "
                "mark the test @pytest.mark.simulator_only(\"drives the manual clock\") to skip it on live")
        time.sleep(seconds)


def make_target(name: str, flags: Sequence[str] = ()) -> Target:
    """`asgi` (in-process), `http` (a child process) or `live`; `flags` are the simulator's command-line
    flags (the clock is always manual unless the flags say otherwise)."""
    made: Target
    if name == "asgi":
        made = AsgiTarget(flags)
    elif name == "http":
        made = HttpTarget(flags)
    elif name == "live":
        return LiveTarget()
    else:
        raise ValueError(f"unknown target {name!r}; choose asgi, http or live")
    if "--profile" in flags:
        made.profile = flags[list(flags).index("--profile") + 1]
    return made

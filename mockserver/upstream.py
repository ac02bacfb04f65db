"""The proxy to a real OpenAI-compatible server (`--upstream URL`): one request in, its real answer or
its real failure out, as an `Attempt` in the forms the live daemon records.

- An HTTP answer is kept as it came: 2xx bodies parsed as JSON (kept as text when they are not
  JSON), other statuses with the body's text (live's `{status, body}` failure details). Whether it
  is retried is the schedule's rule (5xx, 429, 408, 404 retried; other 4xx fail at once).
- A request that takes longer than `timeout` seconds is a `Timeout`; a refused or dropped
  connection (or any other transport error) is a `NetworkError`, both retried as live retries them.
- `models` maps a model name of the batch file to the name the upstream serves (`--upstream-model
  local=remote`); the answer is passed back unchanged (it names the upstream's model, as live).
- At most `concurrency` requests are in flight at once, over batches and realtime calls together.
- The key goes in the `Authorization` header and nowhere else: it is never logged, printed or written
  (the config's `repr` hides it).

The client runs on an event loop of its own, in a daemon thread, so batch requests sent as the
virtual clock reaches them never hold up the server's loop; `call` may be awaited from any loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import orjson

from mockserver.domain.scheduler import Attempt
from mockserver.settings import UpstreamConfig

T = TypeVar("T")


def parse_model_map(pairs: list[str]) -> dict[str, str]:
    """`["local=remote", ...]` as a dict; a pair without `=` is a usage error."""
    out: dict[str, str] = {}
    for pair in pairs:
        local, sep, remote = pair.partition("=")
        if not sep or not local or not remote:
            raise ValueError(f"--upstream-model wants LOCAL=REMOTE, not {pair!r}")
        out[local] = remote
    return out


def upstream_config(
    url: str, key: str | None, model_pairs: list[str], concurrency: int, timeout: float, *,
    concurrency_flag: str = "--upstream-concurrency", timeout_flag: str = "--upstream-timeout",
) -> UpstreamConfig:
    """The `--upstream` flags checked and made a config (shared by the server's and the recorder's
    command lines, whose concurrency and timeout flags are named differently): an http:// or https://
    URL, a concurrency of at least 1, a timeout above 0, LOCAL=REMOTE model pairs. A ValueError names
    the flag at fault."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--upstream wants an http:// or https:// URL, not {url!r}")
    if concurrency < 1 or not timeout > 0:
        raise ValueError(f"need {concurrency_flag} >= 1 and {timeout_flag} > 0")
    return UpstreamConfig(url, key, parse_model_map(model_pairs), concurrency, timeout)


def attempt_of(status: int, content: bytes) -> Attempt:
    """An upstream HTTP answer as the attempt the schedule and the result lines understand."""
    if 200 <= status < 300:
        try:
            return Attempt(status, orjson.loads(content))
        except orjson.JSONDecodeError:
            return Attempt(status, content.decode("utf-8", "replace"))
    return Attempt(status, content.decode("utf-8", "replace"))


class Upstream:
    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="upstream", daemon=True)
        self._thread.start()
        self._http: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the upstream loop (from any thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def call(self, url: str, body: Any) -> Attempt:
        """`send` awaited from another event loop (the server's)."""
        attempt, _ = await asyncio.wrap_future(self.submit(self.send(url, body)))
        return attempt

    def _client(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        if self._http is None or self._slots is None:
            headers = {"Authorization": f"Bearer {self.config.key}"} if self.config.key else {}
            limits = httpx.Limits(max_connections=self.config.concurrency, max_keepalive_connections=self.config.concurrency)
            self._http = httpx.AsyncClient(headers=headers, limits=limits, timeout=httpx.Timeout(self.config.timeout))
            self._slots = asyncio.Semaphore(self.config.concurrency)
        return self._http, self._slots

    async def send(self, url: str, body: Any) -> tuple[Attempt, float]:
        """POST `body` (its model mapped) to the upstream's `url` (a `/v1/...` path); on the upstream
        loop. Returns the attempt and how many real seconds the upstream took."""
        http, slots = self._client()
        payload = dict(body) if isinstance(body, dict) else body
        if isinstance(payload, dict) and isinstance(payload.get("model"), str):
            payload["model"] = self.config.models.get(payload["model"], payload["model"])
        target = self.base + url.removeprefix("/v1")
        async with slots:
            began = time.monotonic()
            try:
                response = await asyncio.wait_for(
                    http.post(target, content=orjson.dumps(payload), headers={"Content-Type": "application/json"}),
                    self.config.timeout,
                )
                got = attempt_of(response.status_code, response.content)
            except (TimeoutError, httpx.TimeoutException):
                got = Attempt(0, f"request timed out after {self.config.timeout:g}s", failure="Timeout")
            except httpx.HTTPError as exc:
                got = Attempt(0, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                              failure="NetworkError")
            return got, time.monotonic() - began

    def close(self) -> None:
        async def shut() -> None:
            if self._http is not None:
                await self._http.aclose()

        if self.loop.is_running():
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                self.submit(shut()).result(timeout=5)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)

"""One authenticated HTTP session to the API: base URL, Bearer key, error mapping and retries.

Every request goes through `send` (one attempt: transport failures become `APIConnectionError`,
error statuses become `APIStatusError` subclasses) wrapped in `with_retries` by its `Kind`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from client.clock import Clock
from client.errors import APIConnectionError, error_from_response
from client.retrying import Kind, RetryPolicy, with_retries

USER_AGENT = "dw-batch-client/0.1"


class ApiSession:
    def __init__(
        self, base_url: str, api_key: str, *, timeout: float, policy: RetryPolicy, clock: Clock,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.policy = policy
        self.clock = clock
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, transport=transport,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._http.close()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One attempt; raises on a transport failure or an error status."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise APIConnectionError(f"{method} {self.base_url}{path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def retrying(self, attempt: Callable[[], httpx.Response], kind: Kind) -> httpx.Response:
        return with_retries(attempt, kind=kind, policy=self.policy, clock=self.clock)

    def request(self, method: str, path: str, kind: Kind, **kwargs: Any) -> httpx.Response:
        return self.retrying(lambda: self.send(method, path, **kwargs), kind)

    def json(self, method: str, path: str, kind: Kind, **kwargs: Any) -> Any:
        return orjson.loads(self.request(method, path, kind, **kwargs).content)

    @contextmanager
    def stream(self, path: str, params: dict[str, Any] | None = None) -> Iterator[httpx.Response]:
        """A GET whose body is read as it arrives. Opening it is retried as a read; a failure while
        reading the body raises `APIConnectionError` and is the caller's to resume."""

        def open_stream() -> httpx.Response:
            try:
                response = self._http.send(self._http.build_request("GET", path, params=params), stream=True)
            except httpx.TransportError as exc:
                raise APIConnectionError(f"GET {self.base_url}{path}: {exc!r}") from exc
            if response.status_code >= 400:
                try:
                    response.read()
                except httpx.TransportError as exc:
                    raise APIConnectionError(f"GET {self.base_url}{path}: {exc!r}") from exc
                finally:
                    response.close()
                raise error_from_response(response)
            return response

        response = self.retrying(open_stream, Kind.READ)
        try:
            yield response
        except httpx.TransportError as exc:
            raise APIConnectionError(f"GET {self.base_url}{path}: connection broke while reading: {exc!r}") from exc
        finally:
            response.close()

"""Where the client finds its base URL and API key: arguments first, then the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from client.errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.doubleword.ai/v1"
API_KEY_ENV = "DOUBLEWORD_API_KEY"
BASE_URL_ENV = "DOUBLEWORD_BASE_URL"


def resolve_base_url(base_url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The API base URL without a trailing slash. A bare host (`http://127.0.0.1:8000`) gets `/v1`,
    where both the live service and the simulator serve the API."""
    env = os.environ if environ is None else environ
    url = (base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"base URL must be an http(s) URL, got {url!r}")
    return url + "/v1" if parsed.path in ("", "/") else url


def resolve_api_key(api_key: str | None, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    key = api_key or env.get(API_KEY_ENV)
    if not key:
        raise ConfigurationError(f"no API key: pass api_key (--api-key) or set {API_KEY_ENV}")
    return key


def root_url(base_url: str) -> str:
    """The server root of a base URL (`.../v1` or `.../ai/v1` removed): where the simulator's `/_mock` lives."""
    url = base_url.rstrip("/")
    for suffix in ("/ai/v1", "/v1"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url

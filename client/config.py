"""Where the client finds its base URL, API key and poll interval.

Each setting is taken from the first place that has it: the argument (a command-line flag), then
the environment, then the Doubleword tooling's account files in `~/.dw`, then the default.

`~/.dw` (under `$HOME`) is where Doubleword's own CLI (`dw`, PyPI `dw-cli`, repository
doublewordai/dw) keeps its accounts, and what `langchain-doubleword` reads. Two TOML files:

    # ~/.dw/config.toml                    # ~/.dw/credentials.toml
    active_account = "work"                [accounts.work]
    [servers]                              inference_key = "sk-..."
    ai = "https://api.doubleword.ai"       platform_key = "sk-..."   # (not read here)

Read here: `active_account` and `servers.ai` from config.toml, and the active account's
`inference_key` from credentials.toml. The account is found as `dw` finds it: the table whose name
matches `active_account` ignoring case, else the one account whose `display_name` does. `servers.ai`
is a server root (`dw` adds `/ai/v1/...` to it; a bare host gets `/v1` here, which the service also
serves). Sources of the format: langchain-doubleword 0.3.0, `langchain_doubleword/_credentials.py`
lines 14-26 (the format) and 45-70 (reading `active_account` and `accounts.<name>.inference_key`);
dw-cli 0.1.25 is a Rust binary whose source, doublewordai/dw `crates/dw-cli/src/config.rs`, has
`Config {active_account, servers: ServerConfig {ai, admin}, ...}` in config.toml, `Credentials
{accounts: {name: Account {inference_key, display_name, ...}}}` in credentials.toml and
`resolve_account` (the case-insensitive match). A missing or unreadable file, or one that is not
valid TOML, is skipped, as both tools do.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from client.errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.doubleword.ai/v1"
API_KEY_ENV = "DOUBLEWORD_API_KEY"
BASE_URL_ENV = "DOUBLEWORD_BASE_URL"
POLL_INTERVAL_ENV = "DOUBLEWORD_POLL_INTERVAL"


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def dw_home(environ: Mapping[str, str] | None = None) -> Path:
    """`$HOME/.dw` (the home directory when `HOME` is unset)."""
    home = _env(environ).get("HOME")
    return (Path(home) if home else Path.home()) / ".dw"


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


@dataclass(frozen=True)
class DwAccount:
    """What `~/.dw` says: the active account's name and inference key, and the `servers.ai` URL."""

    name: str | None = None
    inference_key: str | None = None
    ai_url: str | None = None


def read_dw_account(environ: Mapping[str, str] | None = None) -> DwAccount:
    home = dw_home(environ)
    config = _toml(home / "config.toml")
    servers = config.get("servers")
    ai = servers.get("ai") if isinstance(servers, dict) else None
    ai_url = ai if isinstance(ai, str) and ai.strip() else None
    active = config.get("active_account")
    if not isinstance(active, str) or not active:
        return DwAccount(ai_url=ai_url)
    found = _toml(home / "credentials.toml").get("accounts")
    accounts = {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}
    entry = next((v for k, v in accounts.items() if k.lower() == active.lower()), None)
    if entry is None:
        named = [v for v in accounts.values() if str(v.get("display_name", "")).lower() == active.lower()]
        entry = named[0] if len(named) == 1 else None
    key = entry.get("inference_key") if entry is not None else None
    return DwAccount(name=active, inference_key=key if isinstance(key, str) and key else None, ai_url=ai_url)


def resolve_base_url(base_url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The API base URL without a trailing slash: the argument, `DOUBLEWORD_BASE_URL`, `~/.dw`'s
    `servers.ai`, or the live service. A bare host (`http://127.0.0.1:8000`) gets `/v1`, where both
    the live service and the simulator serve the API."""
    env = _env(environ)
    url = (base_url or env.get(BASE_URL_ENV) or read_dw_account(env).ai_url or DEFAULT_BASE_URL).strip().rstrip("/")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"base URL must be an http(s) URL, got {url!r}")
    return url + "/v1" if parsed.path in ("", "/") else url


def resolve_api_key(api_key: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The argument, `DOUBLEWORD_API_KEY`, or the inference key of `~/.dw`'s active account."""
    env = _env(environ)
    key = api_key or env.get(API_KEY_ENV) or read_dw_account(env).inference_key
    if not key:
        raise ConfigurationError(
            f"no API key: pass api_key (--api-key), set {API_KEY_ENV}, or log in with Doubleword's `dw` "
            f"(the active account's inference_key in {dw_home(env) / 'credentials.toml'})")
    return key


def resolve_poll_interval(seconds: float | None, environ: Mapping[str, str] | None = None) -> float | None:
    """A poll interval asked for: the argument, else `DOUBLEWORD_POLL_INTERVAL`; None when neither is set."""
    if seconds is None:
        text = _env(environ).get(POLL_INTERVAL_ENV, "").strip()
        if not text:
            return None
        try:
            seconds = float(text)
        except ValueError:
            raise ConfigurationError(f"{POLL_INTERVAL_ENV} must be a number of seconds, got {text!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigurationError(f"the poll interval must be a positive number of seconds, got {seconds:g}")
    return seconds


def is_loopback(base_url: str) -> bool:
    """Whether the URL's host is this machine: `localhost` (or `*.localhost`), 127.0.0.0/8 or ::1."""
    host = httpx.URL(base_url).host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def root_url(base_url: str) -> str:
    """The server root of a base URL (`.../v1` or `.../ai/v1` removed): where the simulator's `/_mock` lives."""
    url = base_url.rstrip("/")
    for suffix in ("/ai/v1", "/v1"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url

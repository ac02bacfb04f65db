"""`~/.dw`, the Doubleword tooling's account files (issue #21): the active account's inference key
and `servers.ai` base URL are used after flags and the environment (flags > env > ~/.dw > defaults)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from client import ConfigurationError, DoublewordClient, SimulatorClock
from client.batchfile import chat_request, encode_line
from client.cli import main
from client.config import DEFAULT_BASE_URL, read_dw_account, resolve_api_key, resolve_base_url
from contract_tests.targets import HttpTarget


def write_batch(path: Path, n: int) -> Path:
    path.write_bytes(b"".join(encode_line(chat_request(f"job-{i}", f"q{i}")) for i in range(n)))
    return path


def dw_files(home: Path, config: str, credentials: str | None = None) -> dict[str, str]:
    (home / ".dw").mkdir(parents=True, exist_ok=True)
    (home / ".dw" / "config.toml").write_text(config)
    if credentials is not None:
        (home / ".dw" / "credentials.toml").write_text(credentials)
    return {"HOME": str(home)}


CREDENTIALS = """
[accounts.personal]
display_name = "Ada"
email = "ada@example.com"
inference_key = "sk-personal"
platform_key = "pk-personal"
account_type = "personal"

[accounts.acme]
display_name = "Acme Corp"
inference_key = "sk-acme"
account_type = "organization"
org_id = "org-1"
"""


def test_the_active_accounts_inference_key_and_server(tmp_path: Path) -> None:
    env = dw_files(tmp_path, 'active_account = "acme"\n[servers]\nai = "http://127.0.0.1:9999"\n'
                             'admin = "http://127.0.0.1:9998"\n', CREDENTIALS)
    assert read_dw_account(env).inference_key == "sk-acme"
    assert resolve_api_key(None, env) == "sk-acme"
    assert resolve_base_url(None, env) == "http://127.0.0.1:9999/v1"  # a server root, as `dw` keeps it


def test_flags_then_environment_then_dw_files_then_defaults(tmp_path: Path) -> None:
    env = dw_files(tmp_path, 'active_account = "personal"\n[servers]\nai = "http://127.0.0.1:9999"\n', CREDENTIALS)
    assert resolve_api_key("sk-flag", {**env, "DOUBLEWORD_API_KEY": "sk-env"}) == "sk-flag"
    assert resolve_api_key(None, {**env, "DOUBLEWORD_API_KEY": "sk-env"}) == "sk-env"
    assert resolve_api_key(None, env) == "sk-personal"
    assert resolve_base_url("http://127.0.0.1:1/v1", {**env, "DOUBLEWORD_BASE_URL": "http://127.0.0.1:2"}) == \
        "http://127.0.0.1:1/v1"
    assert resolve_base_url(None, {**env, "DOUBLEWORD_BASE_URL": "http://127.0.0.1:2"}) == "http://127.0.0.1:2/v1"
    assert resolve_base_url(None, env) == "http://127.0.0.1:9999/v1"
    empty = {"HOME": str(tmp_path / "nobody")}
    assert resolve_base_url(None, empty) == DEFAULT_BASE_URL
    with pytest.raises(ConfigurationError, match=r"credentials\.toml"):
        resolve_api_key(None, empty)


def test_accounts_are_found_as_dw_finds_them(tmp_path: Path) -> None:
    creds = CREDENTIALS
    assert read_dw_account(dw_files(tmp_path, 'active_account = "ACME"\n', creds)).inference_key == "sk-acme"
    assert read_dw_account(dw_files(tmp_path, 'active_account = "ada"\n', creds)).inference_key == "sk-personal"
    assert read_dw_account(dw_files(tmp_path, 'active_account = "gone"\n', creds)).inference_key is None
    assert read_dw_account(dw_files(tmp_path, "default_output = 'table'\n", creds)).inference_key is None  # none active
    assert read_dw_account(dw_files(tmp_path, 'active_account = "acme"\n[servers]\nadmin = "x"\n')).ai_url is None


def test_broken_or_missing_files_are_skipped(tmp_path: Path) -> None:
    env = dw_files(tmp_path, "active_account = \n", CREDENTIALS)  # not TOML
    assert read_dw_account(env).inference_key is None
    env = dw_files(tmp_path, 'active_account = "acme"\n', "[accounts.acme\n")
    assert read_dw_account(env).inference_key is None
    (tmp_path / ".dw" / "credentials.toml").write_bytes(b'[accounts.acme]\ninference_key = "\xff"\n')
    assert read_dw_account(env).inference_key is None
    assert read_dw_account({"HOME": str(tmp_path / "none")}).inference_key is None


def test_the_command_line_uses_the_dw_account(
    sim: HttpTarget, sim_clock: SimulatorClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = sim.new_key()
    with DoublewordClient(api_key=key, base_url=sim.base_url, clock=sim_clock) as dw:
        batch = dw.submit(write_batch(tmp_path / "b.jsonl", 2))
    root = sim.base_url.removesuffix("/v1")
    home = tmp_path / "home"
    dw_files(home, f'active_account = "work"\n[servers]\nai = "{root}"\n',
             f'[accounts.work]\ninference_key = "{key}"\nplatform_key = "pk"\n')
    for name in ("DOUBLEWORD_API_KEY", "DOUBLEWORD_BASE_URL", "DOUBLEWORD_POLL_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    out, err = io.StringIO(), io.StringIO()
    assert main(["status", batch.id], clock=sim_clock, stdout=out, stderr=err) in (0, 6), err.getvalue()
    assert batch.id in out.getvalue()
    monkeypatch.setenv("DOUBLEWORD_API_KEY", sim.new_key())  # the environment comes first: another user
    assert main(["status", batch.id], clock=sim_clock, stdout=out, stderr=err) == 1
    assert main(["--api-key", key, "status", batch.id], clock=sim_clock, stdout=out, stderr=err) in (0, 6)

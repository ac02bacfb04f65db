"""The command line: flags, their environment twins, and the settings they make."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.__main__ import banner, build_parser, settings_from
from mockserver.domain.users import Users
from mockserver.errors import Unauthorized


def test_defaults_are_the_live_production_limits() -> None:
    settings = settings_from(build_parser().parse_args([]))
    assert settings.max_file_size == 200 * 1024 * 1024
    assert settings.max_requests_per_file == 50_000
    assert settings.max_request_body_size == 10 * 1024 * 1024
    assert settings.api_keys == ()


def test_environment_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWSIM_PORT", "9123")
    monkeypatch.setenv("DWSIM_API_KEY", "a,b")
    monkeypatch.setenv("DWSIM_SEED", "11")
    monkeypatch.setenv("DWSIM_CLOCK", "manual")
    args = build_parser().parse_args([])
    assert (args.port, args.seed, args.clock) == (9123, 11, "manual")
    assert settings_from(args).api_keys == ("a", "b")


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWSIM_PORT", "9123")
    assert build_parser().parse_args(["--port", "7000"]).port == 7000


@pytest.mark.parametrize(("flags", "says"), [
    (["--latency-min", "3", "--latency-max", "1"], "--latency-min"),
    (["--profile", "openai", "--finalize-delay", "-1"], "--finalize-delay"),
    (["--cancel-delay", "-0.5"], "--cancel-delay"),
    (["--upstream", "ftp://models.local"], "http:// or https://"),
    (["--upstream", "http://a", "--replay", "c.jsonl"], "choose one"),
    (["--upstream", "http://a", "--upstream-model", "no-equals"], "LOCAL=REMOTE"),
    (["--upstream", "http://a", "--upstream-timeout", "0"], "need --upstream-concurrency >= 1 and --upstream-timeout > 0"),
    (["--upstream", "http://a", "--upstream-concurrency", "0"], "--upstream-concurrency >= 1"),
])
def test_bad_flags_are_refused_with_their_reason(flags: list[str], says: str) -> None:
    with pytest.raises(SystemExit) as refused:
        settings_from(build_parser().parse_args(flags))
    assert says in str(refused.value.code)


def test_configured_keys_only() -> None:
    # §10 item 33: an unknown key is 401 `Authentication required`
    users = Users(("good",))
    assert users.from_authorization("Bearer good").id
    for header in ("Bearer bad", "Bearer ", "bearer good", "Token good", None):
        with pytest.raises(Unauthorized):
            users.from_authorization(header)


def test_each_key_is_its_own_user() -> None:
    users = Users(())
    assert users.from_key("a").id != users.from_key("b").id
    assert users.from_key("a").id == users.from_key("a").id


def test_control_token_guards_the_control_api() -> None:
    from starlette.testclient import TestClient

    from mockserver.testing import AsgiTarget

    sim = AsgiTarget(["--control-token", "s3cret"])
    try:
        with TestClient(sim.app) as raw:
            assert raw.post("/_mock/reset").status_code == 401
            assert raw.get("/_mock/clock", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert raw.get("/_mock/clock", headers={"Authorization": "Bearer s3cret"}).json()["mode"] == "manual"
        sim.advance(5)  # the test handle sends the token
    finally:
        sim.close()


def test_help_never_shows_a_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    secrets = {"DWSIM_UPSTREAM_KEY": "sk-upstream-secret-1", "DWSIM_CONTROL_TOKEN": "control-secret-2",
               "DWSIM_API_KEY": "api-secret-3,api-secret-4"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    shown = capsys.readouterr().out
    assert "--upstream-key" in shown
    for value in ("sk-upstream-secret-1", "control-secret-2", "api-secret-3"):
        assert value not in shown
    # the environment twins still count
    settings = settings_from(build_parser().parse_args(["--upstream", "http://up.local/v1"]))
    assert settings.api_keys == ("api-secret-3", "api-secret-4")
    assert settings.control_token == "control-secret-2"
    assert settings.upstream is not None and settings.upstream.key == "sk-upstream-secret-1"
    flagged = settings_from(build_parser().parse_args(["--api-key", "flag-key", "--control-token", "t"]))
    assert (flagged.api_keys, flagged.control_token) == (("flag-key",), "t")


@pytest.mark.parametrize("speed", ["0", "-1", "inf", "nan"])
def test_a_speed_that_is_not_positive_is_refused(speed: str) -> None:
    with pytest.raises(SystemExit) as refused:
        settings_from(build_parser().parse_args(["--speed", speed]))
    assert "--speed" in str(refused.value.code)


def test_the_start_banner_says_how_to_authenticate() -> None:
    base, data = "http://127.0.0.1:8000/v1", Path("/tmp/d")
    assert banner(base, "doubleword", data, "real", keys_required=False).splitlines()[1:] == [
        '  openai SDK:  OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="any-key")',
        "  or:          export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any-key",
    ]
    keyed = banner(base, "doubleword", data, "real", keys_required=True)
    assert "any-key" not in keyed
    assert keyed.splitlines()[1:] == [
        "  only the keys given with --api-key (or DWSIM_API_KEY) are accepted",
        '  openai SDK:  OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="<one of your --api-key keys>")',
        "  or:          export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=<one of your --api-key keys>",
    ]

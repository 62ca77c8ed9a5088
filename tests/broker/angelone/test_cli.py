"""`optbot auth ...` end to end against a simulator running in a background thread (real time)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.core.clock import LiveClock
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT, StaticMarket

PASSWORD = "cli-test-keyring-password"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    clock = LiveClock()
    started = threading.Event()
    holder: dict[str, Simulator] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        simulator = Simulator(StaticMarket(clock), clock, [TEST_ACCOUNT])
        loop.run_until_complete(simulator.start())
        holder["sim"] = simulator
        started.set()
        loop.run_forever()
        loop.run_until_complete(simulator.stop())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield holder["sim"].base_url
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def cli(tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    config = tmp_path / "optbot.toml"
    config.write_text(
        f'[paths]\ndata_root = "{tmp_path / "data"}"\n'
        f'[broker]\nclient_code = "{TEST_ACCOUNT.client_code}"\nrest_base_url = "{sim_url}"\n'
        'keyring_backend = "cryptfile"\n'
    )
    monkeypatch.setenv("OPTBOT_KEYRING_PASSWORD", PASSWORD)
    for name in ("API_KEY", "PIN", "TOTP_SECRET"):
        monkeypatch.delenv(f"OPTBOT_SECRET_{name}", raising=False)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--config", str(config), "auth", *args], input=stdin)

    return invoke


def test_auth_cli_flow(cli) -> None:  # type: ignore[no-untyped-def]
    for name, value in (
        ("api_key", TEST_ACCOUNT.api_key),
        ("pin", TEST_ACCOUNT.pin),
        ("totp_secret", TEST_ACCOUNT.totp_secret),
    ):
        result = cli("set-secret", name, "--stdin", stdin=value + "\n")
        assert result.exit_code == 0, result.output
        assert value not in result.output

    result = cli("status")
    assert result.exit_code == 0 and "none" in result.output

    result = cli("login")
    assert result.exit_code == 0, result.output
    assert "logged in" in result.output and TEST_ACCOUNT.client_code in result.output
    assert TEST_ACCOUNT.pin not in result.output

    result = cli("status", "--check")
    assert result.exit_code == 0 and "session valid until" in result.output

    result = cli("logout")
    assert result.exit_code == 0 and "logged out" in result.output
    assert "none" in cli("status").output


def test_wrong_pin_is_exit_2_with_a_clear_message(cli) -> None:  # type: ignore[no-untyped-def]
    for name, value in (
        ("api_key", TEST_ACCOUNT.api_key),
        ("pin", "0000"),
        ("totp_secret", TEST_ACCOUNT.totp_secret),
    ):
        assert cli("set-secret", name, "--stdin", stdin=value + "\n").exit_code == 0
    result = cli("login")
    assert result.exit_code == 2
    assert "refused the login" in result.output and "0000" not in result.output
    assert "Traceback" not in result.output


def test_bad_input_exits_2(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("set-secret", "password", "--stdin", stdin="x\n").exit_code == 2
    result = cli("login")  # nothing stored yet
    assert result.exit_code == 2 and "set-secret" in result.output


def test_set_token_manual_fallback(cli, sim_url: str) -> None:  # type: ignore[no-untyped-def]
    import httpx
    import pyotp

    assert cli("set-secret", "api_key", "--stdin", stdin=TEST_ACCOUNT.api_key + "\n").exit_code == 0
    import time

    for _ in range(5):  # login is limited to 1/s and the previous test may just have logged in
        response = httpx.post(
            f"{sim_url}/rest/auth/angelbroking/user/v1/loginByPassword",
            headers={"X-PrivateKey": TEST_ACCOUNT.api_key, "Content-Type": "application/json"},
            json={
                "clientcode": TEST_ACCOUNT.client_code,
                "password": TEST_ACCOUNT.pin,
                "totp": pyotp.TOTP(TEST_ACCOUNT.totp_secret).now(),
            },
        )
        if response.status_code == 200:
            break
        time.sleep(1.1)
    reply = response.json()["data"]
    result = cli("set-token", stdin=f"{reply['jwtToken']}\n{reply['feedToken']}\n\n")
    assert result.exit_code == 0, result.output
    assert "accepted by the broker" in result.output and reply["jwtToken"] not in result.output
    bad = cli("set-token", stdin="eyJbogus\nfeed\n\n")
    assert bad.exit_code == 2 and "not valid" in bad.output


def test_auth_status_prints_the_check(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPTBOT__BROKER__REGISTERED_STATIC_IPS", '["127.0.0.1"]')
    result = cli("status")
    assert result.exit_code == 0, result.output
    assert "static IP: PASS" in result.output and "127.0.0.1" in result.output

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.core.errors import UserError
from optbot.sim.accounts import load_accounts
from optbot.sim.auth import demo_account
from optbot.sim.cli import banner

runner = CliRunner()


def test_banner_lists_urls_and_demo_credentials() -> None:
    account = demo_account()
    lines = banner(
        "http://127.0.0.1:9",
        "ws://127.0.0.1:9/smart-stream",
        "ws://127.0.0.1:9/smart-order-update",
        [account],
    )
    text = "\n".join(lines)
    assert "http://127.0.0.1:9" in text and "/smart-stream" in text and "/smart-order-update" in text
    for value in (account.client_code, account.pin, account.totp_secret, account.api_key):
        assert value in text


def test_accounts_file_round_trip_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "accounts.json"
    good.write_bytes(
        orjson.dumps(
            [
                {
                    "client_code": "X1",
                    "pin": "1111",
                    "totp_secret": "JBSWY3DPEHPK3PXP",
                    "api_key": "k1",
                    "funds": 1000,
                }
            ]
        )
    )
    accounts = load_accounts(good)
    assert accounts[0].client_code == "X1" and accounts[0].funds == 1000
    cases = {
        "missing.json": None,
        "bad.json": b"{nope",
        "empty.json": b"[]",
        "field.json": orjson.dumps(
            [{"client_code": "X1", "pin": "1", "totp_secret": "JBSWY3DPEHPK3PXP", "api_key": "k"}]
        ),
        "dupe.json": orjson.dumps(
            [{"client_code": "X1", "pin": "1111", "totp_secret": "JBSWY3DPEHPK3PXP", "api_key": "k"}] * 2
        ),
    }
    messages = {}
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(UserError) as error:
            load_accounts(path)
        messages[name] = str(error.value)
    assert "cannot read" in messages["missing.json"]
    assert "not valid JSON" in messages["bad.json"]
    assert "non-empty JSON array" in messages["empty.json"]
    assert "entry 0: pin" in messages["field.json"]
    assert "duplicate client_code X1" in messages["dupe.json"]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--host", "0.0.0.0"], "not a loopback address"),
        (["--port", "70000"], "out of range"),
        (["--speed", "-1"], "must be >= 0"),
        (["--date", "2025-13-40"], "is not a date"),
        (["--accounts", "/nonexistent/accounts.json"], "cannot read accounts file"),
    ],
)
def test_serve_rejects_bad_input_with_exit_2(arguments: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["sim", "serve", *arguments])
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


async def test_admin_commands_against_a_running_simulator(sim, sim_clock) -> None:
    import asyncio

    def invoke(*args: str):
        return runner.invoke(app, ["sim", *args, "--url", sim.base_url])

    clock = await asyncio.to_thread(invoke, "clock")
    assert clock.exit_code == 0 and "2026-11-18T04:30:00.000Z" in clock.output
    storm = await asyncio.to_thread(invoke, "fault", "forbid_storm", "--count", "3", "--endpoint", "getRMS")
    assert storm.exit_code == 0, storm.output
    assert sim.faults.describe()["forbid_storm"]["remaining"] == 3
    lost = await asyncio.to_thread(invoke, "fault", "lose_order_replies", "--mode", "hang")
    assert lost.exit_code == 0 and sim.faults.describe()["lost_order_replies"]["mode"] == "hang"
    stall = await asyncio.to_thread(invoke, "fault", "feed_stall")
    assert stall.exit_code == 0 and sim.faults.feed_stalled
    cleared = await asyncio.to_thread(invoke, "fault", "clear")
    assert cleared.exit_code == 0 and not sim.faults.feed_stalled
    wrong = await asyncio.to_thread(invoke, "fault", "drop_ws", "--count", "2")
    assert wrong.exit_code == 2 and "does not take --count" in " ".join(wrong.output.split())
    unknown = await asyncio.to_thread(invoke, "fault", "meteor")
    assert unknown.exit_code == 2 and "unknown fault" in " ".join(unknown.output.split())
    state = await asyncio.to_thread(invoke, "state", "--client-code", "nobody")
    assert state.exit_code == 2 and "unknown client_code" in " ".join(state.output.split())
    state = await asyncio.to_thread(invoke, "state")
    assert state.exit_code == 0 and '"client_code": "T1000001"' in state.output


def test_admin_commands_refuse_non_loopback_and_unreachable() -> None:
    remote = runner.invoke(app, ["sim", "clock", "--url", "http://10.0.0.1:8720"])
    assert remote.exit_code == 2 and "loopback" in " ".join(remote.output.split())
    closed = runner.invoke(app, ["sim", "clock", "--url", "http://127.0.0.1:9"])
    assert closed.exit_code == 2 and "cannot reach the simulator" in " ".join(closed.output.split())

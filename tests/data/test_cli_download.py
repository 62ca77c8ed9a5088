"""`optbot data download` end to end: CLI → keyring-free secrets → login → getCandleData on the simulator.

The CLI runs on the wall clock (LiveClock), so the simulator does too and the candles are dated
relative to today; the assertions only count bars.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from optbot.core.clock import LiveClock
from optbot.sim.server import Simulator
from optbot.test_kit.instruments import sample_master_rows
from optbot.test_kit.sim import NIFTY_TOKEN, TEST_ACCOUNT, StaticMarket, static_scrip_master
from tests.data.cli_app import data_cli_app

app = data_cli_app()

DAYS = 12


@pytest.fixture
async def live_sim():
    clock = LiveClock()
    market = StaticMarket(clock, static_scrip_master() + sample_master_rows(date(2099, 1, 2)))
    today = clock.now_ist().replace(hour=0, minute=0, second=0, microsecond=0)
    market.candle_rows[("NSE", NIFTY_TOKEN, "ONE_DAY")] = [
        [(today - timedelta(days=offset)).isoformat(), 24000.0, 24100.0, 23900.0, 24050.0 + offset, 0]
        for offset in range(1, DAYS)
        if (today - timedelta(days=offset)).weekday() < 5
    ]
    simulator = Simulator(market, clock, [TEST_ACCOUNT])
    await simulator.start()
    try:
        yield simulator, len(market.candle_rows[("NSE", NIFTY_TOKEN, "ONE_DAY")])
    finally:
        await simulator.stop()


async def test_download_command_against_simulator(live_sim, tmp_path):
    simulator, expected = live_sim
    env = {
        "COLUMNS": "200",
        "OPTBOT__PATHS__DATA_ROOT": str(tmp_path),
        "OPTBOT__BROKER__CLIENT_CODE": TEST_ACCOUNT.client_code,
        "OPTBOT__BROKER__REST_BASE_URL": simulator.base_url,
        "OPTBOT__BROKER__SCRIP_MASTER_URL": simulator.base_url
        + "/OpenAPI_File/files/OpenAPIScripMaster.json",
        "OPTBOT__BROKER__KEYRING_BACKEND": "cryptfile",
        "OPTBOT_KEYRING_PASSWORD": "test-only-password",
        "OPTBOT_SECRET_API_KEY": TEST_ACCOUNT.api_key,
        "OPTBOT_SECRET_PIN": TEST_ACCOUNT.pin,
        "OPTBOT_SECRET_TOTP_SECRET": TEST_ACCOUNT.totp_secret,
    }

    def invoke(args):
        return CliRunner().invoke(app, args, env=env, catch_exceptions=False)

    refreshed = await asyncio.to_thread(invoke, ["instruments", "refresh"])
    assert refreshed.exit_code == 0, refreshed.output
    args = ["data", "download", "--symbol", "NIFTY", "--timeframe", "daily", "--days", str(DAYS)]
    result = await asyncio.to_thread(invoke, args)
    assert result.exit_code == 0, result.output
    assert "NIFTY" in result.output and f"│ {expected} " in result.output
    stored = (tmp_path / "timeframes" / "NIFTY" / "daily.json").read_text().splitlines()
    assert len(stored) == expected
    again = await asyncio.to_thread(invoke, [*args, "--options", "2"])
    assert again.exit_code == 0, again.output
    assert "│ 0     " in again.output  # idempotent: nothing added for the index
    assert "all requests" in again.output  # index + the ATM contracts of the nearest expiry
    assert "24400CE daily" in again.output and "24400PE daily" in again.output

    live_chain = await asyncio.to_thread(invoke, ["chain", "NIFTY", "--live", "--strikes", "1"])
    assert live_chain.exit_code == 0, live_chain.output
    assert "spot 24,500.00" in live_chain.output and "24400" in live_chain.output
    assert "120,000" in live_chain.output  # the simulator's open interest for the 24400 call

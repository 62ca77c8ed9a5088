"""CLI round trip against the simulator: refresh downloads the master the simulator serves."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from typer.testing import CliRunner

from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.instruments import sample_master_rows
from optbot.test_kit.sim import TEST_ACCOUNT, StaticMarket, market_hours_start, static_scrip_master
from tests.data.cli_app import data_cli_app

app = data_cli_app()

FAR = date(2099, 1, 2)  # expiries after any real "today", so the purge keeps them


@pytest.fixture
async def sim_url():
    clock = SimClock(market_hours_start())
    rows = static_scrip_master() + sample_master_rows(FAR)
    simulator = Simulator(StaticMarket(clock, rows), clock, [TEST_ACCOUNT])
    await simulator.start()
    try:
        yield simulator.base_url + "/OpenAPI_File/files/OpenAPIScripMaster.json"
    finally:
        await simulator.stop()


def invoke(args, env):
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


async def test_refresh_search_show_chain(sim_url, tmp_path, sample_data):
    env = {
        "OPTBOT__PATHS__DATA_ROOT": str(tmp_path),
        "OPTBOT__BROKER__SCRIP_MASTER_URL": sim_url,
        "COLUMNS": "200",
    }
    result = await asyncio.to_thread(invoke, ["instruments", "refresh"], env)
    assert result.exit_code == 0, result.output
    assert "kept" in result.output and list((tmp_path / "instruments").glob("scripmaster-*.json"))
    again = await asyncio.to_thread(invoke, ["instruments", "refresh"], env)
    assert "already stored" in again.output

    found = invoke(["instruments", "search", "SBIN"], env)
    assert found.exit_code == 0 and "SBIN-EQ" in found.output
    shown = invoke(["instruments", "show", "99926000"], env)
    assert shown.exit_code == 0 and "Nifty 50" in shown.output and "CASH" in shown.output
    missing = invoke(["instruments", "show", "NOPE"], env)
    assert missing.exit_code == 2 and "not in the instrument master" in missing.output

    snapshot = sample_data / "options" / "nifty_option_chain_snapshot_2026-08-07_close_exp_2026-08-11.csv"
    args = ["chain", "NIFTY", "--expiry", "2099-01-06", "--spot", "24570.65", "--snapshot", str(snapshot)]
    chain = invoke([*args, "--strikes", "3"], env)
    assert chain.exit_code == 0, chain.output
    assert "24550 ATM" in chain.output and "lot 65" in chain.output
    bad = invoke(["chain", "NIFTY", "--expiry", "2001-01-01", "--spot", "1"], env)
    assert bad.exit_code == 2 and "no expiry" in bad.output
    no_price = invoke(["chain", "NIFTY"], env)
    assert no_price.exit_code == 2 and "--spot" in no_price.output


def test_commands_without_a_master_fail_cleanly(tmp_path):
    env = {"OPTBOT__PATHS__DATA_ROOT": str(tmp_path)}
    result = invoke(["instruments", "search", "NIFTY"], env)
    assert result.exit_code == 2 and "instruments refresh" in result.output

"""The simulator over the real replay market: AMO before the open, fills on replayed ticks, candles."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from optbot.core.clock import SimClock
from optbot.core.timeutil import IST
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT
from tests.sim.helpers import SECURE, client_for, headers, login

replay = pytest.importorskip("optbot.sim.market")
replay_settings = pytest.importorskip("optbot.config.sections.replay")


async def test_amo_released_at_the_open_and_filled_on_replayed_ticks(sample_data: Path) -> None:
    clock = SimClock(datetime(2025, 9, 10, 9, 0, tzinfo=IST))
    market = replay.ReplayMarket(clock, replay_settings.ReplaySettings(data_dir=sample_data / "store"))
    simulator = Simulator(market, clock, [TEST_ACCOUNT])
    await simulator.start()
    try:
        async with client_for(simulator) as client:
            jwt = (await login(client, clock))["jwtToken"]
            master = (await client.get("/OpenAPI_File/files/OpenAPIScripMaster.json")).json()
            options = [row for row in master if row["instrumenttype"] == "OPTIDX" and row["name"] == "NIFTY"]
            nearest = min(datetime.strptime(row["expiry"], "%d%b%Y") for row in options)
            chain = [row for row in options if datetime.strptime(row["expiry"], "%d%b%Y") == nearest]
            spot = (
                await client.post(
                    f"{SECURE}/order/v1/getLtpData",
                    headers=headers(jwt),
                    json={"exchange": "NSE", "symboltoken": "99926000"},
                )
            ).json()["data"]["ltp"]
            atm = min(
                (row for row in chain if row["symbol"].endswith("CE")),
                key=lambda row: abs(float(row["strike"]) / 100 - spot),
            )
            body = {
                "variety": "NORMAL",
                "tradingsymbol": atm["symbol"],
                "symboltoken": atm["token"],
                "exchange": "NFO",
                "transactiontype": "BUY",
                "ordertype": "MARKET",
                "producttype": "CARRYFORWARD",
                "duration": "DAY",
                "quantity": atm["lotsize"],
            }
            placed = (
                await client.post(f"{SECURE}/order/v1/placeOrder", headers=headers(jwt), json=body)
            ).json()
            unique_id = placed["data"]["uniqueorderid"]
            details = (
                await client.get(f"{SECURE}/order/v1/details/{unique_id}", headers=headers(jwt))
            ).json()
            assert details["data"]["status"] == "after market order req received"
            await market.run(clock.now_utc(), datetime(2025, 9, 10, 9, 20, tzinfo=IST))
            details = (
                await client.get(f"{SECURE}/order/v1/details/{unique_id}", headers=headers(jwt))
            ).json()
            assert details["data"]["status"] == "complete", details["data"]["text"]
            positions = (await client.get(f"{SECURE}/order/v1/getPosition", headers=headers(jwt))).json()[
                "data"
            ]
            assert positions[0]["netqty"] == atm["lotsize"]
            candles = (
                await client.post(
                    f"{SECURE}/historical/v1/getCandleData",
                    headers=headers(jwt),
                    json={
                        "exchange": "NSE",
                        "symboltoken": "99926000",
                        "interval": "ONE_MINUTE",
                        "fromdate": "2025-09-10 09:15",
                        "todate": "2025-09-10 09:19",
                    },
                )
            ).json()["data"]
            assert [row[0][11:16] for row in candles] == ["09:15", "09:16", "09:17", "09:18", "09:19"]
            clock_reply = (await client.get("/sim/v1/clock")).json()
            assert clock_reply["utc"] == "2025-09-10T03:50:00.000Z" and clock_reply["market_open"]["NFO"]
    finally:
        await simulator.stop()

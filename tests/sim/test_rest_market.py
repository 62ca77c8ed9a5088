"""Plain-HTTP tests of quotes, candles, search, calculators, analytics and the scrip master."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from optbot.core.clock import SimClock
from optbot.core.timeutil import IST
from optbot.sim.server import Simulator
from optbot.test_kit.sim import (
    NIFTY_CE_HEDGE_TOKEN,
    NIFTY_CE_TOKEN,
    NIFTY_FUT_TOKEN,
    NIFTY_TOKEN,
    SBIN_TOKEN,
    StaticMarket,
)
from tests.sim.helpers import SECURE, client_for, headers, login


async def call(client: httpx.AsyncClient, path: str, jwt: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{SECURE}{path}", headers=headers(jwt), json=body)


@pytest.mark.parametrize("suffix", ["", "/"])
async def test_quote_modes_and_unfetched(sim: Simulator, sim_clock: SimClock, suffix: str) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        ltp = (
            await call(
                client,
                f"/market/v1/quote{suffix}",
                jwt,
                {"mode": "LTP", "exchangeTokens": {"NSE": [SBIN_TOKEN, ""]}},
            )
        ).json()["data"]
        assert ltp["fetched"] == [
            {"exchange": "NSE", "tradingSymbol": "SBIN-EQ", "symbolToken": SBIN_TOKEN, "ltp": 800.0}
        ]
        assert ltp["unfetched"] == [
            {
                "exchange": "NSE",
                "symbolToken": "",
                "message": "Symbol token cannot be empty",
                "errorCode": "AB4018",
            }
        ]
        full = (
            await call(
                client,
                f"/market/v1/quote{suffix}",
                jwt,
                {"mode": "FULL", "exchangeTokens": {"NFO": [NIFTY_CE_TOKEN]}},
            )
        ).json()["data"]["fetched"][0]
        assert len(full["depth"]["buy"]) == 5 and full["depth"]["sell"][0] == {
            "price": 150.05,
            "quantity": 750,
            "orders": 3,
        }
        assert full["exchFeedTime"] == "18-Nov-2026 10:00:00" and full["opnInterest"] == 120000
        assert {"52WeekLow", "52WeekHigh", "upperCircuit", "totBuyQuan"} <= set(full)
        bad = await call(client, "/market/v1/quote", jwt, {"mode": "DEPTH", "exchangeTokens": {"NSE": ["1"]}})
        assert bad.json()["errorcode"] == "AB1007"


async def test_ltp_search_and_scrip_master(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        ltp = (
            await call(
                client,
                "/order/v1/getLtpData",
                jwt,
                {"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": SBIN_TOKEN},
            )
        ).json()
        assert ltp["data"]["ltp"] == 800.0 and ltp["data"]["tradingsymbol"] == "SBIN-EQ"
        unknown = (
            await call(client, "/order/v1/getLtpData", jwt, {"exchange": "NSE", "symboltoken": "1"})
        ).json()
        assert unknown["errorcode"] == "AB1009"
        found = (
            await call(client, "/order/v1/searchScrip", jwt, {"exchange": "NFO", "searchscrip": "24400"})
        ).json()
        assert [row["symboltoken"] for row in found["data"]] == [NIFTY_CE_TOKEN, "58785"]
        master = await client.get("/OpenAPI_File/files/OpenAPIScripMaster.json")
        assert master.status_code == 200 and master.json()[0]["token"] == NIFTY_TOKEN


async def test_candles_interval_span_and_rows(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    sim_market.add_minute_candles("NSE", NIFTY_TOKEN, datetime(2026, 11, 18, 9, 15, tzinfo=IST), 10, 24400.0)
    body = {
        "exchange": "NSE",
        "symboltoken": NIFTY_TOKEN,
        "interval": "ONE_MINUTE",
        "fromdate": "2026-11-18 09:15",
        "todate": "2026-11-18 09:19",
    }
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        rows = (await call(client, "/historical/v1/getCandleData", jwt, body)).json()["data"]
        assert [row[0] for row in rows] == [f"2026-11-18T09:{m}:00+05:30" for m in range(15, 20)]
        assert rows[0][1:] == [24400.0, 24401.0, 24399.0, 24400.5, 100]
        bogus = await call(client, "/historical/v1/getCandleData", jwt, {**body, "interval": "BOGUS"})
        assert bogus.status_code == 400 and bogus.content == b""
        sim_clock.advance(1.0)
        too_long = await call(
            client,
            "/historical/v1/getCandleData",
            jwt,
            {**body, "fromdate": "2026-09-01 09:15", "todate": "2026-11-18 09:19"},
        )
        assert too_long.json()["status"] is False and "30 days" in too_long.json()["message"]
        fourth = [await call(client, "/historical/v1/getCandleData", jwt, body) for _ in range(3)]
        assert [reply.status_code for reply in fourth] == [200, 200, 403]  # 3/s


async def test_margin_charges_and_greeks(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        margin = (
            await call(
                client,
                "/margin/v1/batch",
                jwt,
                {
                    "positions": [
                        {
                            "exchange": "NFO",
                            "qty": 75,
                            "price": 150,
                            "productType": "CARRYFORWARD",
                            "token": NIFTY_CE_TOKEN,
                            "tradeType": "SELL",
                            "orderType": "LIMIT",
                        },
                        {
                            "exchange": "NFO",
                            "qty": 75,
                            "price": 0,
                            "productType": "CARRYFORWARD",
                            "token": NIFTY_CE_HEDGE_TOKEN,
                            "tradeType": "BUY",
                        },
                    ]
                },
            )
        ).json()["data"]
        # short 24400 CE hedged by long 24600 CE: the spread's worst loss (200/unit), not naked SPAN
        components = margin["marginComponents"]
        assert components["spanMargin"] == pytest.approx(75 * 200.0)
        assert components["totOptionsPremium"] == pytest.approx(75 * 60.0)  # the hedge at its LTP
        assert components["netPremium"] == pytest.approx(75 * 60.0 - 75 * 150.0)
        assert margin["totalMarginRequired"] == pytest.approx(75 * 200.0 + 75 * 60.0)
        assert components["marginBenefit"] == pytest.approx(
            75 * 0.065 * 24500 - 75 * 200.0
        )  # NIFTY scan 4.5 % + exposure 2 %
        charges = (
            await call(
                client,
                "/brokerage/v1/estimateCharges",
                jwt,
                {
                    "orders": [
                        {
                            "product_type": "CARRYFORWARD",
                            "transaction_type": "SELL",
                            "quantity": "75",
                            "price": "100",
                            "exchange": "NFO",
                            "symbol_name": "NIFTY",
                            "token": NIFTY_CE_TOKEN,
                        }
                    ]
                },
            )
        ).json()["data"]
        summary = charges["summary"]
        # 1 Apr 2026 card: STT 0.15 % of 7,500; NSE txn 0.03503 %; SEBI 10/crore; IPFT 0.0005 %;
        # GST 18 % of (brokerage 20 + txn + SEBI + IPFT); no stamp duty on the sell side
        txn, sebi, ipft = 7500 * 0.0003503, 7500 * 1e-6, 7500 * 0.000005
        expected = 20 + txn + sebi + ipft + 11.25 + 0.18 * (20 + txn + sebi + ipft)
        assert summary["total_charges"] == pytest.approx(expected, abs=0.01)
        assert [node["name"] for node in summary["breakup"]] == [
            "Angel One Brokerage",
            "External Charges",
            "Taxes",
        ]
        assert charges["charges"][0]["trade_value"] == 7500.0
        greeks = (
            await call(
                client, "/marketData/v1/optionGreek", jwt, {"name": "NIFTY", "expirydate": "30DEC2026"}
            )
        ).json()["data"]
        call_row = next(row for row in greeks if row["optionType"] == "CE")
        assert 0.5 < float(call_row["delta"]) < 1.0 and float(call_row["impliedVolatility"]) > 0
        assert call_row["strikePrice"] == "24400.000000"


async def test_pcr_gainers_and_buildup(sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket) -> None:
    sim_market.set_quote("NFO", NIFTY_FUT_TOKEN, 24700.0, open_interest=55000)  # price up, OI up
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        pcr = (await client.get(f"{SECURE}/marketData/v1/putCallRatio", headers=headers(jwt))).json()["data"]
        assert pcr == [{"pcr": 0.75, "tradingSymbol": "NIFTY30DEC26FUT"}]
        gainers = (
            await call(
                client,
                "/marketData/v1/gainersLosers",
                jwt,
                {"datatype": "PercOIGainers", "expirytype": "NEAR"},
            )
        ).json()["data"]
        assert gainers[0]["netChangeOpnInterest"] == 5000 and gainers[0]["percentChange"] == 10.0
        built = (
            await call(
                client, "/marketData/v1/OIBuildup", jwt, {"datatype": "Long Built Up", "expirytype": "NEAR"}
            )
        ).json()["data"]
        assert built[0]["tradingSymbol"] == "NIFTY30DEC26FUT"
        unwinding = (
            await call(
                client, "/marketData/v1/OIBuildup", jwt, {"datatype": "Long Unwinding", "expirytype": "NEAR"}
            )
        ).json()["data"]
        assert unwinding == []
        bad = (
            await call(client, "/marketData/v1/OIBuildup", jwt, {"datatype": "x", "expirytype": "NEAR"})
        ).json()
        assert bad["errorcode"] == "AB1007"


async def test_oi_data_requires_fno_and_market_support(sim: Simulator, sim_clock: SimClock) -> None:
    body = {
        "exchange": "NSE",
        "symboltoken": SBIN_TOKEN,
        "interval": "ONE_MINUTE",
        "fromdate": "2026-11-18 09:15",
        "todate": "2026-11-18 09:19",
    }
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        cash = (await call(client, "/historical/v1/getOIData", jwt, body)).json()
        assert cash["status"] is False and "F&O" in cash["message"]
        fno = (
            await call(
                client,
                "/historical/v1/getOIData",
                jwt,
                {**body, "exchange": "NFO", "symboltoken": NIFTY_CE_TOKEN},
            )
        ).json()
        assert fno["errorcode"] == "AB2000"  # StaticMarket has no OI history


async def test_intraday_lists_and_order_service_ltp_path(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        nse = (await client.get(f"{SECURE}/marketData/v1/nseIntraday", headers=headers(jwt))).json()["data"]
        assert nse == [{"exchange": "NSE", "SymbolName": "SBIN", "Multiplier": "5"}]
        bse = (await client.get(f"{SECURE}/marketData/v1/bseIntraday", headers=headers(jwt))).json()["data"]
        assert bse == []
        prefixed = await client.post(
            f"/order-service{SECURE}/order/v1/getLtpData",
            headers=headers(jwt),
            json={"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": SBIN_TOKEN},
        )
        assert prefixed.json()["data"]["ltp"] == 800.0


async def test_model_priced_quotes_are_labelled_synthetic(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        rows = (
            await call(
                client,
                "/market/v1/quote",
                jwt,
                {"mode": "LTP", "exchangeTokens": {"NFO": [NIFTY_CE_TOKEN], "NSE": [SBIN_TOKEN]}},
            )
        ).json()["data"]["fetched"]
        by_token = {row["symbolToken"]: row for row in rows}
        assert by_token[NIFTY_CE_TOKEN]["synthetic"] is True
        assert "synthetic" not in by_token[SBIN_TOKEN]
        ltp = await call(
            client, "/order/v1/getLtpData", jwt, {"exchange": "NFO", "symboltoken": NIFTY_CE_TOKEN}
        )
        assert ltp.json()["data"]["synthetic"] is True

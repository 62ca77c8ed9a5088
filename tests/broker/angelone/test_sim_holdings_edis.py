"""Client <-> simulator: typed holdings, getAllHolding totals, the EDIS flow and cautionary scrips."""

from __future__ import annotations

import httpx
import pytest

from optbot.broker.angelone.mapping import CautionaryScrip
from optbot.broker.errors import BrokerRejected
from optbot.config.sections.sim import CautionaryScrip as CautionaryEntry
from optbot.sim.auth import HoldingSeed
from optbot.test_kit.sim import SBIN_TOKEN, TEST_ACCOUNT

from .conftest import Live, pumping

SBIN_ISIN = "INE062A01020"


async def test_holdings_are_typed_and_totalled(live: Live) -> None:
    live.sim.exchange.seed_holding(
        TEST_ACCOUNT.client_code, HoldingSeed("NSE", "SBIN-EQ", 10, 700.0, SBIN_ISIN)
    )
    async with pumping(live.clock):
        await live.auth.login()
        (holding,) = await live.broker.holdings()
        assert (holding.symbol, holding.token, holding.isin, holding.exchange) == (
            "SBIN-EQ",
            SBIN_TOKEN,
            SBIN_ISIN,
            "NSE",
        )
        assert (holding.quantity, holding.realised_quantity, holding.t1_quantity) == (10, 10, 0)
        assert holding.average_price == 700.0 and holding.ltp == 800.0 and holding.profit_and_loss == 1000.0
        assert holding.product == "DELIVERY" and holding.collateral_quantity is None
        summary = await live.broker.all_holdings()
        assert summary.holdings == (holding,)
        assert (summary.total_holding_value, summary.total_investment_value) == (8000.0, 7000.0)
        assert summary.total_profit_and_loss == 1000.0 and summary.total_pnl_percentage == pytest.approx(
            14.29
        )


async def test_edis_verify_tpin_and_status(live: Live) -> None:
    live.sim.exchange.seed_holding(
        TEST_ACCOUNT.client_code, HoldingSeed("NSE", "SBIN-EQ", 10, 700.0, SBIN_ISIN)
    )
    async with pumping(live.clock):
        await live.auth.login()
        verification = await live.broker.verify_dis(SBIN_ISIN, 4)
        assert len(verification.request_id) == 16 and verification.dp_id == "33200"
        assert verification.bo_id.startswith("12033200") and len(verification.bo_id) == 16
        assert verification.transaction_details and verification.version == "1.0"
        await live.broker.generate_tpin(verification, TEST_ACCOUNT.pan)
        status = await live.broker.edis_status(verification.request_id)
        assert status.authorised is True and status.request_id == verification.request_id
        (holding,) = await live.broker.holdings()
        assert holding.authorised_quantity == 4
        with pytest.raises(BrokerRejected, match="exceeds the 6 shares") as too_many:
            await live.broker.verify_dis(SBIN_ISIN, 7)
        assert too_many.value.code == "AB1007"
        with pytest.raises(BrokerRejected) as unknown:
            await live.broker.verify_dis("INE081A01020", 1)
        assert unknown.value.code == "AB1015"
        with pytest.raises(BrokerRejected, match="pan does not match"):
            await live.broker.generate_tpin(verification, "ZZZZZ9999Z")
        with pytest.raises(BrokerRejected, match="no EDIS request"):
            await live.broker.edis_status("1234567890123456")
        with pytest.raises(ValueError, match="12-character ISIN"):
            await live.broker.verify_dis("SBIN", 1)
        with pytest.raises(ValueError, match="positive whole number"):
            await live.broker.verify_dis(SBIN_ISIN, 0)


async def test_edis_stays_pending_without_auto_authorisation(live: Live) -> None:
    live.sim.edis.auto_authorise = False
    live.sim.exchange.seed_holding(
        TEST_ACCOUNT.client_code, HoldingSeed("NSE", "SBIN-EQ", 2, 700.0, SBIN_ISIN)
    )
    async with pumping(live.clock):
        await live.auth.login()
        verification = await live.broker.verify_dis(SBIN_ISIN, 2)
        status = await live.broker.edis_status(verification.request_id)
        assert status.authorised is False and status.remarks == "Pending"
        assert (await live.broker.holdings())[0].authorised_quantity == 0


async def test_cautionary_scrips(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        assert await live.broker.cautionary_scrips() == []
        live.sim.settings.cautionary_scrips = [
            CautionaryEntry(token=SBIN_TOKEN, symbol="SBIN-EQ", message="Stock is under ASM stage 1")
        ]
        assert await live.broker.cautionary_scrips() == [
            CautionaryScrip(SBIN_TOKEN, "SBIN-EQ", "Stock is under ASM stage 1")
        ]


async def test_admin_api_seeds_holdings(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.sim.base_url) as client:
        good = {
            "client_code": TEST_ACCOUNT.client_code,
            "exchange": "NSE",
            "tradingsymbol": "SBIN-EQ",
            "quantity": 5,
            "average_price": 750.0,
        }
        created = await client.post("/sim/v1/holdings", json=good)
        assert created.status_code == 200 and created.json()["quantity"] == 5
        bad_symbol = await client.post("/sim/v1/holdings", json={**good, "tradingsymbol": "NOPE-EQ"})
        assert bad_symbol.status_code == 400 and "NOPE-EQ" in bad_symbol.json()["error"]
        bad_quantity = await client.post("/sim/v1/holdings", json={**good, "quantity": "5"})
        assert bad_quantity.status_code == 400 and "quantity" in bad_quantity.json()["error"]
        unknown = await client.post("/sim/v1/holdings", json={**good, "client_code": "X"})
        assert unknown.status_code == 404
        state = (await client.get("/sim/v1/state", params={"client_code": TEST_ACCOUNT.client_code})).json()
        assert state["accounts"][0]["holdings"][0]["quantity"] == 5

"""Round trips for the remaining endpoints: OI data, analytics, holdings, position conversion, GTT, greeks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from optbot.broker.angelone.mapping import GttRule, InvalidOrderRequest
from optbot.broker.errors import BrokerRejected
from optbot.core.enums import Exchange, ProductType, Side
from optbot.test_kit.sim import NIFTY_CE_TOKEN, SBIN_TOKEN

from .conftest import Live, pumping
from .test_sim_rest import option_order


async def test_analytics_endpoints(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        ratios = await live.broker.put_call_ratio()
        assert all(r.symbol for r in ratios)
        for data_type in ("PercOIGainers", "PercPriceLosers"):
            movers = await live.broker.gainers_losers(data_type, "NEAR")
            assert all(m.symbol for m in movers)
        buildup = await live.broker.oi_buildup("Long Built Up", "NEAR")
        assert all(m.symbol for m in buildup)
        with pytest.raises(ValueError, match="datatype"):
            await live.broker.gainers_losers("Everything")
        greeks = await live.broker.option_greeks("NIFTY", "30dec2026")
        assert {g.option_type for g in greeks} == {"CE", "PE"}
        assert all(g.strike > 0 and 0 <= abs(g.delta) <= 1 for g in greeks), greeks


async def test_oi_data_round_trip(live: Live) -> None:
    end = live.clock.now_utc()
    async with pumping(live.clock):
        await live.auth.login()
        try:
            points = await live.broker.oi_data(
                Exchange.NFO, NIFTY_CE_TOKEN, "ONE_MINUTE", end - timedelta(minutes=30), end
            )
        except BrokerRejected as exc:  # the static test market keeps no OI history
            assert exc.code == "AB2000"
        else:
            assert all(p.open_interest >= 0 for p in points)
        with pytest.raises(BrokerRejected, match="AB1007"):
            await live.broker.oi_data(Exchange.NSE, SBIN_TOKEN, "ONE_MINUTE", end - timedelta(minutes=5), end)


async def test_holdings_and_position_conversion(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        assert await live.broker.holdings() == []
        placed = await live.broker.place_order(option_order(live, price=151.0, ordertag="rt-conv"))
        for _ in range(50):
            order = await live.broker.order_details(placed.unique_order_id)
            if order is not None and order.status == "complete":
                break
        (position,) = [p for p in await live.broker.positions() if p.token == NIFTY_CE_TOKEN]
        with pytest.raises(InvalidOrderRequest, match="already"):
            await live.broker.convert_position(position, position.product, 75)
        with pytest.raises(InvalidOrderRequest, match="quantity"):
            await live.broker.convert_position(position, ProductType.INTRADAY, 76)
        await live.broker.convert_position(position, ProductType.INTRADAY, 75)
        products = {p.product for p in await live.broker.positions() if p.token == NIFTY_CE_TOKEN}
        assert ProductType.INTRADAY in products


async def test_gtt_rules_round_trip(live: Live) -> None:
    rule = GttRule(Exchange.NSE, SBIN_TOKEN, "SBIN-EQ", Side.BUY, ProductType.DELIVERY, 780.0, 10, 781.0)
    async with pumping(live.clock):
        await live.auth.login()
        rule_id = await live.broker.gtt_create(rule)
        assert rule_id
        details = await live.broker.gtt_details(rule_id)
        assert str(details.get("symboltoken")) == SBIN_TOKEN
        changed = GttRule(
            Exchange.NSE, SBIN_TOKEN, "SBIN-EQ", Side.BUY, ProductType.DELIVERY, 779.0, 10, 780.0
        )
        assert await live.broker.gtt_modify(rule_id, changed) == rule_id
        listed = await live.broker.gtt_list(["NEW", "ACTIVE"])
        assert any(str(r.get("id")) == rule_id for r in listed)
        assert await live.broker.gtt_cancel(rule_id, Exchange.NSE, SBIN_TOKEN) == rule_id
        with pytest.raises(InvalidOrderRequest, match="NSE/BSE"):
            await live.broker.gtt_create(
                GttRule(Exchange.NFO, "1", "X", Side.BUY, ProductType.MARGIN, 1, 1, 1)
            )
        with pytest.raises(ValueError, match="statuses"):
            await live.broker.gtt_list(["OPEN"])

"""Client <-> simulator round trips for every REST endpoint and error dialect."""

from __future__ import annotations

from datetime import timedelta

import pytest

from optbot.broker.angelone.ratelimit import Priority
from optbot.broker.errors import AuthenticationFailed, BrokerRejected, TokenExpired
from optbot.broker.models import ModifyRequest, OrderRequest
from optbot.core.enums import Exchange, OrderType, ProductType, Side
from optbot.test_kit.sim import NIFTY_CE_TOKEN, NIFTY_TOKEN, SBIN_TOKEN, SECOND_ACCOUNT, TEST_ACCOUNT

from .conftest import Live, pumping


def option_order(live: Live, **changes: object) -> OrderRequest:
    fields: dict[str, object] = dict(
        exchange=Exchange.NFO,
        token=NIFTY_CE_TOKEN,
        symbol=live.market.symbol("NFO", NIFTY_CE_TOKEN),
        side=Side.BUY,
        quantity=75,
        order_type=OrderType.LIMIT,
        product=ProductType.CARRYFORWARD,
        ordertag="rt-1",
        price=140.0,
    )
    fields.update(changes)
    return OrderRequest(**fields)  # type: ignore[arg-type]


async def test_login_profile_refresh_logout(live: Live) -> None:
    async with pumping(live.clock):
        tokens = await live.auth.ensure_session_until()
        assert tokens.client_code == TEST_ACCOUNT.client_code
        assert tokens.expires_at > live.auth.close_time()  # type: ignore[operator]
        profile = await live.broker.profile()
        assert profile.client_code == TEST_ACCOUNT.client_code
        refreshed = await live.auth.refresh()
        assert refreshed.jwt_token and (await live.broker.profile()).client_code == TEST_ACCOUNT.client_code
        # Stored in the keyring and restorable.
        assert live.secrets.load_tokens() is not None
        await live.auth.logout()
        with pytest.raises(TokenExpired):
            await live.broker.profile()
        assert live.secrets.load_tokens() is None


async def test_wrong_pin_and_wrong_totp_are_clear_and_secret_free(live: Live) -> None:
    async with pumping(live.clock):
        live.secrets.set("pin", "0000")
        with pytest.raises(AuthenticationFailed) as info:
            await live.auth.login()
        assert info.value.code.startswith("AB") and "0000" not in str(info.value)
        live.secrets.set("pin", TEST_ACCOUNT.pin)
        live.secrets.set("totp_secret", SECOND_ACCOUNT.totp_secret)
        with pytest.raises(AuthenticationFailed) as info:
            await live.auth.login()
        assert info.value.code == "AB1050"


async def test_invalid_token_is_gateway_dialect_token_expired(live: Live) -> None:
    async with pumping(live.clock):
        live.rest.set_access_token("eyJnot.a.token")
        with pytest.raises(TokenExpired, match="AG80"):
            await live.broker.order_book()


async def test_orders_round_trip(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        placed = await live.broker.place_order(option_order(live))
        assert placed.order_id and placed.unique_order_id
        book = await live.broker.order_book()
        (order,) = [o for o in book if o.order_id == placed.order_id]
        assert order.ordertag == "rt-1" and order.quantity == 75 and order.side is Side.BUY
        details = await live.broker.order_details(placed.unique_order_id)
        assert details is not None and details.order_id == placed.order_id
        modified = await live.broker.modify_order(
            ModifyRequest(
                placed.order_id,
                Exchange.NFO,
                NIFTY_CE_TOKEN,
                order.symbol,
                150,
                OrderType.LIMIT,
                ProductType.CARRYFORWARD,
                141.0,
            )
        )
        assert modified.order_id == placed.order_id
        await live.broker.cancel_order(placed.order_id)
        after = await live.broker.order_details(placed.unique_order_id)
        assert after is not None and after.status == "cancelled" and after.quantity == 150


async def test_marketable_order_fills_into_trades_positions_funds(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        before = await live.broker.funds()
        placed = await live.broker.place_order(
            option_order(live, price=151.0, ordertag="rt-fill"), Priority.EXIT
        )
        for _ in range(50):
            order = await live.broker.order_details(placed.unique_order_id)
            if order is not None and order.status == "complete":
                break
        assert order is not None and order.status == "complete" and order.average_price > 0
        trades = await live.broker.trade_book()
        assert sum(t.quantity for t in trades if t.order_id == placed.order_id) == 75
        positions = await live.broker.positions()
        assert any(p.token == NIFTY_CE_TOKEN and p.net_quantity == 75 for p in positions)
        after = await live.broker.funds()
        assert after.net < before.net and after.utilised_margin > 0


async def test_rms_rejection_is_visible_as_rejected_status(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        try:
            placed = await live.broker.place_order(option_order(live, quantity=70, ordertag="rt-lot"))
        except BrokerRejected as exc:  # a simulator may refuse synchronously
            assert exc.code.startswith("AB")
            return
        order = await live.broker.order_details(placed.unique_order_id)
        assert order is not None and order.status == "rejected" and order.text


async def test_market_data_endpoints(live: Live) -> None:
    start = live.clock.now_utc().replace(second=0, microsecond=0) - timedelta(minutes=30)
    live.market.add_minute_candles("NSE", NIFTY_TOKEN, start, 10, 24500.0)
    async with pumping(live.clock):
        await live.auth.login()
        for mode in ("LTP", "OHLC", "FULL"):
            quotes = await live.broker.quotes(
                mode, {Exchange.NSE: [SBIN_TOKEN], Exchange.NFO: [NIFTY_CE_TOKEN]}
            )  # type: ignore[arg-type]
            assert {q.token for q in quotes} == {SBIN_TOKEN, NIFTY_CE_TOKEN}
        full = {q.token: q for q in quotes}
        assert full[SBIN_TOKEN].ltp == pytest.approx(800.0)
        assert full[SBIN_TOKEN].best_bid is not None and full[SBIN_TOKEN].best_ask is not None
        assert await live.broker.ltp(Exchange.NSE, "SBIN-EQ", SBIN_TOKEN) == pytest.approx(800.0)
        candles = await live.broker.candles(
            Exchange.NSE, NIFTY_TOKEN, "ONE_MINUTE", start, start + timedelta(minutes=9)
        )
        assert len(candles) == 10 and candles[0].open == pytest.approx(24500.0)
        with pytest.raises(BrokerRejected):
            await live.rest.call(
                "candles",
                {
                    "exchange": "NSE",
                    "symboltoken": NIFTY_TOKEN,
                    "interval": "BOGUS",
                    "fromdate": "2026-11-18 09:15",
                    "todate": "2026-11-18 09:20",
                },
            )
        matches = await live.broker.search_scrip(Exchange.NSE, "SBIN")
        assert any(m.token == SBIN_TOKEN for m in matches)
        margin = await live.broker.margin_required([option_order(live)])
        assert margin.total > 0
        charges = await live.broker.estimate_charges([option_order(live)])
        assert charges.total > 0 and charges.components

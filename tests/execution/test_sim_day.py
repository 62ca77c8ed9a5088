"""A trading session against the SmartAPI simulator on loopback: orders through the real client,
fills arriving on the order-update socket, and an end-of-day reconciliation that comes out clean,
with the bot's charges equal to the simulator's estimateCharges to the paisa."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

import pytest

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.order_socket import OrderUpdateSocket
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.broker.models import OrderRequest
from optbot.config.sections.broker import BrokerSettings
from optbot.config.settings import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import IntentPurpose, OrderType, ProductType, Side
from optbot.execution.order_manager import OrderManager
from optbot.execution.reconciliation import Reconciler
from optbot.persistence.store import Store
from optbot.portfolio.trades import closed_trades
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.execution import option_instrument, option_intent
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT, StaticMarket, market_hours_start


async def _pump(clock: SimClock) -> None:
    while True:
        await asyncio.sleep(0.005)
        clock.advance(0.02)


async def _until(predicate) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(10.0):
        while not predicate():  # noqa: ASYNC110 - polling state another task changes
            await asyncio.sleep(0.01)


async def test_session_against_simulator_reconciles_to_the_paisa(tmp_path: Path) -> None:
    clock = SimClock(market_hours_start())
    market = StaticMarket(clock)
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    pump = asyncio.create_task(_pump(clock))
    settings = BrokerSettings(
        client_code=TEST_ACCOUNT.client_code,
        rest_base_url=sim.base_url,
        order_ws_url=sim.order_ws_url,
        http_timeout_seconds=2.0,
    )
    secrets = SecretStore(MemoryKeyring(), "optbot-day", environ={})
    secrets.set("api_key", TEST_ACCOUNT.api_key)
    secrets.set("pin", TEST_ACCOUNT.pin)
    secrets.set("totp_secret", TEST_ACCOUNT.totp_secret)
    rest = AngelOneRestClient(settings, clock, TEST_ACCOUNT.api_key, rng=random.Random(4))
    broker = AngelOneBroker(rest, clock, settings)
    auth = AuthService(settings, secrets, clock, rest)
    store = Store.open(tmp_path / "optbot.sqlite", clock)
    socket: OrderUpdateSocket | None = None
    try:
        tokens = await auth.ensure_session_until()
        symbol = market.symbol("NFO", NIFTY_CE_TOKEN)
        instrument = option_instrument(token=NIFTY_CE_TOKEN, symbol=symbol)
        manager = OrderManager(
            broker,
            store,
            clock,
            Settings(),
            lambda exchange, token: instrument if token == NIFTY_CE_TOKEN else None,
        )
        socket = OrderUpdateSocket(
            settings,
            clock,
            lambda: FeedCredentials(
                tokens.client_code, TEST_ACCOUNT.api_key, tokens.jwt_token, tokens.feed_token
            ),
            on_update=manager.on_order_update,
            url=sim.order_ws_url,
        )
        await socket.start()
        await _until(lambda: socket is not None and socket.greetings >= 1)
        reconciler = Reconciler(broker, store, clock, Settings(), order_manager=manager)
        assert (await reconciler.run("startup")).clean

        plan = [(Side.BUY, 150, 150.0), (Side.SELL, 75, 152.0), (Side.SELL, 75, 149.0), (Side.BUY, 75, 151.0)]
        plan += [(Side.SELL, 75, 151.0)]
        for index, (side, quantity, ltp) in enumerate(plan):
            market.set_quote("NFO", NIFTY_CE_TOKEN, ltp, spread=0.10, quantity=750)
            intent = option_intent(
                f"day-{index}",
                side=side,
                quantity=quantity,
                limit_price=None,
                order_type=OrderType.LIMIT,
                purpose=IntentPurpose.ENTRY if side is Side.BUY else IntentPurpose.EXIT,
                instrument=instrument,
                strategy=f"leg{index}",  # distinct legs: identical content within 60 s would be a duplicate
                when=clock.now_utc(),
            )
            result = await manager.submit(intent)
            assert result.accepted, result.reasons
            tag = result.ordertags[0]

            def settled(tag: str = tag) -> bool:
                order = store.get_order(tag)
                return order is not None and order.status.is_terminal

            await _until(settled)  # driven by the order-update socket alone
            await manager.poll_once()
            order = store.get_order(tag)
            assert order is not None and order.filled_quantity == quantity, order
        socket_events = [
            event
            for order in store.all_orders()
            for event in store.order_events(order.ordertag)
            if event.source == "socket" and event.accepted
        ]
        assert socket_events, "fills should be seen on the order-update socket"
        report = await reconciler.run("eod")
        assert report.clean, report.discrepancies
        funds = await broker.funds()
        local_realised = sum(trade.gross_pnl for trade in closed_trades(store.fills()))
        assert funds.realised_m2m != 0 and funds.realised_m2m == pytest.approx(local_realised, abs=0.005)
        assert [p.net_quantity for p in store.positions()] == [0]  # +150 -75 -75 +75 -75

        # charges: the bot's per-fill charges equal the broker calculator's estimate per executed order
        estimated = 0.0
        for order in store.all_orders():
            request = OrderRequest(
                order.exchange,
                order.token,
                order.symbol,
                order.side,
                order.filled_quantity,
                OrderType.LIMIT,
                ProductType.INTRADAY,
                "chk",
                price=order.average_price,
            )
            estimated += (await broker.estimate_charges([request])).total
        local = sum(fill.charges for fill in store.fills())
        assert local == pytest.approx(estimated, abs=0.005 * len(store.all_orders()) + 1e-9)
        assert store.verify_chain().ok
    finally:
        if socket is not None:
            await socket.stop()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        store.close()
        await rest.aclose()
        await sim.stop()

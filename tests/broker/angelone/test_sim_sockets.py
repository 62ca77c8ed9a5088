"""MarketFeed and OrderUpdateSocket against the simulator's sockets, with drops and a silent stall."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import MODE_LTP, MODE_QUOTE, MODE_SNAP_QUOTE
from optbot.broker.angelone.order_socket import OrderUpdateSocket
from optbot.core.enums import Exchange, OrderStatus
from optbot.core.events import FeedHealth, OrderUpdate, Tick
from optbot.test_kit.sim import NIFTY_CE_TOKEN, SBIN_TOKEN

from .conftest import Live, pumping
from .test_sim_rest import option_order


async def wait_for(condition: Callable[[], bool], limit_seconds: float = 10.0) -> None:
    """Poll a condition (real time) until it holds; the sockets run on real I/O."""
    async with asyncio.timeout(limit_seconds):
        for _ in iter(int, 1):
            if condition():
                return
            await asyncio.sleep(0.01)


def fast_settings(live: Live, **changes: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "feed_stale_seconds": 3.0,
        "feed_resubscribe_wait_seconds": 1.0,
        "heartbeat_interval_seconds": 1.0,
        "reconnect_initial_delay_seconds": 0.2,
        "reconnect_max_delay_seconds": 1.0,
        "rest_fallback_interval_seconds": 0.5,
    }
    values.update(changes)
    return live.settings.model_copy(update=values)


async def test_feed_ticks_resubscribe_after_drop_and_heartbeat(live: Live) -> None:
    ticks: list[Tick] = []
    health: list[FeedHealth] = []
    async with pumping(live.clock):
        await live.auth.login()
        feed = MarketFeed(
            fast_settings(live), live.clock, live.credentials, on_tick=ticks.append, on_health=health.append
        )
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)], MODE_SNAP_QUOTE)
        await feed.subscribe([(Exchange.NFO, NIFTY_CE_TOKEN), (Exchange.NFO, NIFTY_CE_TOKEN)], MODE_QUOTE)
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)], MODE_SNAP_QUOTE)  # duplicate: ignored
        assert len(feed.manager) == 2
        await feed.start()
        try:
            await wait_for(lambda: {t.token for t in ticks} >= {SBIN_TOKEN, NIFTY_CE_TOKEN})
            snap = next(t for t in ticks if t.token == SBIN_TOKEN)
            assert snap.ltp == 800.0 and snap.bid is not None and snap.ask is not None and snap.source == "ws"
            live.market.set_quote("NSE", SBIN_TOKEN, 801.5)
            await wait_for(lambda: any(t.ltp == 801.5 for t in ticks))
            await wait_for(lambda: feed.stats.pongs >= 1)  # text ping answered

            dropped = await live.sim.faults.drop_ws_connections()
            assert dropped >= 1
            await wait_for(lambda: feed.stats.reconnects >= 1 and feed.connected)
            seen = len(ticks)
            await wait_for(lambda: len(ticks) > seen)  # resubscribed: snapshot frames again
            live.market.set_quote("NFO", NIFTY_CE_TOKEN, 155.0)
            await wait_for(lambda: any(t.token == NIFTY_CE_TOKEN and t.ltp == 155.0 for t in ticks))
            assert any("disconnected" in h.detail for h in health)
            assert sum(feed.decoder.skipped.values()) == 0
        finally:
            await feed.stop()


async def test_silent_stall_resubscribes_with_rest_fallback_then_reconnects(live: Live) -> None:
    ticks: list[Tick] = []
    async with pumping(live.clock):
        await live.auth.login()
        feed = MarketFeed(
            fast_settings(live),
            live.clock,
            live.credentials,
            on_tick=ticks.append,
            quote_fallback=lambda tokens: live.broker.quotes("FULL", tokens),
        )
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)], MODE_LTP)
        await feed.start()
        try:
            await wait_for(lambda: any(t.source == "ws" for t in ticks))
            live.sim.faults.stall_feed(True)
            live.market.set_quote("NSE", SBIN_TOKEN, 805.0)  # not delivered over the socket
            await wait_for(lambda: any(t.source == "rest_fallback" and t.ltp == 805.0 for t in ticks), 20)
            assert feed.stats.stalls == 1 and feed.stats.resubscribes >= 1 and feed.stalled
            await wait_for(lambda: feed.stats.stale_reconnects >= 1, 20)  # resubscribing did not help
            assert feed.stats.stalls == 1 and not feed.receiving
            live.sim.faults.stall_feed(False)
            live.market.set_quote("NSE", SBIN_TOKEN, 806.0)
            await wait_for(lambda: any(t.source == "ws" and t.ltp >= 805.0 for t in ticks), 20)
            await wait_for(lambda: feed.receiving and not feed.stalled)
            await wait_for(lambda: feed._fallback_task is None or feed._fallback_task.done(), 20)
        finally:
            await feed.stop()


async def test_bad_credentials_are_counted_and_retried(live: Live) -> None:
    from optbot.broker.angelone.wsbase import FeedCredentials

    errors: list[str] = []
    async with pumping(live.clock):
        feed = MarketFeed(
            fast_settings(live),
            live.clock,
            lambda: FeedCredentials("T1000001", "testapikey", "bad", "bad"),
            on_auth_error=errors.append,
        )
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)])
        await feed.start()
        try:
            await wait_for(lambda: len(errors) >= 2)
            assert "Invalid" in errors[0] and "bad" not in errors[0]
            assert feed.stats.auth_failures >= 2
        finally:
            await feed.stop()


async def test_order_socket_maps_updates_and_reconnects(live: Live) -> None:
    updates: list[OrderUpdate] = []
    reconnects: list[int] = []
    async with pumping(live.clock):
        await live.auth.login()
        socket = OrderUpdateSocket(
            fast_settings(live),
            live.clock,
            live.credentials,
            on_update=updates.append,
            on_reconnect=lambda: reconnects.append(1),
        )
        await socket.start()
        try:
            await wait_for(lambda: socket.greetings >= 1)
            placed = await live.broker.place_order(option_order(live, price=151.0, ordertag="ws-fill"))
            await wait_for(
                lambda: any(u.order_id == placed.order_id and u.status is OrderStatus.FILLED for u in updates)
            )
            filled = next(u for u in updates if u.status is OrderStatus.FILLED)
            assert filled.ordertag == "ws-fill" and filled.filled_quantity == 75 and filled.average_price > 0
            assert filled.broker_status == "complete"

            # The simulator's drop fault only covers market sockets (reported), so cut the TCP
            # connection abruptly, as a network loss would.
            assert socket._socket is not None
            socket._socket.transport.abort()
            await wait_for(lambda: socket.connects >= 2 and socket.greetings >= 2)
            assert reconnects == [1]
            resting = await live.broker.place_order(option_order(live, price=140.0, ordertag="ws-open"))
            await live.broker.cancel_order(resting.order_id)
            await wait_for(
                lambda: any(
                    u.order_id == resting.order_id and u.status is OrderStatus.CANCELLED for u in updates
                )
            )
            assert socket.errors.total() == 0 or set(socket.errors) <= {
                "ConnectionClosedError",
                "ConnectionClosedOK",
            }
        finally:
            await socket.stop()


async def test_feed_started_before_login_connects_once_a_session_exists(live: Live) -> None:
    from optbot.broker.errors import TokenExpired

    def credentials():  # type: ignore[no-untyped-def]
        if live.auth.tokens is None:
            raise TokenExpired("no session yet")
        return live.credentials()

    ticks: list[Tick] = []
    async with pumping(live.clock):
        feed = MarketFeed(fast_settings(live), live.clock, credentials, on_tick=ticks.append)
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)], MODE_LTP)
        await feed.start()
        try:
            await wait_for(lambda: feed.stats.errors["TokenExpired"] >= 2)
            await live.auth.login()
            await wait_for(lambda: bool(ticks))
            assert ticks[0].token == SBIN_TOKEN
        finally:
            await feed.stop()


async def test_a_failing_market_hours_callback_does_not_kill_the_watchdog(live: Live) -> None:
    """Issue 18: a market-hours callback that raised killed the watchdog and the reconnect loop."""
    calls: list[object] = []

    def broken_market_hours(now: object) -> bool:
        calls.append(now)
        raise TypeError("broken callback")

    ticks: list[Tick] = []
    async with pumping(live.clock):
        await live.auth.login()
        feed = MarketFeed(
            fast_settings(live),
            live.clock,
            live.credentials,
            on_tick=ticks.append,
            market_hours=broken_market_hours,
        )
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)], MODE_LTP)
        await feed.start()
        try:
            await wait_for(lambda: any(t.source == "ws" for t in ticks))
            live.sim.faults.stall_feed(True)  # silence: the watchdog asks the callback, which raises
            await wait_for(lambda: feed.stats.stale_reconnects >= 1, 20)  # resubscribed, then reconnected
            assert feed.stats.errors["market_hours"] >= 1 and feed.stats.resubscribes >= 1
            live.sim.faults.stall_feed(False)
            seen = len(ticks)
            live.market.set_quote("NSE", SBIN_TOKEN, 812.0)
            await wait_for(lambda: len(ticks) > seen and feed.connected, 20)  # still reconnecting and ticking
        finally:
            await feed.stop()


async def test_socket_up_follows_the_connection_through_a_drop(live: Live) -> None:
    """`socket_up` / `wait_connected`: set once a socket connected and subscribed, cleared when none is
    open, set again by the reconnect; cleared by stop."""
    async with pumping(live.clock):
        await live.auth.login()
        feed = MarketFeed(fast_settings(live), live.clock, live.credentials)
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)], MODE_LTP)
        assert not feed.socket_up.is_set() and feed.connected_sockets == 0
        await feed.start()
        try:
            assert await feed.wait_connected(10.0)
            assert feed.connected_sockets == 1
            assert await live.sim.faults.drop_ws_connections() >= 1
            await wait_for(lambda: not feed.socket_up.is_set() or feed.stats.reconnects >= 1)
            assert await feed.wait_connected(10.0) and feed.connected_sockets == 1
        finally:
            await feed.stop()
        assert not feed.socket_up.is_set() and feed.connected_sockets == 0

"""Fault injection (in-process and via /sim/v1) and the admin API."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from optbot.core.clock import SimClock
from optbot.sim.faults import FaultInjector
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT, StaticMarket
from tests.sim.helpers import SECURE, client_for, headers, login, option_order

PLACE = f"{SECURE}/order/v1/placeOrder"
RMS = f"{SECURE}/user/v1/getRMS"


async def test_forbid_storm_by_count_and_duration(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        sim.faults.forbid_storm(count=2)
        replies = []
        for _ in range(3):
            sim_clock.advance(1.0)
            replies.append(await client.get(RMS, headers=headers(jwt)))
        assert [r.status_code for r in replies] == [403, 403, 200]
        assert replies[0].text == "Access denied because of exceeding access rate"
        sim.faults.forbid_storm(duration_seconds=5, endpoints=["getRMS"])
        sim_clock.advance(1.0)
        assert (await client.get(RMS, headers=headers(jwt))).status_code == 403
        sim_clock.advance(5.0)
        assert (await client.get(RMS, headers=headers(jwt))).status_code == 200


async def test_server_errors_and_slow_replies(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        sim.faults.server_errors(count=1, status=502)
        sim_clock.advance(1.0)
        failed = await client.get(RMS, headers=headers(jwt))
        assert failed.status_code == 502 and failed.text == "Bad Gateway"
        sim.faults.slow_replies(0.5, count=1)
        sim_clock.advance(1.0)
        with pytest.raises(httpx.ReadTimeout):
            await client.get(RMS, headers=headers(jwt), timeout=0.1)
        sim_clock.advance(1.0)
        assert (await client.get(RMS, headers=headers(jwt))).status_code == 200


async def test_lost_order_reply_still_places_the_order(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        sim.faults.lose_order_replies(1)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(PLACE, headers=headers(jwt), json=option_order(sim_market, ordertag="lost1"))
        orders = sim.exchange.orders(TEST_ACCOUNT.client_code)
        assert [order.order_tag for order in orders] == ["lost1"]
        sim_clock.advance(1.0)
        book = (await client.get(f"{SECURE}/order/v1/getOrderBook", headers=headers(jwt))).json()["data"]
        assert book[0]["ordertag"] == "lost1"
        sim_clock.advance(1.0)
        again = await client.post(PLACE, headers=headers(jwt), json=option_order(sim_market, ordertag="next"))
        assert again.json()["status"] is True


async def test_lost_reply_hang_mode_times_out(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        sim.faults.lose_order_replies(1, mode="hang")
        with pytest.raises(httpx.ReadTimeout):
            await client.post(PLACE, headers=headers(jwt), json=option_order(sim_market), timeout=0.2)
        assert len(sim.exchange.orders(TEST_ACCOUNT.client_code)) == 1


async def test_admin_api_clock_state_and_faults(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        clock = (await client.get("/sim/v1/clock")).json()
        assert clock["utc"] == "2026-11-18T04:30:00.000Z" and clock["market_open"]["NFO"] is True
        jwt = (await login(client, sim_clock))["jwtToken"]
        await client.post(PLACE, headers=headers(jwt), json=option_order(sim_market, price="151"))
        state = (await client.get("/sim/v1/state", params={"client_code": TEST_ACCOUNT.client_code})).json()
        account = state["accounts"][0]
        assert account["orders"][0]["history"] == ["open pending", "open", "complete"]
        assert account["positions"][0]["netqty"] == "75" and account["funds"]["net"] == "488746.25"
        assert (await client.get("/sim/v1/state", params={"client_code": "nobody"})).status_code == 404
        storm = await client.post("/sim/v1/faults/forbid_storm", json={"count": 1, "endpoints": ["getRMS"]})
        assert storm.json()["forbid_storm"]["remaining"] == 1
        sim_clock.advance(1.0)
        assert (await client.get(RMS, headers=headers(jwt))).status_code == 403
        stall = await client.post("/sim/v1/faults/feed_stall", json={"stalled": True})
        assert stall.json()["feed_stalled"] is True and sim.faults.feed_stalled
        bad = await client.post("/sim/v1/faults/slow_replies", json={"count": 1})
        assert bad.status_code == 400 and "seconds" in bad.json()["error"]
        unknown = await client.post("/sim/v1/faults/meteor", json={})
        assert unknown.status_code == 404
        dropped = await client.post("/sim/v1/faults/drop_ws", json={})
        assert dropped.json()["dropped"] >= 1  # the market-feed and order-socket hubs registered closers
        cleared = await client.delete("/sim/v1/faults")
        assert cleared.json()["feed_stalled"] is False and cleared.json()["forbid_storm"] is None


async def test_fault_injector_validates_and_drops_registered_sockets(sim_clock: SimClock) -> None:
    faults = FaultInjector(sim_clock)
    with pytest.raises(ValueError, match="count or a duration"):
        faults.forbid_storm()
    with pytest.raises(ValueError, match="5xx"):
        faults.server_errors(count=1, status=404)
    with pytest.raises(ValueError, match="order endpoints"):
        faults.lose_order_replies(1, endpoints=["getRMS"])
    closed: list[int] = []

    async def closer() -> None:
        closed.append(1)

    async def broken() -> None:
        raise ConnectionError("already gone")

    faults.register_ws_closer(closer)
    faults.register_ws_closer(broken)
    assert await faults.drop_ws_connections() == 1
    assert await faults.drop_ws_connections() == 1  # hubs stay registered for the next drop
    assert closed == [1, 1]
    await asyncio.sleep(0)


async def test_housekeeping_cancels_day_orders_at_close_without_any_request(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    from datetime import datetime

    from optbot.core.timeutil import IST
    from optbot.sim.exchange import OrderStatus

    events: list[str] = []
    sim.exchange.add_listener(lambda event: events.append(event.status_code))
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        await client.post(PLACE, headers=headers(jwt), json=option_order(sim_market, price="140"))
    await sim_clock.run_until(datetime(2026, 11, 18, 15, 31, tzinfo=IST))
    (order,) = sim.exchange.orders(TEST_ACCOUNT.client_code)
    assert order.status is OrderStatus.CANCELLED
    assert events[-1] == "AB02"


async def test_port_in_use_fails_cleanly_and_restart_works(sim: Simulator, sim_clock: SimClock) -> None:
    clash = Simulator(sim.market, sim_clock, [TEST_ACCOUNT], port=sim.port)
    with pytest.raises(OSError):
        await clash.start()
    await clash.stop()  # nothing was started: a no-op
    await sim.stop()
    await sim.start()  # same object, new port, still serving
    async with client_for(sim) as client:
        assert (await client.get("/sim/v1/clock")).status_code == 200


async def test_rms_reject_fault_places_then_rejects_the_next_order(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        sim_clock.advance(1.0)
        admin = await client.post("/sim/v1/faults/rms_rejects", json={"count": 1})
        assert admin.json()["rms_rejects"]["remaining"] == 1
        refused = await client.post(
            PLACE, headers=headers(jwt), json=option_order(sim_market, ordertag="rej1")
        )
        assert (
            refused.json()["status"] is True and refused.json()["data"]["orderid"]
        )  # placed, then RMS says no
        sim_clock.advance(1.0)
        fine = await client.post(PLACE, headers=headers(jwt), json=option_order(sim_market, ordertag="ok1"))
        assert fine.json()["status"] is True
        by_tag = {order.order_tag: order for order in sim.exchange.orders(TEST_ACCOUNT.client_code)}
        assert by_tag["rej1"].status.value == "rejected" and "injected fault" in by_tag["rej1"].text
        assert by_tag["ok1"].status.value != "rejected"
        assert sim.faults.describe()["injected"]["rms_reject"] == 1


async def test_rms_reject_fault_armed_for_sells_lets_buys_through_and_refuses_the_next_sell(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        sim_clock.advance(1.0)
        admin = await client.post("/sim/v1/faults/rms_rejects", json={"count": 1, "side": "sell"})
        assert admin.json()["rms_rejects"]["side"] == "SELL"
        for tag, side in (("hedge1", "BUY"), ("write1", "SELL"), ("write2", "SELL")):
            sim_clock.advance(1.0)
            order = option_order(sim_market, ordertag=tag, transactiontype=side)
            assert (await client.post(PLACE, headers=headers(jwt), json=order)).json()["status"] is True
        by_tag = {order.order_tag: order for order in sim.exchange.orders(TEST_ACCOUNT.client_code)}
        assert by_tag["write1"].status.value == "rejected" and "injected fault" in by_tag["write1"].text
        assert by_tag["hedge1"].status.value != "rejected" and by_tag["write2"].status.value != "rejected"
        assert (await client.post("/sim/v1/faults/rms_rejects", json={"side": "SHORT"})).status_code == 400

"""Every simulator fault against the client: 403 storms, 5xx, slow replies, lost order replies."""

from __future__ import annotations

import random

import pytest

from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.errors import RateLimited, TransientError, UnresolvedOrder
from optbot.test_kit.sim import TEST_ACCOUNT

from .conftest import Live, pumping
from .test_sim_rest import option_order


async def test_forbid_storm_on_reads_is_ridden_out_with_backoff(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        live.sim.faults.forbid_storm(count=2, endpoints=["getOrderBook"])
        assert await live.broker.order_book() == []
        assert live.rest.counters["order_book:retry"] == 2
        assert live.sim.faults.injected["forbid"] == 2


async def test_forbid_storm_longer_than_retries_raises_rate_limited(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        live.sim.faults.forbid_storm(count=10, endpoints=["getPosition"])
        with pytest.raises(RateLimited):
            await live.broker.positions()
        assert live.rest.counters["position:sent"] == 1 + live.settings.read_retry_attempts


async def test_forbidden_order_is_not_placed_and_not_retried(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        live.sim.faults.forbid_storm(count=1, endpoints=["placeOrder"])
        with pytest.raises(RateLimited):
            await live.broker.place_order(option_order(live, ordertag="rt-403"))
        assert live.rest.counters["place_order:sent"] == 1
        assert not [o for o in await live.broker.order_book() if o.ordertag == "rt-403"]


async def test_server_errors_on_reads_are_retried(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        live.sim.faults.server_errors(count=2, status=502, endpoints=["getRMS"])
        funds = await live.broker.funds()
        assert funds.net > 0 and live.rest.counters["rms:retry"] == 2


async def test_server_error_on_place_is_unresolved_never_resent(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        live.sim.faults.server_errors(count=1, status=503, endpoints=["placeOrder"])
        with pytest.raises(UnresolvedOrder) as info:
            await live.broker.place_order(option_order(live, ordertag="rt-5xx"))
        assert info.value.ordertag == "rt-5xx"
        assert live.rest.counters["place_order:sent"] == 1


@pytest.mark.parametrize("mode", ["drop", "hang"])
async def test_lost_order_reply_is_unresolved_and_the_order_exists_exactly_once(
    live: Live, mode: str
) -> None:
    settings = live.settings.model_copy(update={"http_timeout_seconds": 0.5})
    rest = AngelOneRestClient(settings, live.clock, TEST_ACCOUNT.api_key, rng=random.Random(1))
    broker = AngelOneBroker(rest, live.clock, settings)
    try:
        async with pumping(live.clock):
            tokens = await live.auth.login()
            rest.set_access_token(tokens.jwt_token)
            live.sim.faults.lose_order_replies(count=1, mode=mode, endpoints=["placeOrder"])
            with pytest.raises(UnresolvedOrder) as info:
                await broker.place_order(option_order(live, ordertag=f"rt-lost-{mode}"))
            assert info.value.ordertag == f"rt-lost-{mode}"
            assert rest.counters["place_order:sent"] == 1
            # Settled from the order book by tag: the order was placed, once.
            tagged = [o for o in await broker.order_book() if o.ordertag == f"rt-lost-{mode}"]
            assert len(tagged) == 1
    finally:
        await rest.aclose()


async def test_slow_replies_time_out_reads_transient_orders_unresolved(live: Live) -> None:
    settings = live.settings.model_copy(update={"http_timeout_seconds": 0.3, "read_retry_attempts": 1})
    rest = AngelOneRestClient(settings, live.clock, TEST_ACCOUNT.api_key, rng=random.Random(1))
    broker = AngelOneBroker(rest, live.clock, settings)
    try:
        async with pumping(live.clock):
            tokens = await live.auth.login()
            rest.set_access_token(tokens.jwt_token)
            live.sim.faults.slow_replies(1.0, count=2, endpoints=["getTradeBook"])
            with pytest.raises(TransientError):
                await broker.trade_book()
            live.sim.faults.slow_replies(1.0, count=1, endpoints=["placeOrder"])
            with pytest.raises(UnresolvedOrder):
                await broker.place_order(option_order(live, ordertag="rt-slow"))
            live.sim.faults.clear()
            assert await broker.trade_book() == []
    finally:
        await rest.aclose()

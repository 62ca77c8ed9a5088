"""The market feed's reconnect circuit breaker (spec §13.6 "cap retries with circuit breaker"): after
`max_attempts` consecutive attempts without a working socket it opens once, attempts slow to the
cool-down, and the first working socket closes it again; the feed never stops reconnecting."""

from __future__ import annotations

import logging
import random
import re

import pytest
from websockets.asyncio.server import ServerConnection, serve

from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import MODE_LTP
from optbot.broker.angelone.wsbase import (
    Backoff,
    CircuitChange,
    FeedCredentials,
    ReconnectCircuitBreaker,
    ReconnectCircuitPolicy,
)
from optbot.broker.errors import TokenExpired
from optbot.config.sections.engine import EngineSettings
from optbot.core.enums import Exchange
from optbot.core.events import Tick
from optbot.test_kit.sim import SBIN_TOKEN

from .conftest import Live, pumping
from .test_sim_sockets import fast_settings, wait_for

POLICY = ReconnectCircuitPolicy(max_attempts=4, cooldown_seconds=60.0)


def backoff() -> Backoff:
    return Backoff(1.0, 30.0, random.Random(7))


def test_fewer_failures_than_the_cap_keep_the_normal_backoff() -> None:
    breaker, delays = ReconnectCircuitBreaker(POLICY), backoff()
    for second in range(POLICY.max_attempts - 1):
        assert breaker.failed(float(second)) is False
        assert 0.5 <= breaker.next_delay(delays) <= 30.0
    assert not breaker.open and breaker.failures == 3 and breaker.opens == 0


def test_the_capth_failure_opens_once_and_attempts_wait_the_cool_down() -> None:
    breaker, delays = ReconnectCircuitBreaker(POLICY), backoff()
    breaker.lost(100.0)  # a working socket dropped at t=100
    opened = [breaker.failed(100.0 + second) for second in range(1, 8)]
    assert opened == [False, False, False, True, False, False, False]  # the 4th opens it, once
    assert breaker.open and breaker.opens == 1 and breaker.down_seconds(107.0) == 7.0
    assert [breaker.next_delay(delays) for _ in range(3)] == [60.0, 60.0, 60.0]


def test_a_working_socket_closes_the_breaker_and_resets_the_count() -> None:
    breaker, delays = ReconnectCircuitBreaker(POLICY), backoff()
    for second in range(6):
        breaker.failed(10.0 + second)
    assert breaker.succeeded(95.5) == (6, 85.5)  # 6 failed attempts, down since the first one at t=10
    assert not breaker.open and breaker.failures == 0 and breaker.down_since is None
    assert breaker.next_delay(delays) < 60.0  # back on the normal backoff
    breaker.lost(200.0)
    assert breaker.succeeded(201.0) is None  # a short drop is not an outage to report


def test_repeated_outages_each_open_the_breaker_once() -> None:
    breaker = ReconnectCircuitBreaker(POLICY)
    openings = 0
    for outage in range(3):
        start = 1000.0 * outage
        openings += sum(breaker.failed(start + second) for second in range(10))
        assert breaker.succeeded(start + 50.0) == (10, 50.0)  # down since its first failure
    assert openings == 3 and breaker.opens == 3


def test_the_policy_comes_from_the_engine_settings() -> None:
    settings = EngineSettings(max_reconnect_attempts=3, reconnect_circuit_cooldown_seconds=45.0)
    assert ReconnectCircuitPolicy.from_settings(settings) == ReconnectCircuitPolicy(3, 45.0)
    assert ReconnectCircuitPolicy.from_settings(EngineSettings()) == ReconnectCircuitPolicy(10, 60.0)


class Session:
    """Socket credentials that fail (no broker session) for the next `refusals` calls."""

    def __init__(self, live: Live, refusals: int) -> None:
        self.live = live
        self.refusals = refusals

    def __call__(self) -> FeedCredentials:
        if self.refusals > 0:
            self.refusals -= 1
            raise TokenExpired("no broker session")
        return self.live.credentials()


def logged_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    pattern = re.compile(r"reconnecting in ([0-9.]+)s")
    return [
        float(found.group(1))
        for record in caplog.records
        if (found := pattern.search(record.getMessage())) is not None
    ]


async def circuit_feed(
    live: Live, session: Session, changes: list[CircuitChange], ticks: list[Tick]
) -> MarketFeed:
    feed = MarketFeed(
        fast_settings(live, reconnect_initial_delay_seconds=0.1, reconnect_max_delay_seconds=0.2),
        live.clock,
        session,
        on_tick=ticks.append,
        on_circuit=changes.append,
        circuit=ReconnectCircuitPolicy(max_attempts=3, cooldown_seconds=0.7),
    )
    await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)], MODE_LTP)
    return feed


async def test_one_failure_short_of_the_cap_opens_nothing(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="optbot.broker.angelone.feed")
    changes: list[CircuitChange] = []
    ticks: list[Tick] = []
    async with pumping(live.clock):
        await live.auth.login()
        feed = await circuit_feed(live, Session(live, refusals=2), changes, ticks)
        await feed.start()
        try:
            await wait_for(lambda: bool(ticks))
            assert feed.stats.errors["TokenExpired"] == 2 and not feed.circuit_open
            assert changes == [] and feed.stats.circuit_opens == 0
            assert len(logged_delays(caplog)) == 2 and max(logged_delays(caplog)) <= 0.2
        finally:
            await feed.stop()


async def test_the_breaker_opens_slows_down_closes_and_opens_again_per_outage(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="optbot.broker.angelone.feed")
    changes: list[CircuitChange] = []
    ticks: list[Tick] = []
    async with pumping(live.clock):
        await live.auth.login()
        session = Session(live, refusals=5)
        feed = await circuit_feed(live, session, changes, ticks)
        await feed.start()
        try:
            await wait_for(lambda: bool(ticks))  # 3 failures open it, 2 more after cool-downs, then works
            assert [(c.opened, c.failed_attempts) for c in changes] == [(True, 3), (False, 5)]
            assert changes[0].cooldown_seconds == 0.7 and changes[1].down_seconds >= 2.1  # three cool-downs
            delays = logged_delays(caplog)
            assert len(delays) == 5 and max(delays[:2]) <= 0.2 and delays[2:] == [0.7, 0.7, 0.7]
            assert not feed.circuit_open and feed.stats.circuit_opens == 1

            seen = len(ticks)  # a drop that reconnects at once is no outage to report
            assert await live.sim.faults.drop_ws_connections() >= 1
            live.market.set_quote("NSE", SBIN_TOKEN, 803.0)
            await wait_for(lambda: len(ticks) > seen and feed.receiving)
            assert len(changes) == 2

            session.refusals = 4  # a second long outage: opens once more, closes once more
            assert await live.sim.faults.drop_ws_connections() >= 1
            await wait_for(lambda: len(changes) == 4)
            assert [(c.opened, c.failed_attempts) for c in changes[2:]] == [(True, 3), (False, 4)]
            assert feed.stats.circuit_opens == 2 and not feed.circuit_open
        finally:
            await feed.stop()


async def test_a_socket_that_only_answers_an_error_and_closes_is_a_failed_attempt(live: Live) -> None:
    """A handshake that succeeds is not yet a working socket: a server that answers the subscription
    with E1002 and closes counts as a failed attempt, so the breaker still opens."""

    async def refuse_subscriptions(connection: ServerConnection) -> None:
        await connection.recv()  # the subscription
        await connection.send('{"correlationID": "optbot", "errorCode": "E1002", "errorMessage": "limit"}')
        await connection.close()

    changes: list[CircuitChange] = []
    async with serve(refuse_subscriptions, "127.0.0.1", 0) as server, pumping(live.clock):
        port = server.sockets[0].getsockname()[1]
        feed = MarketFeed(
            fast_settings(live, reconnect_initial_delay_seconds=0.1, reconnect_max_delay_seconds=0.2),
            live.clock,
            lambda: FeedCredentials("T1000001", "testapikey", "jwt", "feed"),
            on_circuit=changes.append,
            circuit=ReconnectCircuitPolicy(max_attempts=3, cooldown_seconds=0.7),
            url=f"ws://127.0.0.1:{port}/smart-stream",
        )
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN)], MODE_LTP)
        await feed.start()
        try:
            await wait_for(lambda: bool(changes))
            assert [(c.opened, c.failed_attempts) for c in changes] == [(True, 3)]
            assert feed.circuit_open and feed.stats.errors["E1002"] >= 3
        finally:
            await feed.stop()

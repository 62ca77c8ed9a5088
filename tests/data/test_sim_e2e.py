"""End to end against the local SmartAPI simulator: history via getCandleData, live bars off its socket."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import MODE_SNAP_QUOTE
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.calendar import get_calendar
from optbot.config.sections.broker import BrokerSettings
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.data.history import DownloadJob, HistoryDownloader
from optbot.data.pipeline import MarketDataPipeline
from optbot.data.store import JsonStore
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.data import ist
from optbot.test_kit.sim import NIFTY_TOKEN, TEST_ACCOUNT, StaticMarket, market_hours_start


@contextlib.asynccontextmanager
async def pumping(clock: SimClock, step: float, interval: float = 0.005) -> AsyncIterator[None]:
    async def pump() -> None:
        while True:
            await asyncio.sleep(interval)
            clock.advance(step)

    task = asyncio.create_task(pump())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_for(condition: Callable[[], bool], limit_seconds: float = 20.0) -> None:
    async with asyncio.timeout(limit_seconds):
        for _ in iter(int, 1):  # poll: the sockets run on real I/O
            if condition():
                return
            await asyncio.sleep(0.01)


@pytest.fixture
async def stack(tmp_path):
    clock = SimClock(market_hours_start())  # Wed 2026-11-18 10:00 IST
    market = StaticMarket(clock)
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    settings = BrokerSettings(
        client_code=TEST_ACCOUNT.client_code,
        rest_base_url=sim.base_url,
        market_ws_url=sim.market_ws_url,
        order_ws_url=sim.order_ws_url,
        http_timeout_seconds=2.0,
    )
    secrets = SecretStore(MemoryKeyring(), "optbot-test", environ={})
    for key, value in (("api_key", TEST_ACCOUNT.api_key), ("pin", TEST_ACCOUNT.pin)):
        secrets.set(key, value)
    secrets.set("totp_secret", TEST_ACCOUNT.totp_secret)
    rest = AngelOneRestClient(settings, clock, TEST_ACCOUNT.api_key, rng=random.Random(3))
    broker = AngelOneBroker(rest, clock, settings)
    auth = AuthService(settings, secrets, clock, rest)
    store = JsonStore(PathsSettings(data_root=tmp_path), DataSettings(fsync_appends=False), clock)
    try:
        yield clock, market, settings, rest, broker, auth, store
    finally:
        await rest.aclose()
        await sim.stop()


async def test_history_download_from_simulator(stack):
    clock, market, _settings, _rest, broker, auth, store = stack
    market.add_minute_candles("NSE", NIFTY_TOKEN, ist(2026, 11, 17, 9, 15), 375, 24500.0)
    async with pumping(clock, step=0.05):
        await auth.login()
        downloader = HistoryDownloader(broker, store, clock, DataSettings(fsync_appends=False))
        job = DownloadJob(
            "NIFTY", Exchange.NSE, NIFTY_TOKEN, Timeframe.M1, ist(2026, 11, 10, 9, 0), ist(2026, 11, 18, 9, 0)
        )
        result = await downloader.download(job)
    assert not result.failures and result.added == 375
    bars = store.read_bars("NIFTY", Timeframe.M1)
    assert bars[0].start_utc == ist(2026, 11, 17, 9, 15) and bars[0].open == 24500.0
    assert bars[-1].start_utc == ist(2026, 11, 17, 15, 29)


async def test_live_pipeline_off_the_simulator_socket(stack, tmp_path):
    clock, market, settings, rest, _broker, auth, store = stack
    pipeline = MarketDataPipeline(clock, get_calendar(), store, DataSettings(fsync_appends=False))
    pipeline.track(NIFTY_TOKEN, "NIFTY", is_option=False)

    def credentials() -> FeedCredentials:
        tokens = auth.tokens
        assert tokens is not None
        return FeedCredentials(tokens.client_code, rest.api_key, tokens.jwt_token, tokens.feed_token)

    async with pumping(clock, step=0.5):
        await auth.login()
        await pipeline.start()
        feed = MarketFeed(
            settings, clock, credentials, on_tick=pipeline.on_tick, on_health=pipeline.on_feed_health
        )
        feed.set_symbol(NIFTY_TOKEN, "NIFTY")
        await feed.subscribe([(Exchange.NSE, NIFTY_TOKEN)], MODE_SNAP_QUOTE)
        await feed.start()
        try:
            started = clock.now_utc()
            price = 24500.0
            while clock.now_utc() - started < timedelta(minutes=2, seconds=30):
                price += 0.5
                market.set_quote("NSE", NIFTY_TOKEN, price, spread=0.0, quantity=0, circuit=False)
                await asyncio.sleep(0.01)
            await wait_for(lambda: pipeline.aggregator.stats.bars_published["1m"] >= 2)
        finally:
            await feed.stop()
            await pipeline.stop()
    bars = store.read_bars("NIFTY", Timeframe.M1)
    assert len(bars) >= 2
    assert all(bar.end_utc - bar.start_utc == timedelta(minutes=1) for bar in bars)
    assert all(bar.start_utc.second == 0 for bar in bars)
    assert bars[0].high >= bars[0].close >= bars[0].low > 24500.0
    assert (tmp_path / "raw" / "NIFTY_today.json").stat().st_size > 0
    assert pipeline.aggregator.stats.ticks > 50

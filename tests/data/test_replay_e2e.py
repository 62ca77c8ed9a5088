"""The whole market-data path during a replayed session: replay market → simulator socket → MarketFeed →
pipeline → spec files, with CE strikes around the replayed NIFTY price chosen from the replayed scrip
master (the live session's rule: the strikes nearest the money)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import orjson
import pytest

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import MODE_QUOTE, MODE_SNAP_QUOTE
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.calendar import get_calendar
from optbot.config.sections.broker import BrokerSettings
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, OptionType, Timeframe
from optbot.data.pipeline import MarketDataPipeline
from optbot.data.store import JsonStore
from optbot.instruments.chain import OptionChain
from optbot.instruments.repository import MasterRepository
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.data import ist
from optbot.test_kit.sim import TEST_ACCOUNT

replay = pytest.importorskip("optbot.sim.market")
replay_settings = pytest.importorskip("optbot.config.sections.replay")

pytestmark = pytest.mark.slow


async def test_pipeline_during_a_replayed_session(sample_data, tmp_path):
    clock = SimClock(ist(2025, 9, 10, 9, 13))
    market = replay.ReplayMarket(clock, replay_settings.ReplaySettings(data_dir=sample_data / "store"))
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    settings = BrokerSettings(
        client_code=TEST_ACCOUNT.client_code,
        rest_base_url=sim.base_url,
        market_ws_url=sim.market_ws_url,
        http_timeout_seconds=2.0,
    )
    secrets = SecretStore(MemoryKeyring(), "optbot-test", environ={})
    for key, value in (("api_key", TEST_ACCOUNT.api_key), ("pin", TEST_ACCOUNT.pin)):
        secrets.set(key, value)
    secrets.set("totp_secret", TEST_ACCOUNT.totp_secret)
    rest = AngelOneRestClient(settings, clock, TEST_ACCOUNT.api_key, rng=random.Random(5))
    auth = AuthService(settings, secrets, clock, rest)
    store = JsonStore(PathsSettings(data_root=tmp_path), DataSettings(fsync_appends=False), clock)
    data_settings = DataSettings(fsync_appends=False, bar_close_grace_seconds=5.0)
    pipeline = MarketDataPipeline(clock, get_calendar(), store, data_settings)
    feed: MarketFeed | None = None
    try:
        await auth.login()
        url = sim.base_url + "/OpenAPI_File/files/OpenAPIScripMaster.json"
        master = (await MasterRepository(tmp_path / "instruments", url, clock).refresh()).master
        nifty = master.index_instrument("NIFTY")
        vix = master.index_instrument("INDIA VIX")
        expiry = master.nearest_expiry("NIFTY", clock.now_ist().date())
        assert expiry is not None
        chain = OptionChain("NIFTY", expiry, master.options("NIFTY", expiry))
        last_nifty: list[float] = []
        pipeline.track_instrument(nifty)
        pipeline.track_instrument(vix, check_opening_gap=False)

        def credentials() -> FeedCredentials:
            tokens = auth.tokens
            assert tokens is not None
            return FeedCredentials(tokens.client_code, rest.api_key, tokens.jwt_token, tokens.feed_token)

        def on_tick(tick):  # type: ignore[no-untyped-def]
            if tick.token == nifty.token:
                last_nifty.append(tick.ltp)
            pipeline.on_tick(tick)

        feed = MarketFeed(settings, clock, credentials, on_tick=on_tick, on_health=pipeline.on_feed_health)
        for instrument in (nifty, vix):
            feed.set_symbol(instrument.token, instrument.underlying)
        await feed.subscribe([(nifty.exchange, nifty.token), (vix.exchange, vix.token)], MODE_SNAP_QUOTE)
        await pipeline.start()
        await feed.start()
        for _ in range(200):
            if feed.connected:
                break
            await asyncio.sleep(0.01)
        clock.speed = 150.0  # replay paced at 150x so socket latency stays well inside the close grace
        await market.run(clock.now_utc(), ist(2025, 9, 10, 9, 16, 30))
        assert last_nifty, "the replayed NIFTY price reached the feed"
        strikes = chain.nearest_strikes(5, last_nifty[-1])  # the five strikes nearest the price
        calls = [
            contract
            for contract in (chain.row(strike).contract(OptionType.CE) for strike in strikes)
            if contract
        ]
        for contract in calls:
            pipeline.track_instrument(contract)
            feed.set_symbol(contract.token, contract.symbol)
        await feed.subscribe([(contract.exchange, contract.token) for contract in calls], MODE_QUOTE)
        await market.run(clock.now_utc(), ist(2025, 9, 10, 9, 21, 10))
    finally:
        if feed is not None:
            await feed.stop()
        await pipeline.stop()
        await rest.aclose()
        await sim.stop()

    minute = store.read_bars("NIFTY", Timeframe.M1)
    assert [bar.start_utc for bar in minute] == [ist(2025, 9, 10, 9, m) for m in range(15, 21)]
    assert all(bar.end_utc - bar.start_utc == timedelta(minutes=1) for bar in minute)
    (five,) = store.read_bars("NIFTY", Timeframe.M5)
    assert five.start_utc == ist(2025, 9, 10, 9, 15) and five.high == max(bar.high for bar in minute[:5])
    assert store.read_bars("INDIA VIX", Timeframe.M1)
    raw = (tmp_path / "raw" / "NIFTY_today.json").read_bytes().splitlines()
    first = orjson.loads(raw[0])
    assert {"ts_exchange", "ts_utc", "symbol", "token", "ltp"} <= set(first)
    option_bars = [
        path
        for path in (tmp_path / "timeframes").iterdir()
        if path.name.startswith("NIFTY") and "CE" in path.name
    ]
    assert option_bars, "ATM call bars were built from the option ticks"
    assert pipeline.aggregator.stats.late_ticks <= 3
    assert calls and {contract.exchange for contract in calls} == {Exchange.NFO}

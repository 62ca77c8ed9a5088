"""MarketState keeps the latest tick per token and the underlying / VIX levels from ticks alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta
from pathlib import Path

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.events import Bar, Tick
from optbot.core.timeutil import ist_datetime
from optbot.engine.market import BAR_SOURCE, MarketState
from optbot.test_kit.instruments import build_master

DAY = date(2026, 8, 7)


def _market(tmp_path: Path) -> tuple[MarketState, SimClock]:
    clock = SimClock(ist_datetime(DAY, time(10, 0)))
    settings = Settings(paths={"data_root": tmp_path}, universe={"underlyings": ["NIFTY"]})
    market = MarketState(settings, clock, get_calendar(), build_master(as_of=DAY))
    market.track_underlying("NIFTY")
    market.track_vix()
    return market, clock


def test_ticks_set_underlying_vix_and_last_quote(tmp_path: Path) -> None:
    market, clock = _market(tmp_path)
    index = market.underlying_instrument("NIFTY")
    vix = market.instruments.index_instrument("INDIA VIX")
    contract = market.instruments.options("NIFTY", market.instruments.expiries("NIFTY")[0])[0]
    now = clock.now_utc()
    index_tick = Tick(now, index.token, index.exchange, "NIFTY", 24550.0)
    vix_tick = Tick(now, vix.token, vix.exchange, "INDIA VIX", 14.5)
    option_tick = Tick(
        now,
        contract.token,
        contract.exchange,
        contract.symbol,
        120.0,
        bid=119.5,
        ask=120.5,
        volume=900,
        open_interest=750_000,
    )
    for tick in (index_tick, vix_tick, option_tick):
        assert market.on_tick(tick) == market.underlying_of(tick)  # the engine asks once
    assert market.underlying_price("nifty") == 24550.0
    assert market.vix() == 14.5
    assert market.underlying_of(index_tick) == "NIFTY" and market.underlying_of(option_tick) is None
    assert market.is_vix(vix_tick) and not market.is_vix(index_tick)
    assert market.last_price(contract.token) == 120.0
    assert market.open_interest(contract.token) == 750_000
    quote = market.quote(contract.exchange, contract.token)
    assert quote is not None and quote.ltp == 120.0 and quote.volume == 900
    assert [level.price for level in quote.bids] == [119.5] and [level.price for level in quote.asks] == [
        120.5
    ]
    assert quote.exchange_time == now
    assert market.ticks_seen == 3 and market.last_tick_utc == now


def test_non_positive_ltp_is_ignored_and_later_ticks_replace_earlier(tmp_path: Path) -> None:
    market, clock = _market(tmp_path)
    index = market.underlying_instrument("NIFTY")
    tick = Tick(clock.now_utc(), index.token, index.exchange, "NIFTY", 24550.0)
    market.on_tick(tick)
    assert market.on_tick(replace(tick, ltp=0.0)) == "NIFTY"  # still the underlying's tick
    assert market.underlying_price("NIFTY") == 24550.0 and market.ticks_seen == 1
    clock.advance(5)
    market.on_tick(replace(tick, ts_utc=clock.now_utc(), ltp=24560.0))
    assert market.underlying_price("NIFTY") == 24560.0 and market.last_price(index.token) == 24560.0
    # the same token on another exchange is another instrument
    other = Tick(clock.now_utc(), index.token, Exchange.BSE, "NIFTY", 1.0)
    assert market.underlying_of(other) is None and not market.is_vix(other)


def test_a_bar_close_is_the_last_price_a_tick_carrying_it_would_be(tmp_path: Path) -> None:
    """A bar-driven run's price event keeps the bar; whoever reads the price gets the tick a feed
    carrying the bar's close at its close would have left (built once, on the first read)."""
    market, clock = _market(tmp_path)
    index = market.underlying_instrument("NIFTY")
    vix = market.instruments.index_instrument("INDIA VIX")
    end = clock.now_utc()
    start = end - timedelta(minutes=1)
    bar = Bar(end, index.token, "NIFTY", Timeframe.M1, start, end, 24500.0, 24560.0, 24490.0, 24550.0)
    vix_bar = Bar(end, vix.token, "INDIA VIX", Timeframe.D1, start, end, 14.0, 15.0, 13.0, 14.5)
    assert market.on_bar_close(bar, index.exchange) == "NIFTY"
    assert market.on_bar_close(vix_bar, vix.exchange) is None
    assert market.underlying_price("NIFTY") == 24550.0 and market.vix() == 14.5
    assert market.is_vix_token(vix.exchange, vix.token)
    assert not market.is_vix_token(index.exchange, index.token)
    assert market.ticks_seen == 2 and market.last_tick_utc == end
    expected = Tick(end, index.token, index.exchange, "NIFTY", 24550.0, ts_exchange=end, source=BAR_SOURCE)
    tick = market.last_tick(index.exchange, index.token)
    assert tick == expected and market.last_tick(index.exchange, index.token) is tick  # built once
    assert market.last_price(index.token) == 24550.0
    quote = market.quote(vix.exchange, vix.token)
    assert quote is not None and quote.ltp == 14.5 and quote.exchange_time == end
    # a non-positive close changes nothing; a later tick replaces the bar's price
    assert market.on_bar_close(replace(bar, close=0.0), index.exchange) == "NIFTY"
    assert market.underlying_price("NIFTY") == 24550.0 and market.ticks_seen == 2
    clock.advance(5)
    market.on_tick(Tick(clock.now_utc(), index.token, index.exchange, "NIFTY", 24555.0))
    assert market.last_price(index.token) == 24555.0
    market.on_bar_close(replace(bar, close=24557.0), index.exchange)
    assert market.last_price(index.token) == 24557.0 and market.underlying_price("NIFTY") == 24557.0


def test_a_quote_is_built_once_per_tick_and_again_for_the_next_one(tmp_path: Path) -> None:
    """The paper venue's margin checks ask for the index's quote once per option leg: the same tick
    gives the same quote object; a later tick (or bar close) of the contract gives its new price."""
    market, clock = _market(tmp_path)
    index = market.underlying_instrument("NIFTY")
    market.on_tick(Tick(clock.now_utc(), index.token, index.exchange, "NIFTY", 24550.0))
    first = market.quote(index.exchange, index.token)
    assert first is not None and first.ltp == 24550.0
    assert market.quote(index.exchange, index.token) is first
    clock.advance(1)
    market.on_tick(Tick(clock.now_utc(), index.token, index.exchange, "NIFTY", 24551.5))
    second = market.quote(index.exchange, index.token)
    assert second is not None and second.ltp == 24551.5 and second.exchange_time == clock.now_utc()
    start = clock.now_utc()
    clock.advance(60)
    bar = Bar(clock.now_utc(), index.token, "NIFTY", Timeframe.M1, start, clock.now_utc(), 1, 2, 0.5, 24560.0)
    market.on_bar_close(bar, index.exchange)
    third = market.quote(index.exchange, index.token)
    assert third is not None and third.ltp == 24560.0

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from optbot.core.clock import SimClock
from optbot.core.timeutil import IST
from optbot.sim.contracts import MarketView, SimQuote
from optbot.sim.market import CandleRequestError, ReplayMarket

MarketFactory = Callable[..., ReplayMarket]
NIFTY = "99926000"
VIX = "99926017"


def ist(day: int, hour: int, minute: int, second: int = 0, month: int = 9) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=IST)


def atm_contracts(market: ReplayMarket, strike: float = 24750.0, expiry_day: int = 9) -> dict[str, str]:
    return {
        c.option_type: c.token
        for c in market.contracts()
        if c.underlying == "NIFTY"
        and c.strike == strike
        and c.expiry.day == expiry_day
        and c.expiry.month == 9
    }


def test_replay_market_satisfies_the_market_view_contract(make_market: MarketFactory) -> None:
    market: MarketView = make_market(ist(8, 9, 0))
    assert market.now() == ist(8, 9, 0)


def test_one_minute_candles_reproduce_the_source_bars(make_market: MarketFactory) -> None:
    market = make_market(ist(10, 16, 0))
    rows = market.candles("NSE", NIFTY, "ONE_MINUTE", ist(4, 9, 15), ist(4, 15, 29))
    source = market.histories["NIFTY"].intraday[0][1]  # the store's 1-minute bars
    expected = [
        [
            bar.start.astimezone(IST).isoformat(),
            *(round(v, 2) for v in (bar.open, bar.high, bar.low, bar.close)),
            0,
        ]
        for bar in source.days[ist(4, 0, 0).date()]
    ]
    assert rows == expected
    assert rows[0][0] == "2025-09-04T09:15:00+05:30"
    inclusive = market.candles("NSE", NIFTY, "ONE_MINUTE", ist(4, 9, 15), ist(4, 9, 19))
    assert [row[0][11:16] for row in inclusive] == ["09:15", "09:16", "09:17", "09:18", "09:19"]
    assert len(market.candles("NSE", NIFTY, "ONE_MINUTE", ist(5, 9, 15), ist(5, 15, 29))) == 374


def test_coarser_candles_aggregate_and_daily_comes_from_the_official_file(make_market: MarketFactory) -> None:
    market = make_market(ist(10, 16, 0))
    minutes = market.candles("NSE", NIFTY, "ONE_MINUTE", ist(8, 9, 15), ist(8, 9, 29))
    (quarter,) = market.candles("NSE", NIFTY, "FIFTEEN_MINUTE", ist(8, 9, 15), ist(8, 9, 15))
    assert quarter[1] == minutes[0][1] and quarter[4] == minutes[-1][4]
    assert quarter[2] == max(row[2] for row in minutes) and quarter[3] == min(row[3] for row in minutes)
    hours = market.candles("NSE", NIFTY, "ONE_HOUR", ist(8, 9, 15), ist(8, 15, 30))
    assert [row[0][11:16] for row in hours] == ["09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15"]
    daily = market.candles("NSE", NIFTY, "ONE_DAY", ist(8, 0, 0), ist(10, 0, 0))
    assert daily[0] == ["2025-09-08T00:00:00+05:30", 24802.6, 24885.5, 24751.55, 24773.15, 0]
    assert all(row[5] == 0 for row in hours)
    with pytest.raises(CandleRequestError, match="unknown candle interval 'BOGUS'"):
        market.candles("NSE", NIFTY, "BOGUS", ist(8, 9, 15), ist(8, 10, 0))


def test_candles_never_show_the_future(make_market: MarketFactory) -> None:
    market = make_market(ist(8, 10, 0, 30))
    rows = market.candles("NSE", NIFTY, "ONE_MINUTE", ist(8, 9, 15), ist(8, 15, 30))
    assert rows[-1][0] == "2025-09-08T10:00:00+05:30"
    assert market.candles("NSE", NIFTY, "ONE_DAY", ist(8, 0, 0), ist(8, 0, 0)) == []


def test_stepping_ticks_follow_the_bars_and_publish(make_market: MarketFactory) -> None:
    market = make_market(ist(8, 9, 0))
    seen: list[SimQuote] = []
    market.subscribe_quotes(seen.append)
    before = market.quote("NSE", NIFTY)
    assert before is not None and before.ltp == before.close == 24741.0  # previous official close
    assert market.advance_to(ist(8, 9, 16)) > 0
    quote = market.quote("NSE", NIFTY)
    assert quote is not None and not quote.synthetic
    (first_minute,) = market.candles("NSE", NIFTY, "ONE_MINUTE", ist(8, 9, 15), ist(8, 9, 15))
    assert quote.open == first_minute[1]
    assert quote.high >= first_minute[2] and quote.low <= first_minute[3]
    assert {q.token for q in seen} >= {NIFTY, VIX, "99926009"}
    assert [q.sequence for q in seen if q.token == NIFTY] == sorted(
        q.sequence for q in seen if q.token == NIFTY
    )
    assert market.is_market_open("NFO") and market.is_market_open("NSE")
    moment = market.step()
    assert moment is not None and market.now() == moment


def test_fast_forward_equals_stepping(make_market: MarketFactory) -> None:
    stepped = make_market(ist(9, 9, 0))
    stepped.advance_to(ist(9, 11, 30))
    jumped = make_market(ist(9, 11, 30))
    for token in (NIFTY, VIX, "99926009"):
        a, b = stepped.quote("NSE", token), jumped.quote("NSE", token)
        assert a is not None and b is not None
        assert (a.ltp, a.open, a.high, a.low, a.sequence) == (b.ltp, b.open, b.high, b.low, b.sequence)


def test_options_are_synthetic_tick_rounded_and_spreads_follow_the_calibration(
    make_market: MarketFactory,
) -> None:
    market = make_market(ist(8, 9, 0))
    market.advance_to(ist(8, 11, 0))
    near = atm_contracts(market, 24800.0, expiry_day=9)
    quote = market.quote("NFO", near["CE"])
    assert quote is not None and quote.synthetic
    assert len(quote.bids) == 5 and len(quote.asks) == 5
    assert (
        quote.bids[0].price <= quote.ltp <= quote.asks[0].price and quote.bids[0].price < quote.asks[0].price
    )
    for level in (*quote.bids, *quote.asks):
        assert round(level.price * 100) % 5 == 0 and level.quantity % 75 == 0
    assert round(quote.ltp * 100) % 5 == 0
    far_otm = market.quote("NFO", atm_contracts(market, 26000.0, expiry_day=9)["CE"])
    in_the_money = market.quote("NFO", atm_contracts(market, 23800.0, expiry_day=9)["CE"])
    assert far_otm is not None and in_the_money is not None

    def relative_spread(q: SimQuote) -> float:
        return (q.asks[0].price - q.bids[0].price) / ((q.asks[0].price + q.bids[0].price) / 2)

    # Fitted to real bid/ask: intrinsic value is quoted wider than time value.
    assert relative_spread(in_the_money) > relative_spread(quote)
    # Away from the money: relatively wider, down to a one-sided book at the minimum tick.
    assert not far_otm.bids or relative_spread(far_otm) > relative_spread(quote)
    assert far_otm.asks[0].price >= 0.05
    put = market.quote("NFO", near["PE"])
    assert put is not None and put.lower_circuit == 0.05 and put.upper_circuit > put.ltp


def test_watched_options_evolve_volume_and_open_interest(make_market: MarketFactory) -> None:
    market = make_market(ist(8, 9, 14))
    token = atm_contracts(market)["PE"]
    first = market.quote("NFO", token)
    assert first is not None and first.volume == 0
    seen: list[SimQuote] = []
    market.subscribe_quotes(lambda q: seen.append(q) if q.token == token else None)
    market.advance_to(ist(8, 10, 0))
    last = market.quote("NFO", token)
    assert last is not None and last.volume > 0 and len(seen) > 100
    assert last.open_interest != first.open_interest
    assert last.high >= last.ltp >= last.low and last.open > 0
    oi = market.open_interest_history("NFO", token, "FIFTEEN_MINUTE", ist(8, 9, 15), ist(8, 10, 0))
    assert [row["time"][11:16] for row in oi] == ["09:15", "09:30", "09:45", "10:00"]
    assert all(row["oi"] > 0 for row in oi)
    candles = market.candles("NFO", token, "FIVE_MINUTE", ist(8, 9, 15), ist(8, 9, 55))
    assert len(candles) == 9 and all(
        row[3] <= row[1] <= row[2] and row[3] <= row[4] <= row[2] for row in candles
    )


def test_an_unwatched_option_stops_streaming_and_resumes_its_day_when_watched_again(
    make_market: MarketFactory,
) -> None:
    market = make_market(ist(8, 9, 14))
    token = atm_contracts(market)["CE"]
    seen: list[SimQuote] = []
    market.subscribe_quotes(lambda q: seen.append(q) if q.token == token else None)
    assert market.watch("NFO", token)
    market.advance_to(ist(8, 9, 40))
    morning = market.quote("NFO", token)
    assert morning is not None and morning.volume > 0
    assert market.unwatch("NFO", token) and not market.unwatch("NFO", token)
    assert not market.unwatch("NSE", NIFTY)  # indices always stream
    streamed = len(seen)
    market.advance_to(ist(8, 10, 30))
    assert len(seen) == streamed  # no longer priced
    again = market.quote("NFO", token)  # asking again watches it again, continuing today's statistics
    assert again is not None and again.exchange_time >= ist(8, 10, 30)
    assert again.open == morning.open and again.volume >= morning.volume
    assert again.sequence == morning.sequence + 1
    market.advance_to(ist(8, 10, 45))
    assert len(seen) > streamed


def test_one_depth_level_is_the_full_quote_cut_to_its_best_bid_and_ask(make_market: MarketFactory) -> None:
    """The in-process replay asks for one level (it reads only the best bid/ask): the same quotes,
    with the deeper levels left off."""
    full = make_market(ist(8, 9, 14))
    top = ReplayMarket(SimClock(ist(8, 9, 14)), full.settings, full.calendar, full.histories, 1)
    token = atm_contracts(full)["PE"]
    for market in (full, top):
        market.watch("NFO", token)
        market.advance_to(ist(8, 9, 45))
    deep, shallow = full.quote("NFO", token), top.quote("NFO", token)
    assert deep is not None and shallow is not None and len(deep.bids) == 5
    assert shallow == replace(deep, bids=deep.bids[:1], asks=deep.asks[:1])
    with pytest.raises(ValueError, match="depth_levels"):
        ReplayMarket(full.clock, full.settings, full.calendar, full.histories, depth_levels=0)


def test_replays_are_deterministic(make_market: MarketFactory) -> None:
    def trace() -> list[tuple[str, float, int]]:
        market = make_market(ist(9, 9, 14))
        token = atm_contracts(market, 24850.0)["CE"]
        market.quote("NFO", token)
        out: list[tuple[str, float, int]] = []
        market.subscribe_quotes(lambda q: out.append((q.token, q.ltp, q.volume)))
        market.advance_to(ist(9, 9, 20))
        return out

    assert trace() == trace()


def test_master_lists_indices_and_calendar_expiries(make_market: MarketFactory) -> None:
    market = make_market(ist(8, 8, 30))
    rows = market.scrip_master_rows()
    assert [row["token"] for row in rows[:3]] == [NIFTY, "99926009", VIX]
    nfo = [row for row in rows if row["exch_seg"] == "NFO"]
    assert {row["name"] for row in nfo} == {"NIFTY", "BANKNIFTY"}
    assert {row["lotsize"] for row in nfo if row["name"] == "NIFTY"} == {"75"}
    assert {row["lotsize"] for row in nfo if row["name"] == "BANKNIFTY"} == {"35"}
    assert "09SEP2025" in {row["expiry"] for row in nfo}
    assert not market.is_market_open("NFO")
    assert market.quote("NFO", "123") is None and market.quote("BSE", NIFTY) is None


async def test_run_drives_the_clock_across_days(make_market: MarketFactory) -> None:
    market = make_market(ist(5, 15, 25))
    published = await market.run(ist(5, 15, 25), ist(8, 9, 16))
    assert market.now() == ist(8, 9, 16)
    quote = market.quote("NSE", NIFTY)
    assert quote is not None and quote.close == 24741.0 and quote.exchange_time.date() == ist(8, 9, 16).date()
    assert published > 3 * 5 * 60  # three indices ticking through the last 5 minutes of Friday and more


def test_a_timer_reading_quotes_at_a_tick_instant_does_not_swallow_the_tick(
    make_market: MarketFactory,
) -> None:
    market = make_market(ist(8, 9, 14))
    opened: list[SimQuote] = []
    market.subscribe_quotes(lambda q: opened.append(q) if q.token == NIFTY else None)
    seen_by_timer: list[SimQuote | None] = []
    market.clock.call_at(ist(8, 9, 15), lambda: seen_by_timer.append(market.quote("NSE", NIFTY)))
    market.advance_to(ist(8, 9, 15))
    assert seen_by_timer[0] is not None and seen_by_timer[0].exchange_time == ist(8, 9, 15)
    assert [q.exchange_time for q in opened] == [ist(8, 9, 15)]


def test_reading_after_a_clock_jump_publishes_only_the_current_state(make_market: MarketFactory) -> None:
    market = make_market(ist(8, 9, 14))
    seen: list[SimQuote] = []
    market.subscribe_quotes(lambda q: seen.append(q) if q.token == NIFTY else None)
    market.clock.advance_to(ist(8, 11, 0))
    quote = market.quote("NSE", NIFTY)
    assert quote is not None and [q.exchange_time for q in seen] == [ist(8, 11, 0)]


def test_a_failing_listener_is_isolated(make_market: MarketFactory) -> None:
    market = make_market(ist(8, 9, 14))
    received: list[SimQuote] = []

    def broken(_quote: SimQuote) -> None:
        raise RuntimeError("consumer bug")

    market.subscribe_quotes(broken)
    market.subscribe_quotes(received.append)
    market.advance_to(ist(8, 9, 15, 2))
    assert received and market.listener_errors == len(received)


def test_missing_data_dir_is_a_clear_user_error(tmp_path: Path) -> None:
    from optbot.calendar import get_calendar
    from optbot.config.sections.replay import ReplaySettings
    from optbot.core.errors import UserError
    from optbot.sim.market import load_store_histories

    with pytest.raises(UserError, match=r"replay.data_dir .* holds no NIFTY, BANKNIFTY or INDIA VIX bars"):
        load_store_histories(ReplaySettings(data_dir=tmp_path), get_calendar())


def test_weekend_decay_is_the_calibrated_one_and_closes_are_tick_prices(make_market: MarketFactory) -> None:
    market = make_market(ist(8, 9, 0))  # Monday before the open; spot and VIX still at Friday's close
    quote = market.quote("NFO", atm_contracts(market)["CE"])
    assert quote is not None
    assert round(quote.close * 100) % 5 == 0 and round(quote.upper_circuit * 100) % 5 == 0
    nifty, vix = market.quote("NSE", NIFTY), market.quote("NSE", VIX)
    assert nifty is not None and vix is not None
    strike, call = np.array([24750.0]), np.array([True])

    def model_value(moment: datetime) -> float:
        chain = market.option_model.value_chain(
            "NIFTY", nifty.close, vix.close, moment, date(2025, 9, 9), strike, call
        )
        return float(chain.value[0])

    # Friday's close and Monday's pre-open differ by the fitted night + weekend-day variance, no more.
    assert quote.close == pytest.approx(model_value(ist(5, 15, 30)), abs=0.05)
    assert quote.ltp == pytest.approx(model_value(ist(8, 9, 0)), abs=0.05)
    assert quote.ltp < quote.close


async def test_run_at_a_speed_factor_paces_and_publishes(make_market: MarketFactory) -> None:
    market = make_market(ist(8, 9, 15), speed=1000.0)
    published = await market.run(ist(8, 9, 15), ist(8, 9, 15, 5))
    assert published == 3 * 6  # three indices, one tick per second, both ends inclusive
    assert market.now() == ist(8, 9, 15, 5)


async def test_a_paced_replay_passes_the_post_market_at_its_speed(make_market: MarketFactory) -> None:
    """Issue 18 (the unattended week): after the last tick the clock used to jump to the replay's end
    and on to the next session at once, so a bot following it never had an evening for its EOD (the
    broker had logged its session out by then). The hours without ticks now pass at the speed too."""
    market = make_market(ist(8, 15, 29), speed=7200.0)  # the post-market hour in half a real second
    seen: list[datetime] = []

    async def watch() -> None:
        while True:
            seen.append(market.now())
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        await market.run(ist(8, 15, 29), ist(8, 16, 30))
    finally:
        watcher.cancel()
    assert market.now() == ist(8, 16, 30)
    assert any(ist(8, 15, 35) < moment < ist(8, 16, 25) for moment in seen), seen[-5:]

"""Where the store has the near future's minute bars (NIFTY-I, November 2022), the synthetic model is
valued with the traded future as its forward; elsewhere from the index and the fitted carry."""

from __future__ import annotations

import math
from datetime import date, time

import numpy as np
import pytest

from optbot.analytics.futures_forward import FuturesForward
from optbot.analytics.synthetic import FuturePrice, model_for, near_future_expiry
from optbot.backtest.option_bars import SYNTHETIC, OptionPrices
from optbot.backtest.store_data import StoreHistory
from optbot.calendar import get_calendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_datetime
from tests.conftest import SAMPLE_STORE

DAY = date(2022, 11, 2)
MOMENT = ist_datetime(DAY, time(11, 0))


@pytest.fixture(scope="module")
def history() -> StoreHistory:
    return StoreHistory(SAMPLE_STORE, get_calendar())


def test_the_forward_of_the_futures_own_expiry_is_the_traded_future(history: StoreHistory) -> None:
    model = model_for(None, get_calendar())
    forward = FuturesForward(history, model)
    bar = next(bar for bar in history.future_bars("NIFTY", DAY) if bar.end_utc == MOMENT)
    expiry = near_future_expiry(get_calendar(), "NIFTY", DAY)
    assert expiry == date(2022, 11, 24)
    spot = forward.spot_at("NIFTY", MOMENT)
    assert spot == pytest.approx(model.spot_for_future("NIFTY", FuturePrice(bar.close, expiry), MOMENT))
    chain = model.value_chain("NIFTY", spot, 20.0, MOMENT, expiry, np.array([18000.0]), np.array([True]))
    assert float(chain.forward[0]) == pytest.approx(bar.close, rel=1e-12)
    with_future = model.value_chain(
        "NIFTY", 1.0, 20.0, MOMENT, date(2022, 11, 3), np.array([18000.0]), np.array([True]),
        FuturePrice(bar.close, expiry),
    )  # fmt: skip
    from_spot = model.value_chain(
        "NIFTY", spot, 20.0, MOMENT, date(2022, 11, 3), np.array([18000.0]), np.array([True])
    )
    assert float(with_future.value[0]) == pytest.approx(float(from_spot.value[0]), rel=1e-12)


def test_no_future_bar_no_future_forward(history: StoreHistory) -> None:
    forward = FuturesForward(history, model_for(None, get_calendar()))
    assert forward.spot_at("NIFTY", ist_datetime(date(2025, 9, 8), time(11, 0))) is None  # no NIFTY-I then
    assert forward.spot_at("NIFTY", ist_datetime(DAY, time(9, 0))) is None  # before the first bar
    assert forward.spot_at("NIFTY", ist_datetime(DAY, time(18, 0))) is None  # the last bar is hours old
    assert forward.spot_at("SENSEX", MOMENT) is None


def test_an_index_bars_levels_come_from_the_futures_bars_inside_it(history: StoreHistory) -> None:
    model = model_for(None, get_calendar())
    forward = FuturesForward(history, model)
    start = ist_datetime(DAY, time(10, 45))
    index_bar = Bar(
        MOMENT, "99926000", "NIFTY", Timeframe.M15, start, MOMENT, 18100.0, 18120.0, 18090.0, 18110.0
    )
    inside = [
        bar for bar in history.future_bars("NIFTY", DAY) if start <= bar.start_utc and bar.end_utc <= MOMENT
    ]
    assert len(inside) == 15
    levels = forward.bar_levels("NIFTY", index_bar.start_utc, index_bar.end_utc)
    assert levels is not None
    factor = levels[1] / max(bar.high for bar in inside)
    assert levels[2] / min(bar.low for bar in inside) == pytest.approx(factor)
    assert levels[0] / inside[0].open == pytest.approx(factor)
    assert 0.99 < factor < 1.0  # the carry to the month's expiry taken off


def test_synthetic_prices_use_the_future_where_it_traded(history: StoreHistory) -> None:
    calendar = get_calendar()
    model = model_for(None, calendar)
    index_close = 18050.0  # any index level: with a future bar at the moment it is not what prices
    forward = FuturesForward(history, model)
    with_future = OptionPrices(
        calendar, ReplaySettings(), None, lambda _: index_close, lambda: 20.0, model, forward
    )
    from_index = OptionPrices(calendar, ReplaySettings(), None, lambda _: index_close, lambda: 20.0, model)
    contract = next(
        contract
        for contract in with_future.open_day("NIFTY", DAY, index_close).contracts.values()
        if contract.expiry == date(2022, 11, 3) and contract.strike == 18200.0 and contract.is_call
    )
    from_index.open_day("NIFTY", DAY, index_close)
    priced = with_future.last_price(contract.token, MOMENT)
    plain = from_index.last_price(contract.token, MOMENT)
    assert priced is not None and plain is not None
    spot = forward.spot_at("NIFTY", MOMENT)
    assert spot is not None and not math.isclose(spot, index_close)
    value = model.value_chain(
        "NIFTY", spot, 20.0, MOMENT, contract.expiry, np.array([18200.0]), np.array([True])
    )
    assert priced[0] == pytest.approx(max(round(float(value.value[0]) / 0.05) * 0.05, 0.05), abs=1e-9)
    assert priced[0] != plain[0]
    assert with_future.priced[contract.token] == SYNTHETIC and forward.used == {contract.token}


def test_a_day_without_the_future_prices_from_the_index(history: StoreHistory) -> None:
    calendar = get_calendar()
    model = model_for(None, calendar)
    day = date(2025, 9, 8)
    forward = FuturesForward(history, model)
    prices = OptionPrices(calendar, ReplaySettings(), None, lambda _: 24800.0, lambda: 11.0, model, forward)
    contract = next(iter(prices.open_day("NIFTY", day, 24800.0).contracts.values()))
    moment = ist_datetime(day, time(11, 0))
    plain = OptionPrices(calendar, ReplaySettings(), None, lambda _: 24800.0, lambda: 11.0, model)
    plain.open_day("NIFTY", day, 24800.0)
    assert prices.last_price(contract.token, moment) == plain.last_price(contract.token, moment)
    assert not forward.used


def test_the_day_found_again_for_the_next_moment_is_the_moments_own_day(history: StoreHistory) -> None:
    """The forward keeps the IST day it was last asked about: moments back and forth across days
    (each side of IST midnight, a day without the future, another underlying) get what a forward
    asked for the first time gets."""
    model = model_for(None, get_calendar())
    kept = FuturesForward(history, model)
    moments = [
        MOMENT,
        ist_datetime(DAY, time(15, 29)),
        ist_datetime(date(2022, 11, 3), time(0, 0)),  # the next IST day's first instant
        ist_datetime(date(2022, 11, 3), time(11, 0)),
        ist_datetime(DAY, time(23, 59, 59)),  # back to the day before
        ist_datetime(date(2022, 11, 8), time(11, 0)),  # a holiday: no future bar
        ist_datetime(date(2022, 11, 9), time(11, 0)),
        ist_datetime(date(2025, 9, 8), time(11, 0)),  # no NIFTY-I then
        MOMENT,
    ]
    for moment in moments:
        for underlying in ("NIFTY", "SENSEX"):
            fresh = FuturesForward(history, model)
            assert kept.spot_at(underlying, moment) == fresh.spot_at(underlying, moment), (underlying, moment)
            start = moment - (moment - moment.replace(minute=0, second=0))
            assert kept.bar_levels(underlying, start, moment) == fresh.bar_levels(underlying, start, moment)
    assert kept.spot_at("NIFTY", ist_datetime(date(2022, 11, 3), time(11, 0))) is not None

"""Incremental classes and batch functions agree at every index (hypothesis + real data)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.indicators import (
    ADX,
    ATR,
    EMA,
    RSI,
    SMA,
    BollingerBands,
    HistoricalVolatility,
    SessionVWAP,
    adx,
    atr,
    bollinger,
    ema,
    historical_volatility,
    rsi,
    sma,
    vwap,
)
from optbot.test_kit.indicators import NIFTY_1MIN_YAHOO, load_sample

RELATIVE = 1e-9


def _close(a: float | None, b: float) -> bool:
    if a is None:
        return math.isnan(b)
    return math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-9)


@st.composite
def ohlc_bars(draw: st.DrawFn) -> tuple[list[float], list[float], list[float]]:
    count = draw(st.integers(min_value=0, max_value=80))
    start = draw(st.floats(min_value=50.0, max_value=50_000.0))
    moves = draw(st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=count, max_size=count))
    spreads = draw(st.lists(st.floats(min_value=0.0, max_value=0.03), min_size=count, max_size=count))
    positions = draw(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=count, max_size=count))
    high, low, close = [], [], []
    price = start
    for move, spread, position in zip(moves, spreads, positions, strict=True):
        price *= 1.0 + move
        bar_low = price * (1.0 - spread * position)
        bar_high = bar_low + price * spread
        high.append(bar_high)
        low.append(bar_low)
        close.append(price)
    return high, low, close


@settings(max_examples=60, deadline=None)
@given(bars=ohlc_bars(), period=st.integers(min_value=1, max_value=20))
def test_wilder_indicators_incremental_equals_batch(
    bars: tuple[list[float], list[float], list[float]], period: int
) -> None:
    high, low, close = bars
    adx_batch, plus_batch, minus_batch = adx(high, low, close, period)
    atr_batch = atr(high, low, close, period)
    rsi_batch = rsi(close, period)
    adx_live, atr_live, rsi_live = ADX(period), ATR(period), RSI(period)
    for index, (bar_high, bar_low, bar_close) in enumerate(zip(high, low, close, strict=True)):
        value = adx_live.update(bar_high, bar_low, bar_close)
        assert _close(None if value is None else value.adx, adx_batch[index])
        assert _close(adx_live.plus_di, plus_batch[index])
        assert _close(adx_live.minus_di, minus_batch[index])
        assert _close(atr_live.update(bar_high, bar_low, bar_close), atr_batch[index])
        assert _close(rsi_live.update(bar_close), rsi_batch[index])


@settings(max_examples=60, deadline=None)
@given(bars=ohlc_bars(), period=st.integers(min_value=2, max_value=25))
def test_averages_and_bands_incremental_equals_batch(
    bars: tuple[list[float], list[float], list[float]], period: int
) -> None:
    _, _, close = bars
    sma_batch, ema_batch = sma(close, period), ema(close, period)
    middle, upper, lower = bollinger(close, period, 2.0)
    hv_batch = historical_volatility(close, period, 252)
    sma_live, ema_live, bands_live, hv_live = (
        SMA(period),
        EMA(period),
        BollingerBands(period),
        HistoricalVolatility(period),
    )
    for index, value in enumerate(close):
        assert _close(sma_live.update(value), sma_batch[index])
        assert _close(ema_live.update(value), ema_batch[index])
        bands = bands_live.update(value)
        assert _close(None if bands is None else bands.middle, middle[index])
        # Bands add a stdev term whose rounding is relative to the price, not to the stdev.
        if bands is not None:
            assert math.isclose(bands.upper, upper[index], rel_tol=RELATIVE)
            assert math.isclose(bands.lower, lower[index], rel_tol=RELATIVE)
        hv = hv_live.update(value)
        assert (hv is None) == math.isnan(hv_batch[index])
        if hv is not None:
            # Running sums resolve a variance to a few ulps of the squares they took in, and a square
            # root turns a residue of 1e-18 into 1e-9: compare variances (an annualised variance of
            # 1e-12 is a volatility of 0.0001 %), not volatilities, near zero.
            assert math.isclose(hv * hv, hv_batch[index] ** 2, rel_tol=1e-6, abs_tol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(min_value=1.0, max_value=1e5),
            st.integers(min_value=0, max_value=10_000),
            st.integers(min_value=0, max_value=3),
        ),
        max_size=60,
    )
)
def test_vwap_incremental_equals_batch(rows: list[tuple[float, int, int]]) -> None:
    prices = [row[0] for row in rows]
    volumes = [float(row[1]) for row in rows]
    sessions = [row[2] for row in rows]
    batch = vwap(prices, volumes, sessions)
    live = SessionVWAP()
    for index, (price, volume, session) in enumerate(zip(prices, volumes, sessions, strict=True)):
        assert math.isclose(live.update(price, volume, session), batch[index], rel_tol=RELATIVE)


def test_long_real_series_incremental_equals_batch_without_drift() -> None:
    """Three passes over nine years of daily closes: the rebased rolling sums must not drift from numpy."""
    bars = load_sample()
    close = np.tile(bars.close, 3)
    sma_live, bands_live = SMA(20), BollingerBands(20)
    middle, upper, _ = bollinger(close, 20)
    for index, value in enumerate(close):
        sma_live.update(value)
        bands = bands_live.update(value)
        if bands is not None:
            assert math.isclose(bands.upper, upper[index], rel_tol=1e-11)
            assert math.isclose(bands.middle, middle[index], rel_tol=1e-11)


def test_session_vwap_on_one_minute_sample_resets_each_day() -> None:
    bars = load_sample(NIFTY_1MIN_YAHOO)
    sessions = [text[:10] for text in bars.dates]
    typical = (bars.high + bars.low + bars.close) / 3.0
    values = vwap(typical, bars.volume, sessions)
    first_of_day = [i for i in range(len(sessions)) if i == 0 or sessions[i] != sessions[i - 1]]
    assert len(first_of_day) == 5
    for index in first_of_day:
        assert values[index] == typical[index]
    for day in set(sessions):
        members = [j for j, session in enumerate(sessions) if session == day]
        assert np.all(values[members] >= bars.low[members].min())
        assert np.all(values[members] <= bars.high[members].max())

"""Our indicators against TA-Lib on real NIFTY / BANKNIFTY daily data, with the stated warm-ups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import talib

from optbot.indicators import adx, atr, bollinger, ema, rsi, sma
from optbot.indicators.wilder import ADX_TALIB_WARMUP_BARS
from optbot.test_kit.indicators import (
    BANKNIFTY_DAILY_MERGED,
    NIFTY_15MIN,
    NIFTY_DAILY_MERGED,
    NIFTY_DAILY_NSE,
    NIFTY_DAILY_YAHOO,
    load_sample,
)

SAMPLES = [NIFTY_DAILY_MERGED, BANKNIFTY_DAILY_MERGED, NIFTY_DAILY_NSE, NIFTY_DAILY_YAHOO]
TOLERANCE = 1e-6


def _assert_agree_from(ours: np.ndarray, theirs: np.ndarray, first_index: int) -> None:
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), "warm-up (NaN) positions differ"
    difference = np.abs(ours[first_index:] - theirs[first_index:])
    assert np.nanmax(difference) < TOLERANCE


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: Path(p).stem)
@pytest.mark.parametrize("period", [5, 14, 20])
def test_rsi_ema_sma_bbands_match_talib_from_first_value(path: Path, period: int) -> None:
    bars = load_sample(path)
    _assert_agree_from(rsi(bars.close, period), talib.RSI(bars.close, period), 0)
    _assert_agree_from(ema(bars.close, period), talib.EMA(bars.close, period), 0)
    _assert_agree_from(sma(bars.close, period), talib.SMA(bars.close, period), 0)
    middle, upper, lower = bollinger(bars.close, period, 2.0)
    t_upper, t_middle, t_lower = talib.BBANDS(bars.close, period, 2.0, 2.0)
    for ours, theirs in ((middle, t_middle), (upper, t_upper), (lower, t_lower)):
        _assert_agree_from(ours, theirs, 0)


def _with_a_bar_before(values: np.ndarray, before: float) -> np.ndarray:
    return np.concatenate(([before], values))


@pytest.mark.parametrize("path", [*SAMPLES, NIFTY_15MIN], ids=lambda p: Path(p).stem)
@pytest.mark.parametrize("period", [5, 14, 20])
def test_atr_is_talib_atr_seeded_with_bar_zeros_high_minus_low(path: Path, period: int) -> None:
    """The convention checked: StockCharts/TradingView ATR = TA-Lib's ATR with bar 0's true range
    taken as its high - low. TA-Lib's ATR starts at bar 1 (bar 0 has no previous close), so it is fed
    one extra bar before bar 0 whose close is bar 0's mid-range: TA-Lib's true range for bar 0 is then
    exactly max(H0-L0, |H0-mid|, |L0-mid|) = H0-L0, and from there both run the same Wilder average.
    The two must agree from the first value, which is at index period-1 (TA-Lib: period)."""
    bars = load_sample(path)
    mid = (bars.high[0] + bars.low[0]) / 2
    theirs = talib.ATR(
        _with_a_bar_before(bars.high, mid),
        _with_a_bar_before(bars.low, mid),
        _with_a_bar_before(bars.close, mid),
        period,
    )[1:]
    _assert_agree_from(atr(bars.high, bars.low, bars.close, period), theirs, 0)


def test_atr_differs_from_plain_talib_early_and_converges() -> None:
    """Plain TA-Lib leaves bar 0 out of the seed; the difference is real at the start and decays as
    ((N-1)/N)^bars, so the claim above is not vacuous and the long-run values are the same."""
    bars = load_sample(NIFTY_DAILY_MERGED)
    ours = atr(bars.high, bars.low, bars.close, 14)
    theirs = talib.ATR(bars.high, bars.low, bars.close, 14)
    assert np.isnan(theirs[13]) and not np.isnan(ours[13])
    assert abs(ours[14] - theirs[14]) > 1e-3
    assert abs(ours[-1] - theirs[-1]) < 1e-6


@pytest.mark.parametrize("path", [*SAMPLES, NIFTY_15MIN], ids=lambda p: Path(p).stem)
def test_adx_and_di_match_talib_after_warmup(path: Path) -> None:
    bars = load_sample(path)
    ours_adx, ours_plus, ours_minus = adx(bars.high, bars.low, bars.close, 14)
    _assert_agree_from(ours_adx, talib.ADX(bars.high, bars.low, bars.close, 14), ADX_TALIB_WARMUP_BARS)
    _assert_agree_from(ours_plus, talib.PLUS_DI(bars.high, bars.low, bars.close, 14), ADX_TALIB_WARMUP_BARS)
    _assert_agree_from(ours_minus, talib.MINUS_DI(bars.high, bars.low, bars.close, 14), ADX_TALIB_WARMUP_BARS)


def test_adx_seeding_really_differs_from_talib_early() -> None:
    """TA-Lib seeds the DM/TR sums with period-1 values; Wilder with period. They must differ early,
    or our 'Wilder from the first value' claim would be untested."""
    bars = load_sample(NIFTY_DAILY_MERGED)
    ours = adx(bars.high, bars.low, bars.close, 14)[0]
    theirs = talib.ADX(bars.high, bars.low, bars.close, 14)
    assert abs(ours[27] - theirs[27]) > 1e-3


def test_first_value_positions() -> None:
    bars = load_sample(NIFTY_DAILY_MERGED)
    first = lambda values: int(np.flatnonzero(~np.isnan(values))[0])  # noqa: E731
    adx_values, plus_di, _ = adx(bars.high, bars.low, bars.close, 14)
    assert first(adx_values) == 27
    assert first(plus_di) == 14
    assert first(atr(bars.high, bars.low, bars.close, 14)) == 13
    assert first(rsi(bars.close, 14)) == 14
    assert first(ema(bars.close, 10)) == 9

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
def test_atr_rsi_ema_sma_bbands_match_talib_from_first_value(path: Path, period: int) -> None:
    bars = load_sample(path)
    _assert_agree_from(
        atr(bars.high, bars.low, bars.close, period), talib.ATR(bars.high, bars.low, bars.close, period), 0
    )
    _assert_agree_from(rsi(bars.close, period), talib.RSI(bars.close, period), 0)
    _assert_agree_from(ema(bars.close, period), talib.EMA(bars.close, period), 0)
    _assert_agree_from(sma(bars.close, period), talib.SMA(bars.close, period), 0)
    middle, upper, lower = bollinger(bars.close, period, 2.0)
    t_upper, t_middle, t_lower = talib.BBANDS(bars.close, period, 2.0, 2.0)
    for ours, theirs in ((middle, t_middle), (upper, t_upper), (lower, t_lower)):
        _assert_agree_from(ours, theirs, 0)


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
    assert first(atr(bars.high, bars.low, bars.close, 14)) == 14
    assert first(rsi(bars.close, 14)) == 14
    assert first(ema(bars.close, 10)) == 9

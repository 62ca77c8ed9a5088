"""Batch (numpy) twins of the incremental indicators: whole arrays in, arrays out, NaN during warm-up.

Written independently of the incremental classes (vectorised where the maths allows, a tight loop
where it is recursive) so tests comparing the two really check something; they agree to within
floating-point rounding (1e-9 relative) at every index.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from optbot.indicators.base import require_period

FloatArray = npt.NDArray[np.float64]
ArrayLike = Sequence[float] | npt.NDArray[np.floating]


def _as_array(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"{name}[{bad}] is not a finite number ({array[bad]})")
    return array


def _as_bars(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    high_array, low_array, close_array = (
        _as_array(high, "high"),
        _as_array(low, "low"),
        _as_array(close, "close"),
    )
    if not (len(high_array) == len(low_array) == len(close_array)):
        raise ValueError(
            f"high, low and close must have the same length ({len(high_array)}, {len(low_array)}, "
            f"{len(close_array)})"
        )
    inverted = np.flatnonzero(high_array < low_array)
    if inverted.size:
        index = int(inverted[0])
        raise ValueError(f"bar {index}: high {high_array[index]} is below low {low_array[index]}")
    return high_array, low_array, close_array


def _nan(length: int) -> FloatArray:
    return np.full(length, np.nan, dtype=np.float64)


def sma(values: ArrayLike, period: int) -> FloatArray:
    require_period(period)
    array = _as_array(values, "values")
    result = _nan(len(array))
    if len(array) >= period:
        result[period - 1 :] = sliding_window_view(array, period).mean(axis=1)
    return result


def ema(values: ArrayLike, period: int) -> FloatArray:
    require_period(period)
    array = _as_array(values, "values")
    result = _nan(len(array))
    if len(array) < period:
        return result
    alpha = 2.0 / (period + 1.0)
    current = float(array[:period].mean())
    result[period - 1] = current
    for index in range(period, len(array)):
        current += alpha * (float(array[index]) - current)
        result[index] = current
    return result


def _true_ranges(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """True range for bars 1..n-1 (bar 0 has no previous close)."""
    previous_close = close[:-1]
    return np.maximum.reduce(
        [high[1:] - low[1:], np.abs(high[1:] - previous_close), np.abs(low[1:] - previous_close)]
    )


def _wilder_average(values: FloatArray, period: int) -> FloatArray:
    """Seeded by the mean of the first `period` values, then A = (A*(n-1) + x)/n. NaN before."""
    result = _nan(len(values))
    if len(values) < period:
        return result
    current = float(values[:period].mean())
    result[period - 1] = current
    for index in range(period, len(values)):
        current = (current * (period - 1) + float(values[index])) / period
        result[index] = current
    return result


def _wilder_sum(values: FloatArray, period: int) -> FloatArray:
    """Seeded by the sum of the first `period` values, then S = S - S/n + x. NaN before."""
    result = _nan(len(values))
    if len(values) < period:
        return result
    current = float(values[:period].sum())
    result[period - 1] = current
    for index in range(period, len(values)):
        current = current - current / period + float(values[index])
        result[index] = current
    return result


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's ATR seeded like StockCharts / TradingView: bar 0's true range is high - low and the
    first value, at index period-1, is the mean of the true ranges of bars 0..period-1."""
    require_period(period)
    high_array, low_array, close_array = _as_bars(high, low, close)
    if len(close_array) == 0:
        return _nan(0)
    ranges = np.concatenate(
        ([high_array[0] - low_array[0]], _true_ranges(high_array, low_array, close_array))
    )
    return _wilder_average(ranges, period)


def rsi(close: ArrayLike, period: int = 14) -> FloatArray:
    require_period(period)
    close_array = _as_array(close, "close")
    result = _nan(len(close_array))
    if len(close_array) <= period:
        return result
    changes = np.diff(close_array)
    average_gain = _wilder_average(np.where(changes > 0, changes, 0.0), period)
    average_loss = _wilder_average(np.where(changes < 0, -changes, 0.0), period)
    total = average_gain + average_loss
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(total == 0.0, 50.0, 100.0 * average_gain / total)
    result[1:] = np.where(np.isnan(average_gain), np.nan, values)
    return result


def adx(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(adx, plus_di, minus_di); +/-DI from index `period`, ADX from index 2*period-1."""
    require_period(period)
    high_array, low_array, close_array = _as_bars(high, low, close)
    length = len(close_array)
    adx_out, plus_out, minus_out = _nan(length), _nan(length), _nan(length)
    if length <= period:
        return adx_out, plus_out, minus_out
    up_move = high_array[1:] - high_array[:-1]
    down_move = low_array[:-1] - low_array[1:]
    plus_dm = np.where((up_move > down_move) & (up_move > 0), up_move, 0.0)
    minus_dm = np.where((down_move > up_move) & (down_move > 0), down_move, 0.0)
    smoothed_tr = _wilder_sum(_true_ranges(high_array, low_array, close_array), period)
    smoothed_plus = _wilder_sum(plus_dm, period)
    smoothed_minus = _wilder_sum(minus_dm, period)
    with np.errstate(invalid="ignore", divide="ignore"):
        plus_di = np.where(smoothed_tr == 0.0, 0.0, 100.0 * smoothed_plus / smoothed_tr)
        minus_di = np.where(smoothed_tr == 0.0, 0.0, 100.0 * smoothed_minus / smoothed_tr)
        di_sum = plus_di + minus_di
        dx = np.where(di_sum == 0.0, 0.0, 100.0 * np.abs(plus_di - minus_di) / di_sum)
    valid = ~np.isnan(smoothed_tr)
    plus_out[1:] = np.where(valid, plus_di, np.nan)
    minus_out[1:] = np.where(valid, minus_di, np.nan)
    dx_valid = dx[period - 1 :]
    adx_out[period:] = _wilder_average(dx_valid, period)
    return adx_out, plus_out, minus_out


def bollinger(
    close: ArrayLike, period: int = 20, stdevs: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(middle, upper, lower) with the population standard deviation."""
    require_period(period)
    if not stdevs > 0:
        raise ValueError(f"stdevs must be positive, got {stdevs}")
    close_array = _as_array(close, "close")
    middle, upper, lower = _nan(len(close_array)), _nan(len(close_array)), _nan(len(close_array))
    if len(close_array) >= period:
        windows = sliding_window_view(close_array, period)
        mean = windows.mean(axis=1)
        deviation = stdevs * windows.std(axis=1, ddof=0)
        middle[period - 1 :] = mean
        upper[period - 1 :] = mean + deviation
        lower[period - 1 :] = mean - deviation
    return middle, upper, lower


def historical_volatility(close: ArrayLike, period: int = 20, annualisation: float = 252) -> FloatArray:
    require_period(period, minimum=2)
    if not annualisation > 0:
        raise ValueError(f"annualisation must be positive, got {annualisation}")
    close_array = _as_array(close, "close")
    if np.any(close_array <= 0):
        raise ValueError("close must be positive for log returns")
    result = _nan(len(close_array))
    if len(close_array) > period:
        returns = np.diff(np.log(close_array))
        result[period:] = sliding_window_view(returns, period).std(axis=1, ddof=1) * np.sqrt(annualisation)
    return result


def vwap(prices: ArrayLike, volumes: ArrayLike, session_keys: Sequence[Hashable]) -> FloatArray:
    """Session VWAP per bar; a session with no volume so far uses equal weights (see SessionVWAP)."""
    price_array = _as_array(prices, "prices")
    volume_array = _as_array(volumes, "volumes")
    if len(price_array) != len(volume_array) or len(price_array) != len(session_keys):
        raise ValueError("prices, volumes and session_keys must have the same length")
    if np.any(volume_array < 0):
        raise ValueError("volumes must not be negative")
    result = _nan(len(price_array))
    starts = [0] + [i for i in range(1, len(session_keys)) if session_keys[i] != session_keys[i - 1]]
    bounds = [*starts, len(price_array)]
    for start, end in itertools.pairwise(bounds):
        price_slice, volume_slice = price_array[start:end], volume_array[start:end]
        cumulative_volume = np.cumsum(volume_slice)
        cumulative_weighted = np.cumsum(price_slice * volume_slice)
        cumulative_mean = np.cumsum(price_slice) / np.arange(1, end - start + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            result[start:end] = np.where(
                cumulative_volume > 0, cumulative_weighted / cumulative_volume, cumulative_mean
            )
    return result

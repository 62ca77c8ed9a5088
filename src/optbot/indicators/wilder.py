"""J. Welles Wilder's indicators (1978): ATR, RSI and the directional movement system (ADX, +DI, -DI).

Every one follows Wilder's own construction from the first value: a move needs the previous bar, so
for RSI and the directional movement bar 0 only primes the state; the first smoothed value is the
simple sum (DM/TR) or average (ATR, RSI gains/losses, ADX) of the first `period` values; after that
Wilder smoothing `S = S - S / period + x` (sums) or `A = (A * (period - 1) + x) / period` (averages).
ATR is seeded the way StockCharts and TradingView (`ta.atr`) do, which traders compare against: bar 0
has no previous close, so its true range is its high - low, and the first ATR is the mean of the true
ranges of bars 0..N-1.

First values, for period N (0-based bar index): ATR at N-1, RSI at N, +DI/-DI at N, ADX at 2N-1.
TA-Lib agreement (tests/indicators/test_talib_agreement.py, NIFTY 50 daily sample): RSI matches TA-Lib
from its first value. TA-Lib's ATR leaves bar 0 out (first value at N, mean of the true ranges of bars
1..N); ours equals TA-Lib's on the same bars preceded by one bar whose close lies inside bar 0's range.
TA-Lib seeds the DM/TR sums of +DI/-DI/ADX with N-1 values instead of N, so those agree within 1e-6
only after a warm-up (see `ADX_TALIB_WARMUP_BARS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from optbot.core.slots import slot_init
from optbot.indicators.base import require_bar, require_finite, require_period

#: Bars after which our ADX/+DI/-DI and TA-Lib's agree within 1e-6 (period 14). Measured on the samples:
#: the last bar differing by more than 1e-6 is 254 (daily NIFTY/BANKNIFTY) and 264 (NIFTY 15-minute);
#: the seeding difference decays as (13/14)^bars, so 300 leaves a margin.
ADX_TALIB_WARMUP_BARS = 300


def true_range(high: float, low: float, previous_close: float) -> float:
    """Wilder's true range: the bar's range extended to the previous close (gaps count)."""
    return max(high - low, abs(high - previous_close), abs(low - previous_close))


def directional_movement(
    high: float, low: float, previous_high: float, previous_low: float
) -> tuple[float, float]:
    """(+DM, -DM): only the larger outward move counts, and only if it is positive."""
    up_move = high - previous_high
    down_move = previous_low - low
    plus_dm = up_move if up_move > down_move and up_move > 0.0 else 0.0
    minus_dm = down_move if down_move > up_move and down_move > 0.0 else 0.0
    return plus_dm, minus_dm


class ATR:
    """Average true range; first value at bar `period - 1` = mean of the first `period` true ranges,
    bar 0's being its high - low (StockCharts / TradingView seeding)."""

    __slots__ = ("_count", "_previous_close", "_seed_sum", "_value", "period")

    def __init__(self, period: int = 14) -> None:
        self.period = require_period(period)
        self.reset()

    def reset(self) -> None:
        self._previous_close: float | None = None
        self._seed_sum = 0.0
        self._count = 0
        self._value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        high, low, close = require_bar(high, low, close)
        previous_close = self._previous_close
        self._previous_close = close
        current = high - low if previous_close is None else true_range(high, low, previous_close)
        if self._value is None:
            self._seed_sum += current
            self._count += 1
            if self._count == self.period:
                self._value = self._seed_sum / self.period
            return self._value
        self._value = (self._value * (self.period - 1) + current) / self.period
        return self._value

    @property
    def value(self) -> float | None:
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None


def rsi_from_averages(average_gain: float, average_loss: float) -> float:
    """RSI = 100 - 100 / (1 + RS), written so a zero loss gives 100 and a flat market gives 50."""
    total = average_gain + average_loss
    if total == 0.0:
        return 50.0
    return 100.0 * average_gain / total


class RSI:
    """Wilder's relative strength index; first value at bar `period`."""

    __slots__ = ("_average_gain", "_average_loss", "_count", "_previous_close", "_value", "period")

    def __init__(self, period: int = 14) -> None:
        self.period = require_period(period)
        self.reset()

    def reset(self) -> None:
        self._previous_close: float | None = None
        self._average_gain = 0.0
        self._average_loss = 0.0
        self._count = 0
        self._value: float | None = None

    def update(self, close: float) -> float | None:
        close = require_finite(close, "close")
        previous_close = self._previous_close
        self._previous_close = close
        if previous_close is None:
            return None
        change = close - previous_close
        gain = change if change > 0.0 else 0.0
        loss = -change if change < 0.0 else 0.0
        if self._count < self.period:
            self._average_gain += gain
            self._average_loss += loss
            self._count += 1
            if self._count < self.period:
                return None
            self._average_gain /= self.period
            self._average_loss /= self.period
        else:
            self._average_gain = (self._average_gain * (self.period - 1) + gain) / self.period
            self._average_loss = (self._average_loss * (self.period - 1) + loss) / self.period
        self._value = rsi_from_averages(self._average_gain, self._average_loss)
        return self._value

    @property
    def value(self) -> float | None:
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None


@slot_init  # one per bar of every strategy that reads ADX: the constructor without object.__setattr__
@dataclass(frozen=True, slots=True)
class ADXValue:
    adx: float
    plus_di: float
    minus_di: float


def directional_indices(
    smoothed_plus_dm: float, smoothed_minus_dm: float, smoothed_tr: float
) -> tuple[float, float, float]:
    """(+DI, -DI, DX). A zero range (no movement at all) gives zeros rather than a division error."""
    if smoothed_tr == 0.0:
        return 0.0, 0.0, 0.0
    plus_di = 100.0 * smoothed_plus_dm / smoothed_tr
    minus_di = 100.0 * smoothed_minus_dm / smoothed_tr
    di_sum = plus_di + minus_di
    dx = 0.0 if di_sum == 0.0 else 100.0 * abs(plus_di - minus_di) / di_sum
    return plus_di, minus_di, dx


class ADX:
    """Average directional index with +DI and -DI.

    `update` returns an `ADXValue` from bar 2*period-1; `plus_di`/`minus_di` are available from bar `period`.
    """

    __slots__ = (
        "_adx",
        "_dx_count",
        "_dx_sum",
        "_minus_di",
        "_plus_di",
        "_previous",
        "_seed_count",
        "_smoothed_minus_dm",
        "_smoothed_plus_dm",
        "_smoothed_tr",
        "period",
    )

    def __init__(self, period: int = 14) -> None:
        self.period = require_period(period)
        self.reset()

    def reset(self) -> None:
        self._previous: tuple[float, float, float] | None = None
        self._smoothed_tr = 0.0
        self._smoothed_plus_dm = 0.0
        self._smoothed_minus_dm = 0.0
        self._seed_count = 0
        self._dx_sum = 0.0
        self._dx_count = 0
        self._plus_di: float | None = None
        self._minus_di: float | None = None
        self._adx: float | None = None

    def update(self, high: float, low: float, close: float) -> ADXValue | None:
        """One bar. A strategy updates it on every bar, so the state is read into locals once and the
        true range, the directional movement and the indices are computed inline: the same arithmetic,
        in the same order, as `true_range`, `directional_movement` and `directional_indices`
        (tests/indicators compare the two bar by bar)."""
        high, low, close = require_bar(high, low, close)
        previous = self._previous
        self._previous = (high, low, close)
        if previous is None:
            return None
        previous_high, previous_low, previous_close = previous
        period = self.period
        # true_range(high, low, previous_close)
        current_tr = high - low
        gap = high - previous_close
        if gap < 0.0:
            gap = -gap
        if gap > current_tr:
            current_tr = gap
        gap = low - previous_close
        if gap < 0.0:
            gap = -gap
        if gap > current_tr:
            current_tr = gap
        # directional_movement(high, low, previous_high, previous_low)
        up_move = high - previous_high
        down_move = previous_low - low
        plus_dm = up_move if up_move > down_move and up_move > 0.0 else 0.0
        minus_dm = down_move if down_move > up_move and down_move > 0.0 else 0.0
        if self._seed_count < period:
            smoothed_tr = self._smoothed_tr + current_tr
            smoothed_plus_dm = self._smoothed_plus_dm + plus_dm
            smoothed_minus_dm = self._smoothed_minus_dm + minus_dm
            self._seed_count += 1
            self._smoothed_tr, self._smoothed_plus_dm, self._smoothed_minus_dm = (
                smoothed_tr,
                smoothed_plus_dm,
                smoothed_minus_dm,
            )
            if self._seed_count < period:
                return None
        else:
            smoothed_tr = self._smoothed_tr
            smoothed_tr = smoothed_tr - smoothed_tr / period + current_tr
            smoothed_plus_dm = self._smoothed_plus_dm
            smoothed_plus_dm = smoothed_plus_dm - smoothed_plus_dm / period + plus_dm
            smoothed_minus_dm = self._smoothed_minus_dm
            smoothed_minus_dm = smoothed_minus_dm - smoothed_minus_dm / period + minus_dm
            self._smoothed_tr, self._smoothed_plus_dm, self._smoothed_minus_dm = (
                smoothed_tr,
                smoothed_plus_dm,
                smoothed_minus_dm,
            )
        # directional_indices(smoothed_plus_dm, smoothed_minus_dm, smoothed_tr)
        if smoothed_tr == 0.0:
            plus_di = minus_di = dx = 0.0
        else:
            plus_di = 100.0 * smoothed_plus_dm / smoothed_tr
            minus_di = 100.0 * smoothed_minus_dm / smoothed_tr
            di_sum = plus_di + minus_di
            if di_sum == 0.0:
                dx = 0.0
            else:
                spread = plus_di - minus_di
                dx = 100.0 * (spread if spread >= 0.0 else -spread) / di_sum
        self._plus_di = plus_di
        self._minus_di = minus_di
        adx = self._adx
        if adx is None:
            self._dx_sum += dx
            self._dx_count += 1
            if self._dx_count < period:
                return None
            adx = self._dx_sum / period
        else:
            adx = (adx * (period - 1) + dx) / period
        self._adx = adx
        return ADXValue(adx, plus_di, minus_di)

    @property
    def value(self) -> ADXValue | None:
        if self._adx is None or self._plus_di is None or self._minus_di is None:
            return None
        return ADXValue(self._adx, self._plus_di, self._minus_di)

    @property
    def ready(self) -> bool:
        return self._adx is not None

    @property
    def plus_di(self) -> float | None:
        return self._plus_di

    @property
    def minus_di(self) -> float | None:
        return self._minus_di

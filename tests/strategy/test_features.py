from __future__ import annotations

from datetime import timedelta

import pytest

from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.indicators import RSI, rsi
from optbot.strategy import BarHistoryContext
from optbot.strategy.features import adx_value, atr_value, ema_value, rsi_value, sma_value
from optbot.strategy.series import closes
from tests.strategy.builders import daily_series

BARS = daily_series([100 + 5 * ((i * 7) % 11) / 11 + i * 0.3 for i in range(80)])


def context_at(count: int) -> BarHistoryContext:
    clock = SimClock(BARS[count - 1].end_utc)
    ctx = BarHistoryContext(clock)
    for bar in BARS[:count]:
        ctx.add_bar(bar)
    return ctx


def test_features_match_indicators_on_closed_bars() -> None:
    ctx = context_at(80)
    expected = rsi(closes(BARS[-42:]), 14)[-1]
    assert rsi_value(ctx, "X", Timeframe.D1, 14) == pytest.approx(expected)
    incremental = RSI(14)
    for bar in BARS[-42:]:
        last = incremental.update(bar.close)
    assert rsi_value(ctx, "X", Timeframe.D1, 14) == pytest.approx(last)
    value = adx_value(ctx, "X", Timeframe.D1, 14)
    assert value is not None and 0 <= value.adx <= 100
    assert atr_value(ctx, "X", Timeframe.D1, 14) > 0
    assert ema_value(ctx, "X", Timeframe.D1, 9) is not None
    assert sma_value(ctx, "X", Timeframe.D1, 5) == pytest.approx(sum(b.close for b in BARS[-5:]) / 5)


def test_features_cannot_see_an_unclosed_bar() -> None:
    ctx = context_at(79)
    before = sma_value(ctx, "X", Timeframe.D1, 5)
    ctx.clock.advance_to(BARS[79].end_utc - timedelta(seconds=1))  # type: ignore[attr-defined]
    assert sma_value(ctx, "X", Timeframe.D1, 5) == before
    assert rsi_value(ctx, "NONE", Timeframe.D1, 14) is None

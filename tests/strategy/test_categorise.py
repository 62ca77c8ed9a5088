from __future__ import annotations

import math
from datetime import date

from optbot.config import Settings
from optbot.core.timeutil import ist_date
from optbot.research.harness import load_daily_bars
from optbot.strategy import Category, categorise, rebalance
from tests.strategy.builders import daily_series

PARAMS = Settings().strategy


def test_uptrend_is_category_one() -> None:
    bars = daily_series([100 * 1.01**i for i in range(150)])
    result = categorise("UP", bars, PARAMS)
    assert result.category is Category.BUY_CE
    assert result.adx is not None and result.adx > 25 and result.plus_di > result.minus_di
    assert "volume criterion skipped" in result.reason


def test_downtrend_is_category_two() -> None:
    result = categorise("DOWN", daily_series([100 * 0.99**i for i in range(150)]), PARAMS)
    assert result.category is Category.BUY_PE


def test_sideways_is_category_three_with_reason() -> None:
    closes = [100 + 2 * math.sin(i / 2) for i in range(150)]
    result = categorise("FLAT", daily_series(closes), PARAMS)
    assert result.category is Category.NO_TRADE
    assert "ADX" in result.reason


def test_insufficient_history_declines() -> None:
    result = categorise("NEW", daily_series([100 + i for i in range(40)]), PARAMS)
    assert result.category is Category.NO_TRADE and result.adx is None
    assert "insufficient history: 40 daily bars < 100" in result.reason


def test_low_volume_blocks_a_trend() -> None:
    closes = [100 * 1.01**i for i in range(150)]
    volumes = [1000] * 149 + [500]
    result = categorise("UP", daily_series(closes, volumes=volumes), PARAMS)
    assert result.category is Category.NO_TRADE and "low volume" in result.reason
    volumes[-1] = 1500
    assert categorise("UP", daily_series(closes, volumes=volumes), PARAMS).category is Category.BUY_CE


def test_real_nifty_covid_crash_is_bearish(sample_data) -> None:
    daily = load_daily_bars(sample_data / "daily/nifty50_daily_merged_2016-09-15_to_2025-09-10.csv", "NIFTY")
    history = [bar for bar in daily if ist_date(bar.start_utc) <= date(2020, 3, 20)]
    result = categorise("NIFTY", history, PARAMS)
    assert result.category is Category.BUY_PE, result.reason
    assert result.as_of == "2020-03-20"


def test_rebalance_moves_and_removes() -> None:
    up = categorise("A", daily_series([100 * 1.01**i for i in range(150)]), PARAMS)
    down = categorise("B", daily_series([100 * 0.99**i for i in range(150)]), PARAMS)
    flat = categorise("C", daily_series([100 + ((i * 7919) % 13 - 6) * 0.3 for i in range(150)]), PARAMS)
    result = rebalance([up, down, flat], {"A": Category.BUY_PE, "C": Category.BUY_CE})
    assert result.ce_pool == ("A",) and result.pe_pool == ("B",)
    assert result.removed == ("C",) and result.moved == ("A",)
    assert len(result.describe()) == 3

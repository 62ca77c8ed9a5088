from __future__ import annotations

from optbot.config import Settings
from optbot.strategy.performance import PerformanceBook
from optbot.strategy.regime import Regime, detect_regime, gap_percent
from optbot.strategy.selector import select_strategy
from tests.strategy.builders import daily_series

PARAMS = Settings().strategy
TRENDING = daily_series([100 * 1.01**i for i in range(150)])
RANGING = daily_series([100 + ((i * 7919) % 13 - 6) * 0.3 for i in range(150)])


def test_gap_percent_matches_spec_formula() -> None:
    assert gap_percent(100.0, 103.0) == 3.0


def test_regimes_and_matrix() -> None:
    cases = [
        (TRENDING, 28.0, None, Regime.TRENDING, "momentum"),
        (TRENDING, 13.0, None, Regime.TRENDING, "trend_following"),
        (RANGING, 28.0, None, Regime.RANGING, "volatility"),
        (RANGING, 13.0, None, Regime.RANGING, "mean_reversion"),
        (RANGING, 13.0, RANGING[-1].close * 1.03, Regime.GAP, "gap_fill"),
    ]
    for bars, vix, today_open, expected_regime, expected_strategy in cases:
        regime = detect_regime(bars, vix, PARAMS, today_open)
        assert expected_regime in regime.regimes
        selection = select_strategy(regime)
        assert selection.strategy == expected_strategy, selection.reason


def test_poor_performer_is_rotated_out() -> None:
    book = PerformanceBook(PARAMS, 1_000_000)
    for _ in range(PARAMS.rotation_min_trades):
        book.record("trend_following", -1000.0, 20_000.0)
    selection = select_strategy(detect_regime(TRENDING, 13.0, PARAMS), book)
    assert selection.strategy is None and "rotated out: win rate 0%" in selection.reason
    summary = book.summary("trend_following")
    assert summary.trades == 10 and summary.win_rate == 0 and summary.max_drawdown_pct > 0
    assert "10 trades" in summary.describe()


def test_no_history_is_undetermined() -> None:
    regime = detect_regime([], None, PARAMS)
    assert regime.regimes == frozenset({Regime.UNDETERMINED})
    assert select_strategy(regime).strategy is None


def test_high_vix_moves_timeframes_one_step_lower() -> None:
    from optbot.core.enums import Timeframe
    from optbot.strategy.mtf import entry_timeframe, trend_timeframes

    assert entry_timeframe(PARAMS, 20.0, 25.0) is Timeframe.M5
    assert entry_timeframe(PARAMS, 26.0, 25.0) is Timeframe.M1
    assert trend_timeframes(PARAMS, 26.0, 25.0) == [Timeframe.H1, Timeframe.M15, Timeframe.M5]
    assert trend_timeframes(PARAMS, None, 25.0) == [Timeframe.D1, Timeframe.H1, Timeframe.M15]
    off = PARAMS.model_copy(update={"switch_timeframes_in_high_vix": False})
    assert entry_timeframe(off, 40.0, 25.0) is Timeframe.M5

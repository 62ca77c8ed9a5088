"""Performance metrics: hand-computed values, brute-force references and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from optbot.analytics.performance import (
    annualised_return,
    average_trade,
    calmar,
    exposure,
    max_drawdown,
    performance_report,
    profit_factor,
    returns_from_equity,
    sharpe,
    sortino,
    total_return,
    value_at_risk,
    volatility,
    win_rate,
)
from optbot.test_kit.indicators import load_sample


def test_hand_values() -> None:
    equity = [100.0, 110.0, 99.0, 120.0, 108.0]
    assert total_return(equity) == pytest.approx(0.08)
    drawdown = max_drawdown(equity)
    assert drawdown.max_drawdown == pytest.approx(0.10)
    assert (drawdown.peak_index, drawdown.trough_index, drawdown.recovery_index) == (1, 2, 3)
    assert drawdown.duration_periods == 2
    assert annualised_return([100.0, 121.0, 146.41], periods_per_year=2) == pytest.approx(0.4641)
    assert annualised_return([100.0, 110.0, 121.0], periods_per_year=1) == pytest.approx(0.10)


def test_drawdown_without_recovery_runs_to_the_end() -> None:
    drawdown = max_drawdown([100.0, 90.0, 95.0, 80.0, 85.0])
    assert drawdown.max_drawdown == pytest.approx(0.2)
    assert drawdown.recovery_index is None
    assert drawdown.duration_periods == 4 and drawdown.longest_underwater_periods == 4
    flat = max_drawdown([100.0, 101.0, 102.0])
    assert flat.max_drawdown == 0.0 and flat.duration_periods == 0
    assert calmar([100.0, 101.0, 102.0]) is None


@given(st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=2, max_size=40))
def test_max_drawdown_equals_brute_force(equity: list[float]) -> None:
    expected = max(
        (1 - equity[j] / equity[i] for i in range(len(equity)) for j in range(i, len(equity))), default=0.0
    )
    result = max_drawdown(equity)
    assert result.max_drawdown == pytest.approx(max(expected, 0.0), abs=1e-12)
    assert 0.0 <= result.max_drawdown < 1.0
    assert result.peak_index <= result.trough_index


def test_sharpe_sortino_volatility_against_direct_formulas() -> None:
    bars = load_sample()
    returns = returns_from_equity(bars.close)
    mean, deviation = returns.mean(), returns.std(ddof=1)
    assert sharpe(returns) == pytest.approx(mean / deviation * math.sqrt(252))
    assert volatility(returns) == pytest.approx(deviation * math.sqrt(252))
    downside = math.sqrt(np.mean(np.minimum(returns, 0) ** 2))
    assert sortino(returns) == pytest.approx(mean / downside * math.sqrt(252))
    # NIFTY 2016-2025: annual volatility in the mid teens, Sharpe positive but below 1.5.
    assert 0.10 < (volatility(returns) or 0) < 0.25
    assert 0 < (sharpe(returns) or 0) < 1.5
    rf = 0.065
    assert sharpe(returns, rf) == pytest.approx((mean - rf / 252) / deviation * math.sqrt(252))


def test_undefined_ratios_are_none() -> None:
    assert sharpe([0.01, 0.01, 0.01]) is None
    assert sortino([0.01, 0.02]) is None
    assert sharpe([0.01]) is None
    assert win_rate([]) is None and profit_factor([]) is None and average_trade([]) is None


def test_trade_statistics() -> None:
    pnls = [100.0, -50.0, 0.0, 250.0, -100.0]
    assert win_rate(pnls) == pytest.approx(0.4)
    assert profit_factor(pnls) == pytest.approx(350 / 150)
    assert average_trade(pnls) == pytest.approx(40.0)
    assert profit_factor([10.0, 5.0]) == math.inf
    assert exposure([True, False, True, True]) == pytest.approx(0.75)


def test_value_at_risk_historical_and_parametric() -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0005, 0.01, 20_000)
    parametric = value_at_risk(returns, 0.99, "parametric")
    historical = value_at_risk(returns, 0.99, "historical")
    expected = -(0.0005 + norm.ppf(0.01) * 0.01)
    assert parametric == pytest.approx(expected, rel=0.02)
    assert historical == pytest.approx(expected, rel=0.05)
    assert value_at_risk([-0.05, -0.01, 0.0, 0.01, 0.02], 0.8) == pytest.approx(0.018)
    flat = value_at_risk([0.0, 0.0, 0.0], 0.95)  # a flat run loses nothing: 0.0, not -0.0
    assert flat == 0.0 and math.copysign(1.0, flat) == 1.0
    with pytest.raises(ValueError, match="confidence"):
        value_at_risk(returns, 1.5)
    with pytest.raises(ValueError, match="method"):
        value_at_risk(returns, 0.95, "monte-carlo")  # type: ignore[arg-type]


def test_bad_equity_is_refused_with_position() -> None:
    with pytest.raises(ValueError, match="positive"):
        total_return([100.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        max_drawdown([100.0, float("nan")])
    with pytest.raises(ValueError, match="at least 2"):
        total_return([100.0])


def test_report_collects_everything() -> None:
    report = performance_report([100.0, 102.0, 101.0, 105.0], [2.0, -1.0, 4.0], [True, True, False, True])
    assert report.trades == 3
    assert report.win_rate == pytest.approx(2 / 3)
    assert report.exposure == pytest.approx(0.75)
    assert report.drawdown.max_drawdown == pytest.approx(1 / 102)
    assert report.value_at_risk_historical is not None

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.research.montecarlo import (
    Method,
    MonteCarloSettings,
    TradeSample,
    run_monte_carlo,
    sample_from_backtest,
)

PNLS = (1200.0, -800.0, -450.0, 2300.0, -900.0, -300.0, 1500.0, -1200.0, 700.0, 400.0)


def _sample(pnls=PNLS, capital: float = 500_000.0) -> TradeSample:
    equity = [capital, *(capital + np.cumsum(pnls))]
    return sample_from_backtest(pnls, [40.0] * len(pnls), [20_000.0] * len(pnls), equity, capital)


def _naive_streak(values) -> int:
    best = run = 0
    for value in values:
        run = run + 1 if value < 0 else 0
        best = max(best, run)
    return best


def _naive_drawdown(values, capital) -> float:
    equity, peak, worst = capital, capital, 0.0
    for value in values:
        equity += value
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def test_reshuffle_keeps_the_final_pnl_and_moves_only_the_path() -> None:
    result = run_monte_carlo(_sample(), Method.RESHUFFLE, MonteCarloSettings(paths=500))
    assert (
        result.final_pnl.low == result.final_pnl.high == result.final_pnl.actual == pytest.approx(sum(PNLS))
    )
    assert result.max_drawdown.actual == pytest.approx(_naive_drawdown(PNLS, 500_000.0))
    assert result.max_drawdown.best <= result.max_drawdown.actual <= result.max_drawdown.worst
    assert result.max_drawdown.worst > result.max_drawdown.best  # orders differ in drawdown
    assert result.longest_losing_streak.actual == _naive_streak(PNLS)
    assert result.fan["p50"][0] == 500_000.0 and len(result.fan["p5"]) == len(PNLS) + 1


def test_drawdown_percent_keeps_its_precision() -> None:
    # on ₹5 lakh these paths fall well under 1 %: 2 decimals of a fraction would report 0 % or 1 %
    result = run_monte_carlo(_sample(), Method.RESHUFFLE, MonteCarloSettings(paths=200))
    actual = _naive_drawdown(PNLS, 500_000.0) / (500_000.0 + 1200.0)
    assert result.max_drawdown_pct.actual == pytest.approx(actual, abs=1e-6)
    assert 0 < result.max_drawdown_pct.median < 0.01


def test_same_seed_same_result_and_another_seed_differs() -> None:
    sample = _sample()
    first = run_monte_carlo(sample, Method.PERTURB, MonteCarloSettings(paths=200, seed=7))
    again = run_monte_carlo(sample, Method.PERTURB, MonteCarloSettings(paths=200, seed=7))
    other = run_monte_carlo(sample, Method.PERTURB, MonteCarloSettings(paths=200, seed=8))
    assert first == again
    assert first != other


def test_perturb_without_perturbation_equals_reshuffle() -> None:
    neutral = MonteCarloSettings(paths=300, slippage_bps=0.0, charges_perturbation=0.0, fill_probability=1.0)
    perturbed = run_monte_carlo(_sample(), Method.PERTURB, neutral)
    reshuffled = run_monte_carlo(_sample(), Method.RESHUFFLE, neutral)
    assert perturbed.max_drawdown == reshuffled.max_drawdown
    assert perturbed.final_pnl == reshuffled.final_pnl


def test_perturbation_only_costs_money() -> None:
    result = run_monte_carlo(
        _sample(),
        Method.PERTURB,
        MonteCarloSettings(paths=400, fill_probability=1.0, charges_perturbation=0.0),
    )
    assert result.final_pnl.best <= sum(PNLS) + 1e-6
    assert result.final_pnl.mean < sum(PNLS)
    # mean extra slippage is half the maximum: 2.5 bps of 20,000 = 5 rupees a trade
    assert result.final_pnl.mean == pytest.approx(sum(PNLS) - 10 * 5.0, abs=3.0)


def test_bootstrap_with_one_block_of_the_whole_history_is_a_rotation() -> None:
    sample = _sample()
    days = len(sample.daily_pnl)
    result = run_monte_carlo(sample, Method.BOOTSTRAP, MonteCarloSettings(paths=100, block_days=days))
    assert result.final_pnl.low == pytest.approx(sum(PNLS)) and result.final_pnl.high == pytest.approx(
        sum(PNLS)
    )
    assert result.steps == days


def test_probability_of_ruin() -> None:
    losing = tuple([-20_000.0] * 10)
    ruined = run_monte_carlo(_sample(losing), Method.RESHUFFLE, MonteCarloSettings(paths=50))
    assert ruined.probability_of_ruin == 1.0 and ruined.ruin_level == 350_000.0
    safe = run_monte_carlo(_sample(), Method.RESHUFFLE, MonteCarloSettings(paths=50))
    assert safe.probability_of_ruin == 0.0


def test_bad_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="one value per trade"):
        TradeSample((1.0,), (), (1.0,), (), 1.0)
    with pytest.raises(ValueError, match="finite"):
        TradeSample((float("nan"),), (0.0,), (1.0,), (), 1.0)
    with pytest.raises(ValueError, match="positive"):
        TradeSample((), (), (), (), 0.0)


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(
    st.lists(st.floats(-5_000, 5_000, allow_nan=False).map(lambda v: round(v, 2)), min_size=1, max_size=40)
)
def test_streak_and_drawdown_match_a_plain_loop(pnls) -> None:
    result = run_monte_carlo(_sample(tuple(pnls)), Method.RESHUFFLE, MonteCarloSettings(paths=5))
    assert result.longest_losing_streak.actual == _naive_streak(pnls)
    assert result.max_drawdown.actual == pytest.approx(_naive_drawdown(pnls, 500_000.0), abs=0.01)

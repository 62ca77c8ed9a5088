from __future__ import annotations

import math

import pytest

from optbot.core.errors import UserError
from optbot.research.objectives import Constraints, Objective, metrics_from_equity


def _metrics():
    return metrics_from_equity([500_000, 510_000, 495_000, 520_000], [10_000, -15_000, 25_000], charges=300.0)


def test_metrics_of_a_small_backtest() -> None:
    metrics = _metrics()
    assert metrics.net_pnl == 20_000 and metrics.trades == 3
    assert metrics.max_drawdown_rupees == 15_000
    assert metrics.max_drawdown == pytest.approx(15_000 / 510_000)
    assert metrics.profit_factor == pytest.approx(35_000 / 15_000)


def test_named_and_expression_objectives() -> None:
    metrics = _metrics()
    assert Objective("net_pnl").value(metrics) == 20_000
    assert Objective("net_pnl / max(max_drawdown_rupees, 1000)").value(metrics) == pytest.approx(
        20_000 / 15_000
    )
    assert Objective("sharpe * (trades >= 5)").value(metrics) == 0.0
    assert Objective("-abs(net_pnl - 1000)").value(metrics) == -19_000


def test_undefined_metrics_and_maths_errors_are_minus_infinity() -> None:
    flat = metrics_from_equity([500_000, 500_000], [], charges=0.0)
    assert Objective("profit_factor").value(flat) == -math.inf
    assert Objective("net_pnl / 0").value(flat) == -math.inf


@pytest.mark.parametrize(
    "text", ["__import__('os')", "net_pnl.real", "open('x')", "foo + 1", "", "net_pnl +"]
)
def test_anything_but_metric_arithmetic_is_refused(text: str) -> None:
    with pytest.raises(UserError):
        Objective(text)


def test_constraints() -> None:
    metrics = _metrics()
    assert Constraints(min_trades=3, max_drawdown=0.05).violations(metrics) == []
    assert len(Constraints(min_trades=4, max_drawdown=0.01).violations(metrics)) == 2


def test_a_wiped_out_account_has_metrics_without_ratios() -> None:
    metrics = metrics_from_equity([100_000, 40_000, -20_000], [-60_000, -60_000], charges=0.0)
    assert metrics.net_pnl == -120_000 and metrics.max_drawdown == 1.0 and metrics.sharpe is None
    assert Objective("net_pnl").value(metrics) == -120_000

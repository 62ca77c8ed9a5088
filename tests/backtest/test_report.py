"""Backtest report: deterministic bytes, metrics present, synthetic prices labelled; bar quotes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from optbot.backtest.report import BacktestResult, TradeRecord, build_report, write_backtest_report


def result() -> BacktestResult:
    equity = [
        (f"2025-09-0{day}T10:00:00Z", 500_000 + step)
        for day, step in ((4, 0), (5, 1200.5), (8, -300), (9, 2500))
    ]
    trades = [
        TradeRecord(
            "NIFTY09SEP2524800CE",
            "BUY",
            75,
            "2025-09-05T04:00Z",
            100.0,
            "2025-09-05T05:00Z",
            116.0,
            45.3,
            1154.7,
            True,
        ),
        TradeRecord(
            "NIFTY09SEP2524800CE",
            "BUY",
            75,
            "2025-09-08T04:00Z",
            100.0,
            "2025-09-08T05:00Z",
            80.0,
            40.0,
            -1540.0,
            True,
        ),
    ]
    return BacktestResult(
        "adx_trend", "2025-09-04", "2025-09-09", 500_000.0, equity, trades, [False, True, True, False]
    )


def test_same_result_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_backtest_report(result(), tmp_path / "a")
    second = write_backtest_report(result(), tmp_path / "b")
    assert first.json_path.read_bytes() == second.json_path.read_bytes()
    assert first.html_path.read_bytes() == second.html_path.read_bytes()
    html = first.html_path.read_text()
    assert (
        "<svg" in html and "synthetic" in html and "http" not in html.split("<body", 1)[-1].split("xmlns")[0]
    )


def test_metrics_cover_section_11_5() -> None:
    report = build_report(result())
    for key in (
        "total_return",
        "annualised_return",
        "volatility",
        "max_drawdown",
        "sharpe",
        "sortino",
        "win_rate",
        "profit_factor",
        "average_trade",
        "exposure",
    ):
        assert key in report.metrics
    assert report.metrics["win_rate"] == pytest.approx(0.5)
    assert report.metrics["exposure"] == pytest.approx(0.5)
    assert report.metrics["net_pnl"] == pytest.approx(2500.0)
    assert report.series["drawdown"][2][1] < 0 or report.series["drawdown"][2][1] > 0
    assert orjson.dumps(report.metrics)


def test_value_at_risk_is_reported_at_the_configured_confidence() -> None:
    """spec §10.6: analytics.var_confidence sets the confidence of the report's VaR figures."""
    strict = build_report(result()).metrics
    loose = build_report(replace(result(), var_confidence=0.6)).metrics
    assert strict["var_confidence"] == 0.95 and loose["var_confidence"] == 0.6
    assert strict["value_at_risk_historical"] > loose["value_at_risk_historical"]
    assert strict["value_at_risk_parametric"] > loose["value_at_risk_parametric"]


def test_too_little_data_is_a_clear_error() -> None:
    short = BacktestResult("x", "2025-01-01", "2025-01-02", 1.0, [("2025-01-01", 1.0)], [], [False])
    with pytest.raises(ValueError, match="at least two"):
        build_report(short)

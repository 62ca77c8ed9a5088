"""Backtest result → deterministic JSON + self-contained HTML (equity, drawdown, trades, §11.5 metrics).

Determinism matters: the same inputs must give a byte-identical result file, so the report carries no
wall-clock time (the generated stamp is the simulated end time) and every number is rounded to the paisa
or to 10 significant digits before serialisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optbot.analytics.performance import TRADING_DAYS_PER_YEAR, performance_report
from optbot.ops.reports import Report, ReportFiles, equity_to_drawdown, write_report


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One closed round trip, net of charges."""

    symbol: str
    side: str
    quantity: int
    entry_time: str
    entry_price: float
    exit_time: str
    exit_price: float
    charges: float
    net_pnl: float
    synthetic_prices: bool = False
    exit_reason: str = ""  # the reason of the intent whose fill closed the trip (stop, target, time exit …)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Everything a backtest produced: equity points (ISO time, rupees), trades and exposure flags."""

    strategy: str
    start: str
    end: str
    initial_capital: float
    equity: Sequence[tuple[str, float]]
    trades: Sequence[TradeRecord]
    in_market: Sequence[bool]
    periods_per_year: float = TRADING_DAYS_PER_YEAR
    # spec §10.6: the confidence of the one-period VaR figures (analytics.var_confidence).
    var_confidence: float = 0.95
    notes: Sequence[str] = field(default_factory=tuple)
    settings: dict[str, Any] = field(default_factory=dict)
    # True when option quotes came from the simulator's pricing model (no recorded option data).
    synthetic_options: bool = False
    # Optional per-session rows (day, index source, bars, fills, equity) shown as a table.
    days: Sequence[dict[str, Any]] = field(default_factory=tuple)
    # Per underlying and day: which bars drove it and whether option prices were real (issue 14 part 5).
    coverage: Sequence[dict[str, Any]] = field(default_factory=tuple)


def _clean(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.10g}")


def build_report(result: BacktestResult) -> Report:
    if len(result.equity) < 2:
        raise ValueError(
            f"backtest {result.strategy} {result.start}..{result.end} produced {len(result.equity)} equity "
            "point(s); at least two are needed for a report (is there data for those dates?)"
        )
    values = [value for _, value in result.equity]
    pnls = [trade.net_pnl for trade in result.trades]
    perf = performance_report(
        values,
        pnls,
        list(result.in_market),
        periods_per_year=result.periods_per_year,
        var_confidence=result.var_confidence,
    )
    metrics: dict[str, Any] = {
        "strategy": result.strategy,
        "initial_capital": round(result.initial_capital, 2),
        "final_equity": round(values[-1], 2),
        "net_pnl": round(values[-1] - values[0], 2),
        "total_return": _clean(perf.total_return),
        "annualised_return": _clean(perf.annualised_return),
        "volatility": _clean(perf.volatility),
        "max_drawdown": _clean(perf.drawdown.max_drawdown),
        "sharpe": _clean(perf.sharpe),
        "sortino": _clean(perf.sortino),
        "var_confidence": result.var_confidence,
        "value_at_risk_historical": _clean(perf.value_at_risk_historical),
        "value_at_risk_parametric": _clean(perf.value_at_risk_parametric),
        "win_rate": _clean(perf.win_rate),
        "profit_factor": _clean(perf.profit_factor),
        "average_trade": _clean(perf.average_trade),
        "exposure": _clean(perf.exposure),
        "trades": perf.trades,
        "charges": round(sum(trade.charges for trade in result.trades), 2),
    }
    equity = [(moment, round(value, 2)) for moment, value in result.equity]
    trades = [
        {
            "symbol": t.symbol,
            "side": t.side,
            "quantity": t.quantity,
            "entry_time": t.entry_time,
            "entry_price": round(t.entry_price, 2),
            "exit_time": t.exit_time,
            "exit_price": round(t.exit_price, 2),
            "charges": round(t.charges, 2),
            "net_pnl": round(t.net_pnl, 2),
            "prices": "synthetic" if t.synthetic_prices else "recorded",
            "exit_reason": t.exit_reason,
        }
        for t in result.trades
    ]
    notes = list(result.notes)
    if result.synthetic_options or any(t.synthetic_prices for t in result.trades):
        notes.append(
            "Option prices for dates without recorded option data are synthetic: the model calibrated to "
            "real premiums (analytics.calibration_file; the README gives its measured error); fills use the "
            "bar fill model with spread, slippage and dated charges."
        )
    if result.settings:
        notes.append("settings: " + ", ".join(f"{k}={result.settings[k]}" for k in sorted(result.settings)))
    return Report(
        title=f"Backtest {result.strategy}",
        subtitle=f"{result.start} to {result.end}",
        generated_utc=result.end,
        metrics=metrics,
        series={"equity": equity, "drawdown": equity_to_drawdown(equity)},
        tables={
            **({"coverage": [dict(row) for row in result.coverage]} if result.coverage else {}),
            "trades": trades,
            **({"days": [dict(row) for row in result.days]} if result.days else {}),
        },
        notes=notes,
    )


def write_backtest_report(
    result: BacktestResult, directory: Path, stem_name: str | None = None, stem: str | None = None
) -> ReportFiles:
    """Write `backtest-<name>-<start>-<end>.json/.html`; `stem_name` replaces the strategy name in the file
    name (for names that are not file-safe, such as `module:Class`); `stem` replaces the whole name
    (the user named the report file)."""
    stem = stem or f"backtest-{stem_name or result.strategy}-{result.start}-{result.end}"
    return write_report(build_report(result), directory, stem)

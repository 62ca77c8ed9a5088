from __future__ import annotations

import re
from pathlib import Path

import pytest

from optbot.research.montecarlo import Method, MonteCarloSettings, run_monte_carlo, sample_from_backtest
from optbot.research.tearsheet import (
    TearsheetInput,
    TradeRow,
    WalkForwardWindow,
    monthly_returns,
    render_tearsheet,
    write_tearsheet,
)

EQUITY = [
    ("2022-11-01T10:00:00+00:00", 500_000.0),
    ("2022-11-02T10:00:00+00:00", 503_000.0),
    ("2022-11-30T10:00:00+00:00", 498_000.0),
    ("2022-12-01T10:00:00+00:00", 505_000.0),
]
TRADES = [
    TradeRow(
        "NIFTY03NOV2218000CE",
        "BUY",
        50,
        "2022-11-01T04:00:00+00:00",
        "2022-11-01T06:30:00+00:00",
        100.0,
        160.0,
        60.0,
        2940.0,
        "target",
    ),
    TradeRow(
        "BANKNIFTY03NOV2241000PE",
        "SELL",
        25,
        "2022-11-02T09:45:00+00:00",
        "2022-11-02T09:55:00+00:00",
        300.0,
        500.0,
        40.0,
        -5040.0,
        "stop loss",
    ),
]


def _input(**extra) -> TearsheetInput:
    return TearsheetInput(
        title="Backtest demo",
        subtitle="2022-11-01 to 2022-12-01",
        initial_capital=500_000.0,
        equity=EQUITY,
        trades=TRADES,
        metrics={"net_pnl": 5000.0, "max_drawdown": 0.0099, "win_rate": 0.5},
        **extra,
    )


def test_trade_row_reads_the_symbol_and_shows_ist() -> None:
    trade = TRADES[1]
    assert trade.underlying == "BANKNIFTY"
    assert str(trade.expiry) == "2022-11-03"
    assert trade.entry_ist.strftime("%H:%M") == "15:15"
    assert trade.days_to_expiry == 1


def test_monthly_returns_chain_from_capital() -> None:
    returns = monthly_returns(_input())
    assert returns[(2022, 11)] == pytest.approx((498_000 / 500_000 - 1) * 100)
    assert returns[(2022, 12)] == pytest.approx((505_000 / 498_000 - 1) * 100)


def test_page_is_self_contained_in_ist_with_percentages_and_exit_reasons(tmp_path: Path) -> None:
    sample = sample_from_backtest(
        [t.net_pnl for t in TRADES],
        [t.charges for t in TRADES],
        [1e4, 2e4],
        [v for _, v in EQUITY],
        500_000.0,
    )
    mc = run_monte_carlo(sample, Method.RESHUFFLE, MonteCarloSettings(paths=50))
    window = WalkForwardWindow(
        ("2022-01-01", "2022-06-30"), ("2022-07-01", "2022-07-31"), {"adx": 25}, 1.0, 2.0, 100, 41, 17
    )
    page = render_tearsheet(_input(monte_carlo=[mc], walk_forward=[window]))
    assert "<script src=" not in page  # plotly.js inline, nothing from a CDN
    assert page.count("Plotly.newPlot") >= 10
    assert "0.99%" in page and "50.00%" in page  # ratios as percentages
    assert "2022-11-02 15:15" in page  # entry time in IST
    assert "41 / 17 / 59</td>" in page  # the window's trials: backtested / pruned / repeated
    assert "stop loss" in page and "target" in page
    assert "Monte Carlo fan" in page and "Walk-forward" in page
    assert not re.search(r"\d{2}:\d{2}:\d{2}\+00:00", page.split("</script>")[-1])  # no UTC stamps shown
    path = write_tearsheet(_input(), tmp_path / "t" / "sheet.html")
    assert path.read_text(encoding="utf-8") == render_tearsheet(_input())


def test_a_page_of_tables_has_no_empty_equity_charts() -> None:
    from optbot.research.tearsheet import TableSection, TearsheetInput, render_tearsheet

    sheet = TearsheetInput(
        "Hypothetical shocks",
        "2 positions",
        500_000.0,
        equity=[],
        trades=[],
        tables=[TableSection("P&L under each shock (₹)", [{"shock": "spot -5 %", "P&L ₹": "1,234.00"}])],
    )
    page = render_tearsheet(sheet)
    assert "Equity and drawdown" not in page and "plotly-graph-div" not in page
    assert "<h2>P&amp;L under each shock (₹)</h2>" in page and '<td class="t">spot -5 %</td>' in page

from __future__ import annotations

from pathlib import Path

from optbot.ops.reports import (
    Report,
    equity_to_drawdown,
    format_percent,
    monthly_summary,
    read_report,
    render_html,
    write_report,
)


def daily(day: str, net: float, trades: int = 2) -> Report:
    return Report(
        title=f"optbot daily report {day}",
        subtitle=day,
        generated_utc="2026-08-07T10:30:00.000Z",
        metrics={"net_pnl": net, "trades": trades, "charges": 80.5, "win_rate": 0.5},
        series={"equity": [(f"{day}T09:15", 0.0), (f"{day}T12:00", net / 2), (f"{day}T15:30", net)]},
        tables={"trades": [{"symbol": "NIFTY11AUG2624550CE", "side": "BUY", "net_pnl": net}]},
        notes=["Option prices are synthetic (simulator pricing model)."],
    )


def test_drawdown_from_equity() -> None:
    equity = [("a", 0.0), ("b", 100.0), ("c", 40.0), ("d", 120.0), ("e", 60.0)]
    assert [v for _, v in equity_to_drawdown(equity)] == [0.0, 0.0, -60.0, 0.0, -60.0]


def test_write_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    report = daily("2026-08-07", 1234.5)
    first = write_report(report, tmp_path / "a", "daily-2026-08-07")
    second = write_report(report, tmp_path / "b", "daily-2026-08-07")
    assert first.json_path.read_bytes() == second.json_path.read_bytes()
    assert first.html_path.read_bytes() == second.html_path.read_bytes()
    assert read_report(first.json_path) == report


def test_html_is_self_contained_with_chart_and_escaping() -> None:
    report = daily("2026-08-07", -500.0)
    page = render_html(report)
    assert "<svg" in page and "polyline" in page
    assert "NIFTY11AUG2624550CE" in page and "synthetic" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    escaped = render_html(
        Report(title="<script>x</script>", subtitle="s", generated_utc="t", tables={"t": [{"a": "<b>"}]})
    )
    assert "<script>x" not in escaped and "&lt;b&gt;" in escaped


def test_monthly_summary_rolls_up_days() -> None:
    summary = monthly_summary(
        [daily("2026-08-03", 1000.0), daily("2026-08-04", -1500.0), daily("2026-08-05", 700.0)],
        "2026-08",
        "2026-08-31T12:00:00.000Z",
    )
    assert summary.metrics["trading_days"] == 3
    assert summary.metrics["net_pnl"] == 200.0
    assert summary.metrics["winning_days"] == 2
    assert summary.metrics["max_drawdown_rupees"] == -1500.0
    assert summary.metrics["charges"] == 241.5


def test_rupee_drawdowns_and_percent_returns_are_not_shown_as_fractions() -> None:
    """A live day's page showed a ₹1,377.50 drawdown as -137,750.00% and a -3.17 % trade as -317.00%."""
    summary = monthly_summary([daily("2026-08-03", 1000.0), daily("2026-08-04", -1500.0)], "2026-08", "t")
    assert "<b>-1,500.00</b>" in render_html(summary)
    page = render_html(
        Report(title="d", subtitle="s", generated_utc="t", tables={"t": [{"return_pct": -3.17}]})
    )
    assert "<td>-3.17</td>" in page and "317" not in page


def test_a_missing_value_is_a_dash_and_headers_wrap() -> None:
    """The daily report's sentiment table printed `None` for a skew beyond the quoted strikes, and
    its underscore headers kept the 24-column table wider than the page."""
    page = render_html(
        Report(title="d", subtitle="s", generated_utc="t", tables={"t": [{"strike_skew_pct": None}]})
    )
    assert "<th>strike skew pct</th>" in page and "<td>–</td>" in page and "None" not in page


def test_page_shows_fractions_as_percent_and_rupee_drawdowns_as_money() -> None:
    summary = monthly_summary([daily("2026-08-03", 1000.0), daily("2026-08-04", -1500.0)], "2026-08", "t")
    tile = "<span class='muted'>max drawdown rupees</span><b>-1,500.00</b>"
    assert tile in render_html(summary) and "-150,000.00%" not in render_html(summary)
    page = render_html(
        Report(
            title="b",
            subtitle="s",
            generated_utc="t",
            metrics={
                "value_at_risk_historical": 0.0030,
                "value_at_risk_parametric": 0.0059,
                "var_confidence": 0.95,
            },
            tables={"closed trades": [{"symbol": "NIFTY26NOV2012850CE", "return_pct": 14.9}]},
        )
    )
    assert "0.30%" in page and "0.59%" in page and "95.00%" in page
    assert "<td>14.90</td>" in page and "1,490.00%" not in page


def test_a_flat_runs_zero_or_tiny_negative_reads_without_a_sign() -> None:
    """A flat backtest's VaR is -0.0 (or a loss that rounds to nothing): the page showed "-0.00%"."""
    assert format_percent(-0.0) == "0.00%" and format_percent(-0.000004) == "0.00%"
    assert format_percent(-0.00006) == "-0.01%" and format_percent(0.0123) == "1.23%"
    page = render_html(
        Report(
            title="b",
            subtitle="s",
            generated_utc="t",
            metrics={"value_at_risk_historical": -0.0, "value_at_risk_parametric": -1e-9, "net_pnl": -0.001},
        )
    )
    assert "-0.00" not in page
    assert "<b>0.00%</b>" in page and "<b>0.00</b>" in page


def test_a_few_wide_rows_are_shown_one_column_per_row() -> None:
    fields = {"underlying": "NIFTY", **{f"field_{index:02d}": float(index) for index in range(14)}}
    report = Report(title="b", subtitle="s", generated_utc="t", tables={"market sentiment": [fields]})
    page = render_html(report)
    table = page.split("<h2>market sentiment</h2>")[1]
    assert table.startswith("<table><thead><tr><th>underlying</th><th>NIFTY</th></tr></thead>")
    assert "<tr><th>field 13</th><td>13.00</td></tr>" in table
    narrow = render_html(Report(title="b", subtitle="s", generated_utc="t", tables={"t": [{"a": 1, "b": 2}]}))
    assert "<thead><tr><th>a</th><th>b</th></tr></thead>" in narrow

"""Report files: JSON for machines, one self-contained HTML page for people (spec §7.3, §11.9).

A `Report` is generic — metrics, time series (drawn as inline SVG charts), tables and notes — so the
daily report, the monthly summary and the backtest report share one renderer. Output is
deterministic: the same report gives byte-identical files (no wall clock, sorted keys).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from optbot.core.atomic import atomic_write_bytes
from optbot.core.timeutil import parse_iso, to_ist

Series = list[tuple[str, float]]


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    subtitle: str
    generated_utc: str
    metrics: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReportFiles:
    json_path: Path
    html_path: Path


def equity_to_drawdown(equity: Series) -> Series:
    """Drawdown series (≤ 0) from an equity series."""
    peak = float("-inf")
    drawdown: Series = []
    for stamp, value in equity:
        peak = max(peak, value)
        drawdown.append((stamp, value - peak))
    return drawdown


def svg_line_chart(series: Series, label: str, width: int = 720, height: int = 200) -> str:
    """An inline SVG line chart with axes labels for min, max and the first/last timestamps."""
    if len(series) < 2:
        return f'<p class="muted">{html.escape(label)}: not enough points to draw</p>'
    values = [value for _, value in series]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    pad = 30

    def x(index: int) -> float:
        return pad + index * (width - 2 * pad) / (len(series) - 1)

    def y(value: float) -> float:
        return height - pad - (value - low) * (height - 2 * pad) / span

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    colour = "#2e7d32" if values[-1] >= values[0] else "#c62828"
    zero = ""
    if low < 0 < high:
        zero_y = f"{y(0):.1f}"
        zero = (
            f'<line x1="{pad}" x2="{width - pad}" y1="{zero_y}" y2="{zero_y}" '
            'stroke="#bbb" stroke-dasharray="4"/>'
        )
    first, last = html.escape(ist_text(series[0][0])), html.escape(ist_text(series[-1][0]))
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" class="chart">'
        f'<text x="{pad}" y="16" font-size="13" font-weight="bold">{html.escape(label)}</text>'
        f"{zero}"
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{points}"/>'
        f'<text x="2" y="{y(high) + 4:.1f}" font-size="10">{high:,.2f}</text>'
        f'<text x="2" y="{y(low) + 4:.1f}" font-size="10">{low:,.2f}</text>'
        f'<text x="{pad}" y="{height - 8}" font-size="10">{first}</text>'
        f'<text x="{width - pad}" y="{height - 8}" font-size="10" text-anchor="end">{last}</text>'
        "</svg>"
    )


#: Metrics that are fractions (0.12 = 12 %): the page shows them as percentages, the JSON keeps fractions.
#: A drawdown in rupees is named `max_drawdown_rupees`, never `max_drawdown`, so it is not read as one;
#: a name ending in `_pct` (a trade's `return_pct`) is already in percent and shows as it is.
RATIO_METRICS = frozenset(
    {
        "total_return",
        "annualised_return",
        "volatility",
        "max_drawdown",
        "win_rate",
        "exposure",
        "value_at_risk_historical",
        "value_at_risk_parametric",
        "var_confidence",
    }
)
_UTC_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(\+00:00|Z)$")


def format_percent(fraction: float) -> str:
    """A fraction as a percentage with two decimals (0.0123 -> "1.23%"). A value that rounds to zero
    reads "0.00%", never "-0.00%": a flat backtest's VaR is -0.0 or a tiny negative, and a sign on
    nothing reads as a loss."""
    return f"{_unsigned_zero(round(fraction * 100, 2)):,.2f}%"


def _unsigned_zero(rounded: float) -> float:
    """`rounded`, with a negative zero made positive (-0.0 + 0.0 is +0.0 in IEEE arithmetic)."""
    return rounded + 0.0


def _format_value(value: Any, name: str = "") -> str:
    """How a value reads on a page: ratios as %, UTC stamps in IST, money with grouping, a missing
    value (JSON null) as a dash, as the dashboard shows it."""
    if value is None:
        return "–"
    if name in RATIO_METRICS and isinstance(value, float):
        return format_percent(value)
    if isinstance(value, str) and _UTC_STAMP.match(value):
        return html.escape(ist_text(value))
    if isinstance(value, float):
        return f"{_unsigned_zero(round(value, 2)):,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape(str(value))


#: A table wider than this many columns with at most `_TRANSPOSE_MAX_ROWS` rows (the market sentiment
#: table: 21 fields per underlying) is shown one column per row, so it fits the page's width.
_TRANSPOSE_MIN_COLUMNS = 12
_TRANSPOSE_MAX_ROWS = 6


def _table(name: str, rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return f"<h2>{html.escape(name)}</h2><p class='muted'>none</p>"
    columns = list(rows[0].keys())
    if len(columns) >= _TRANSPOSE_MIN_COLUMNS and len(rows) <= _TRANSPOSE_MAX_ROWS:
        return _transposed_table(name, rows, columns)
    # headers wrap at the underscores' places, so a many-column table fits the page's width
    head = "".join(f"<th>{html.escape(str(column).replace('_', ' '))}</th>" for column in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_format_value(row.get(column, ''), column)}</td>" for column in columns)
        + "</tr>"
        for row in rows
    )
    return f"<h2>{html.escape(name)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _transposed_table(name: str, rows: Sequence[dict[str, Any]], columns: list[str]) -> str:
    """A few wide rows shown as columns: the first field heads each column, every other field is a row."""
    key = columns[0]
    head = f"<th>{html.escape(key.replace('_', ' '))}</th>" + "".join(
        f"<th>{_format_value(row.get(key, ''), key)}</th>" for row in rows
    )
    body = "".join(
        f"<tr><th>{html.escape(column.replace('_', ' '))}</th>"
        + "".join(f"<td>{_format_value(row.get(column, ''), column)}</td>" for row in rows)
        + "</tr>"
        for column in columns[1:]
    )
    return f"<h2>{html.escape(name)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1b1f23;max-width:1100px}
h1{margin:0}h2{margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#6a737d}.metrics{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:8px}
.metric{background:#f6f8fa;border-radius:6px;padding:8px}.metric b{display:block;font-size:18px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
.chart{width:100%;height:auto;background:#fafbfc;border-radius:6px;margin:8px 0}
.note{background:#fff8c5;padding:8px;border-radius:6px}
"""


def render_html(report: Report) -> str:
    metrics = "".join(
        f"<div class='metric'><span class='muted'>{html.escape(name.replace('_', ' '))}</span>"
        f"<b>{_format_value(value, name)}</b></div>"
        for name, value in report.metrics.items()
    )
    charts = "".join(svg_line_chart(series, name) for name, series in report.series.items())
    tables = "".join(_table(name, rows) for name, rows in report.tables.items())
    notes = "".join(f"<p class='note'>{html.escape(note)}</p>" for note in report.notes)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(report.title)}</h1><p class='muted'>{html.escape(report.subtitle)} · generated "
        f"{html.escape(ist_text(report.generated_utc))}</p>{notes}"
        f"<div class='metrics'>{metrics}</div>{charts}{tables}"
        "</body></html>\n"
    )


def ist_text(utc_stamp: str) -> str:
    """A report's UTC stamp as traders read it (IST); anything unparsable is shown as it is."""
    try:
        return f"{to_ist(parse_iso(utc_stamp)):%Y-%m-%d %H:%M:%S} IST"
    except ValueError:
        return utc_stamp


def write_report(report: Report, directory: Path, stem: str) -> ReportFiles:
    json_path = directory / f"{stem}.json"
    html_path = directory / f"{stem}.html"
    payload = orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    atomic_write_bytes(json_path, payload + b"\n")
    atomic_write_bytes(html_path, render_html(report).encode("utf-8"))
    return ReportFiles(json_path, html_path)


def read_report(path: Path) -> Report:
    data = orjson.loads(path.read_bytes())
    data["series"] = {
        name: [(str(s), float(v)) for s, v in points] for name, points in data["series"].items()
    }
    return Report(**data)


def monthly_summary(daily_reports: Sequence[Report], month: str, generated_utc: str) -> Report:
    """Roll daily reports (each with `net_pnl`, `trades`, `charges` metrics) into one month."""
    days = [report.subtitle for report in daily_reports]
    trades = [int(report.metrics.get("trades", 0)) for report in daily_reports]
    net = [float(report.metrics.get("net_pnl", 0.0)) for report in daily_reports]
    charges = [float(report.metrics.get("charges", 0.0)) for report in daily_reports]
    equity: Series = []
    cumulative = 0.0
    for day, day_net in zip(days, net, strict=True):
        cumulative += day_net
        equity.append((day, cumulative))
    metrics: dict[str, Any] = {
        "trading_days": len(days),
        "trades": sum(trades),
        "net_pnl": round(cumulative, 2),
        "charges": round(sum(charges), 2),
        "winning_days": sum(1 for value in net if value > 0),
        "worst_day": round(min(net, default=0.0), 2),
        "max_drawdown_rupees": round(min((value for _, value in equity_to_drawdown(equity)), default=0.0), 2),
    }
    rows = [
        {"day": day, "trades": count, "net_pnl": value, "charges": cost}
        for day, count, value, cost in zip(days, trades, net, charges, strict=True)
    ]
    return Report(
        title=f"optbot monthly summary {month}",
        subtitle=month,
        generated_utc=generated_utc,
        metrics=metrics,
        series={"cumulative net P&L (₹)": equity, "drawdown (₹)": equity_to_drawdown(equity)},
        tables={"days": rows},
    )

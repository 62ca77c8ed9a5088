"""Tearsheets (spec §11.9): one self-contained HTML page a trader reads after a backtest or a study.

Charts are Plotly figures with plotly.js embedded once (works offline, no CDN). Every time shown is IST,
every ratio a percentage, every trade carries its exit reason. The page is built from plain inputs —
the backtest report's equity and trades, optionally a benchmark, Monte Carlo results and walk-forward
windows — so a report written months ago can be turned into a tearsheet again.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from optbot.core.atomic import atomic_write_bytes
from optbot.core.timeutil import IST, parse_iso
from optbot.ops.reports import format_percent
from optbot.research.montecarlo import MonteCarloResult

_SYMBOL = re.compile(
    r"^(?P<underlying>[A-Z&]+?)(?P<expiry>\d{2}[A-Z]{3}\d{2})(?P<strike>[\d.]+)(?P<kind>CE|PE)$"
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LAYOUT = {"template": "plotly_white", "height": 340, "margin": {"l": 60, "r": 20, "t": 40, "b": 40}}


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One closed round trip as the tearsheet needs it (times are UTC ISO strings)."""

    symbol: str
    side: str
    quantity: int
    entry_time: str
    exit_time: str
    entry_price: float
    exit_price: float
    charges: float
    net_pnl: float
    exit_reason: str = ""
    strategy: str = ""
    leg: str = ""

    @property
    def underlying(self) -> str:
        match = _SYMBOL.match(self.symbol)
        return match.group("underlying") if match else self.symbol

    @property
    def expiry(self) -> date | None:
        match = _SYMBOL.match(self.symbol)
        if match is None:
            return None
        text = match.group("expiry")
        return date(2000 + int(text[5:]), MONTHS.index(text[2:5].title()) + 1, int(text[:2]))

    @property
    def entry_ist(self) -> datetime:
        return parse_iso(self.entry_time).astimezone(IST)

    @property
    def exit_ist(self) -> datetime:
        return parse_iso(self.exit_time).astimezone(IST)

    @property
    def days_to_expiry(self) -> int | None:
        expiry = self.expiry
        return None if expiry is None else (expiry - self.entry_ist.date()).days


@dataclass(frozen=True, slots=True)
class WalkForwardWindow:
    """One walk-forward window: its dates, the chosen parameters and in/out-of-sample results."""

    in_sample: tuple[str, str]
    out_of_sample: tuple[str, str]
    parameters: Mapping[str, Any]
    in_sample_pnl: float
    out_of_sample_pnl: float
    trials: int | None = None  # the window's study: trials, of which backtested and pruned
    backtested: int | None = None
    pruned: int | None = None


@dataclass(frozen=True, slots=True)
class TableSection:
    """A titled table of plain rows (every row has the same keys, in column order)."""

    title: str
    rows: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class TearsheetInput:
    title: str
    subtitle: str
    initial_capital: float
    equity: Sequence[tuple[str, float]]  # (UTC ISO, rupees), one point per session end
    trades: Sequence[TradeRow]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    benchmark: Sequence[tuple[str, float]] = ()  # NIFTY closes on the same dates (buy and hold)
    benchmark_name: str = "NIFTY buy & hold"
    monte_carlo: Sequence[MonteCarloResult] = ()
    walk_forward: Sequence[WalkForwardWindow] = ()
    coverage: Sequence[Mapping[str, Any]] = ()
    notes: Sequence[str] = ()
    tables: Sequence[TableSection] = ()  # further titled tables (stress windows, shocks, regime splits)


def _ist_label(stamp: str) -> str:
    return parse_iso(stamp).astimezone(IST).strftime("%Y-%m-%d %H:%M")


def _fig_html(figure: go.Figure, name: str, first: bool) -> str:
    # the page's look, and its size where the figure did not choose one (the equity panels are taller)
    chosen = figure.layout.to_plotly_json()
    figure.update_layout(
        **{key: value for key, value in _LAYOUT.items() if key == "template" or key not in chosen}
    )
    return str(
        pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs="inline" if first else False,
            div_id=f"fig-{name}",
            config={"displaylogo": False, "responsive": True},
        )
    )


def equity_figure(data: TearsheetInput) -> go.Figure:
    """Equity (with the benchmark and trade exits) above its underwater curve, on one shared IST time
    axis: the two panels line up point for point and zoom together."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.64, 0.36],
        vertical_spacing=0.08,
        subplot_titles=(
            "Equity (₹, IST) with trade exits" if data.trades else "Equity (₹, IST)",
            "Underwater curve (% below the running peak)",
        ),
    )
    for trace in _equity_traces(data):
        figure.add_trace(trace, row=1, col=1)
    figure.add_trace(_underwater_trace(data), row=2, col=1)
    times = [_ist_label(stamp) for stamp, _ in data.equity]
    figure.update_xaxes(range=[times[0], times[-1]], type="date")  # the equity's span, in both panels
    figure.update_yaxes(title_text="₹", tickformat=",.0f", row=1, col=1)
    figure.update_yaxes(title_text="%", ticksuffix="%", row=2, col=1)
    figure.update_layout(
        height=560,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "xanchor": "left", "x": 0},
        margin={"l": 70, "r": 20, "t": 70, "b": 40},
    )
    return figure


def _equity_traces(data: TearsheetInput) -> list[go.Scatter]:
    times = [_ist_label(stamp) for stamp, _ in data.equity]
    traces = [go.Scatter(x=times, y=[value for _, value in data.equity], name="equity", mode="lines")]
    if data.benchmark:
        first = data.benchmark[0][1]
        scaled = [data.initial_capital * value / first for _, value in data.benchmark]
        traces.append(
            go.Scatter(
                x=[_ist_label(s) for s, _ in data.benchmark],
                y=scaled,
                name=data.benchmark_name,
                mode="lines",
                line={"dash": "dot", "color": "#64748b"},  # grey: red and green mark the trade exits
            )
        )
    wins = [t for t in data.trades if t.net_pnl >= 0]
    losses = [t for t in data.trades if t.net_pnl < 0]
    equity_at = _equity_lookup(data)
    for label, rows, colour in (("winning exit", wins, "#16a34a"), ("losing exit", losses, "#dc2626")):
        if rows:
            traces.append(
                go.Scatter(
                    x=[t.exit_ist.strftime("%Y-%m-%d %H:%M") for t in rows],
                    y=[equity_at(t.exit_time) for t in rows],
                    mode="markers",
                    name=label,
                    marker={"color": colour, "size": 7},
                    text=[
                        f"{t.symbol} {t.side} {t.quantity} @ {t.entry_price:.2f}→{t.exit_price:.2f}: "
                        f"₹{t.net_pnl:,.2f} ({t.exit_reason or 'exit'})"
                        for t in rows
                    ],
                    hoverinfo="text+x",
                )
            )
    return traces


def _equity_lookup(data: TearsheetInput) -> Any:
    points = sorted((parse_iso(stamp), value) for stamp, value in data.equity)

    def at(stamp: str) -> float:
        moment = parse_iso(stamp)
        value = data.initial_capital
        for when, equity in points:
            if when > moment:
                break
            value = equity
        return value

    return at


def _underwater_trace(data: TearsheetInput) -> go.Scatter:
    peak = float("-inf")
    depth: list[float] = []
    for _, value in data.equity:
        peak = max(peak, value)
        depth.append((value / peak - 1.0) * 100.0 if peak > 0 else 0.0)
    return go.Scatter(
        x=[_ist_label(s) for s, _ in data.equity],
        y=depth,
        fill="tozeroy",
        mode="lines",
        line={"color": "#dc2626"},
        name="drawdown",
        hovertemplate="%{x}: %{y:.2f}%<extra>drawdown</extra>",
    )


def monthly_returns(data: TearsheetInput) -> dict[tuple[int, int], float]:
    """Per calendar month (IST): return of the month's last equity over the previous month's last, in %."""
    last: dict[tuple[int, int], float] = {}
    for stamp, value in data.equity:
        moment = parse_iso(stamp).astimezone(IST)
        last[(moment.year, moment.month)] = value
    result: dict[tuple[int, int], float] = {}
    previous = data.initial_capital
    for key in sorted(last):
        result[key] = (last[key] / previous - 1.0) * 100.0
        previous = last[key]
    return result


def monthly_heatmap(data: TearsheetInput) -> go.Figure:
    returns = monthly_returns(data)
    years = sorted({year for year, _ in returns})
    z = [[returns.get((year, month)) for month in range(1, 13)] for year in years]
    text = [[("" if value is None else f"{value:.2f}%") for value in row] for row in z]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(MONTHS),
            y=[str(year) for year in years],
            text=text,
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmid=0,
            colorbar={"ticksuffix": "%"},
        )
    )
    figure.update_layout(title="Monthly returns (%)", yaxis={"type": "category"})
    return figure


def grouped_pnl(trades: Sequence[TradeRow], key: Any) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for trade in trades:
        totals[str(key(trade))] += trade.net_pnl
    return dict(totals)


def _rupees(value: float) -> str:
    """-₹8,478 (the sign before the currency, as a trader writes it)."""
    return f"{'-' if value < 0 else ''}₹{abs(value):,.0f}"


def bar_figure(totals: Mapping[str, float], title: str, order: Sequence[str] | None = None) -> go.Figure:
    labels = list(order) if order is not None else sorted(totals)
    labels = [label for label in labels if label in totals]
    values = [round(totals[label], 2) for label in labels]
    colours = ["#16a34a" if value >= 0 else "#dc2626" for value in values]
    figure = go.Figure(go.Bar(x=labels, y=values, marker_color=colours, text=[_rupees(v) for v in values]))
    figure.update_layout(
        title=title, yaxis_title="₹ net", yaxis_tickformat=",.0f", xaxis={"type": "category"}
    )
    return figure


def distribution_figure(trades: Sequence[TradeRow]) -> go.Figure:
    figure = go.Figure(go.Histogram(x=[t.net_pnl for t in trades], nbinsx=40, marker_color="#2563eb"))
    figure.update_layout(
        title="Trade P&L distribution (₹ net of charges)",
        xaxis_title="₹",
        xaxis_tickformat=",.0f",
        yaxis_title="trades",
    )
    return figure


def fan_figure(result: MonteCarloResult) -> go.Figure:
    steps = list(range(result.steps + 1))
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=steps, y=list(result.fan["p95"]), line={"width": 0}, showlegend=False))
    figure.add_trace(
        go.Scatter(
            x=steps,
            y=list(result.fan["p5"]),
            fill="tonexty",
            line={"width": 0},
            name="5–95 %",
            fillcolor="rgba(37,99,235,0.15)",
        )
    )
    figure.add_trace(go.Scatter(x=steps, y=list(result.fan["p75"]), line={"width": 0}, showlegend=False))
    figure.add_trace(
        go.Scatter(
            x=steps,
            y=list(result.fan["p25"]),
            fill="tonexty",
            line={"width": 0},
            name="25–75 %",
            fillcolor="rgba(37,99,235,0.3)",
        )
    )
    figure.add_trace(go.Scatter(x=steps, y=list(result.fan["p50"]), name="median", line={"color": "#1e3a8a"}))
    unit = "sessions" if result.method.value == "bootstrap" else "trades"
    figure.update_layout(
        title=f"Monte Carlo fan ({result.method.value}, {result.paths:,} paths)",
        xaxis_title=unit,
        yaxis_title="₹ equity",
    )
    return figure


def walk_forward_figure(windows: Sequence[WalkForwardWindow]) -> go.Figure:
    labels = [f"{w.out_of_sample[0]}…{w.out_of_sample[1]}" for w in windows]
    figure = go.Figure()
    figure.add_trace(go.Bar(x=labels, y=[w.in_sample_pnl for w in windows], name="in-sample ₹"))
    figure.add_trace(go.Bar(x=labels, y=[w.out_of_sample_pnl for w in windows], name="out-of-sample ₹"))
    figure.update_layout(
        title="Net P&L by window (₹)",  # short: a half-width panel with its toolbar; the legend says which
        barmode="group",
        xaxis={"type": "category"},
    )
    return figure


def _pct(value: Any) -> str:
    return "—" if value is None else format_percent(float(value))


_RATIO_KEYS = {"total_return", "annualised_return", "volatility", "max_drawdown", "win_rate", "exposure"}


#: Headline labels as a trader reads them (a key not listed shows with its underscores as spaces).
_METRIC_LABELS = {
    "net_pnl": "net P&L ₹",
    "charges": "charges ₹",
    "profit_factor": "profit factor",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "walk_forward_efficiency": "walk-forward efficiency",
}


def _metric_label(key: str) -> str:
    return _METRIC_LABELS.get(key, key.replace("_", " "))


def _metric_cell(key: str, value: Any) -> str:
    if key in _RATIO_KEYS:
        return _pct(value)
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return html.escape(str(value))


_NUMBER = re.compile(r"[-+−]?₹?[\d,]*\.?\d+%?( days?)?|n/a|")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?")


def _column_class(cells: Sequence[str]) -> str:
    """How a column reads: numbers right-aligned ("n"), dates and times on one line ("d"), text
    left-aligned and wrapping ("t")."""
    if all(_NUMBER.fullmatch(cell.strip()) for cell in cells):
        return "n"
    if all(_MOMENT.fullmatch(cell.strip()) or not cell.strip() for cell in cells):
        return "d"
    return "t"


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    cells = [[str(row.get(column, "")) for column in columns] for row in rows]
    kinds = [_column_class([line[index] for line in cells]) for index in range(len(columns))]
    head = "".join(
        f'<th class="{kind}">{html.escape(column)}</th>' for column, kind in zip(columns, kinds, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{kind}">{html.escape(cell)}</td>' for cell, kind in zip(line, kinds, strict=True)
        )
        + "</tr>"
        for line in cells
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _trade_rows(trades: Sequence[TradeRow]) -> list[dict[str, Any]]:
    return [
        {
            "entry (IST)": t.entry_ist.strftime("%Y-%m-%d %H:%M"),
            "exit (IST)": t.exit_ist.strftime("%Y-%m-%d %H:%M"),
            "symbol": t.symbol,
            "side": t.side,
            "qty": t.quantity,
            "entry ₹": f"{t.entry_price:,.2f}",
            "exit ₹": f"{t.exit_price:,.2f}",
            "charges ₹": f"{t.charges:,.2f}",
            "net ₹": f"{t.net_pnl:,.2f}",
            "exit reason": t.exit_reason or "not recorded",
        }
        for t in trades
    ]


def _monte_carlo_rows(results: Sequence[MonteCarloResult]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        interval = f"{result.confidence * 100:.0f}% CI"
        rows.append(
            {
                "method": result.method.value,
                "paths": f"{result.paths:,}",
                "final P&L median ₹": f"{result.final_pnl.median:,.2f}",
                f"final P&L {interval} ₹": f"{result.final_pnl.low:,.2f} … {result.final_pnl.high:,.2f}",
                "max drawdown median": format_percent(result.max_drawdown_pct.median),
                f"max drawdown {interval}": f"{format_percent(result.max_drawdown_pct.low)} … "
                f"{format_percent(result.max_drawdown_pct.high)}",
                "longest losing streak (median / worst)": f"{result.longest_losing_streak.median:.0f} / "
                f"{result.longest_losing_streak.worst:.0f}",
                "probability of ruin": format_percent(result.probability_of_ruin),
            }
        )
    return rows


_STYLE = """
body{font-family:system-ui,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#111}
h1{margin-bottom:0} .sub{color:#555;margin-top:4px} h2{margin-top:32px;border-bottom:1px solid #ddd}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px 10px}.card b{display:block;font-size:1.15em}
.card span{color:#555;font-size:.85em} table{border-collapse:collapse;width:100%;font-size:.85em}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:right}th{background:#f8fafc}
.n{white-space:nowrap} .d{text-align:left;white-space:nowrap} .t{text-align:left}
.two{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.note{color:#444;font-size:.9em}
"""


def render_tearsheet(data: TearsheetInput) -> str:
    """The whole page as one HTML string (deterministic for the same input)."""
    figures: list[tuple[str, go.Figure]] = []
    if data.equity:  # a shock table or a set of stress windows has no single equity curve
        figures += [
            ("equity", equity_figure(data)),
            ("monthly", monthly_heatmap(data)),
        ]
    trades = list(data.trades)
    if trades:
        figures += [
            (
                "weekday",
                bar_figure(
                    grouped_pnl(trades, lambda t: WEEKDAYS[t.entry_ist.weekday()]),
                    "Net P&L by entry weekday",
                    WEEKDAYS,
                ),
            ),
            (
                "dte",
                bar_figure(
                    grouped_pnl(
                        trades, lambda t: t.days_to_expiry if t.days_to_expiry is not None else "n/a"
                    ),
                    "Net P&L by days to expiry at entry",
                    [
                        *sorted(
                            {str(t.days_to_expiry) for t in trades if t.days_to_expiry is not None}, key=int
                        ),
                        "n/a",
                    ],
                ),
            ),
            (
                "hour",
                bar_figure(
                    grouped_pnl(trades, lambda t: f"{t.entry_ist.hour:02d}:00"), "Net P&L by entry hour (IST)"
                ),
            ),
            ("distribution", distribution_figure(trades)),
            (
                "underlying",
                bar_figure(grouped_pnl(trades, lambda t: t.underlying), "Attribution by underlying"),
            ),
            (
                "strategy",
                bar_figure(
                    grouped_pnl(trades, lambda t: t.strategy or data.title), "Attribution by strategy"
                ),
            ),
            (
                "leg",
                bar_figure(
                    grouped_pnl(trades, lambda t: t.leg or f"{t.side} {t.symbol[-2:]}"), "Attribution by leg"
                ),
            ),
        ]
    figures += [(f"mc-{r.method.value}", fan_figure(r)) for r in data.monte_carlo]
    if data.walk_forward:
        figures.append(("walk-forward", walk_forward_figure(data.walk_forward)))
    charts = [
        f'<div class="chart" id="chart-{name}">{_fig_html(figure, name, index == 0)}</div>'
        for index, (name, figure) in enumerate(figures)
    ]
    cards = "".join(
        f'<div class="card"><span>{html.escape(_metric_label(key))}</span>'
        f"<b>{_metric_cell(key, value)}</b></div>"
        for key, value in data.metrics.items()
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(data.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(data.title)}</h1><p class='sub'>{html.escape(data.subtitle)} · times in IST</p>",
        f"<div class='grid' id='metrics'>{cards}</div>",
        *(["<h2>Equity and drawdown</h2>", *charts[:1]] if data.equity else []),
        *(["<h2>Returns by period</h2>", *charts[1:2]] if data.equity else []),
    ]
    tables: list[str] = []
    for section in data.tables:
        tables.append(f"<h2>{html.escape(section.title)}</h2>")
        tables.append(
            _table(section.rows, list(section.rows[0]))
            if section.rows
            else "<p class='note'>nothing to show</p>"
        )
    if not data.equity:  # a page of results (stress windows, shocks): its tables are what it is about
        parts += tables
    breakdowns = charts[2:] if data.equity else charts
    if breakdowns:
        parts += ["<h2>Where the P&amp;L came from</h2>", "<div class='two'>", *breakdowns, "</div>"]
    if data.monte_carlo:
        parts += [
            "<h2>Monte Carlo</h2>",
            _table(_monte_carlo_rows(data.monte_carlo), list(_monte_carlo_rows(data.monte_carlo)[0])),
        ]
    if data.walk_forward:
        rows = [
            {
                "in-sample": f"{w.in_sample[0]}…{w.in_sample[1]}",
                "out-of-sample": f"{w.out_of_sample[0]}…{w.out_of_sample[1]}",
                # a legs field shows as legs.*.stop.pct: the page's title names the strategy
                "parameters": ", ".join(
                    f"{k.split(':', 1)[-1]}={v}" for k, v in sorted(w.parameters.items())
                ),
                "in-sample ₹": f"{w.in_sample_pnl:,.2f}",
                "out-of-sample ₹": f"{w.out_of_sample_pnl:,.2f}",
                "trials": "" if w.trials is None else f"{w.trials:,}",
                # a trial repeating earlier values reused their result; a pruned one stopped early
                "backtested / pruned / repeated": ""
                if w.trials is None or w.backtested is None or w.pruned is None
                else f"{w.backtested} / {w.pruned} / {w.trials - w.backtested}",
            }
            for w in data.walk_forward
        ]
        parts += ["<h2>Walk-forward windows</h2>", _table(rows, list(rows[0]))]
    if data.equity:
        parts += tables
    if data.coverage:
        parts += [
            "<h2>What was real and what was modelled</h2>",
            _table(data.coverage, list(data.coverage[0])),
        ]
    if trades:
        rows = _trade_rows(trades)
        parts += [f"<h2>Trades ({len(trades)})</h2>", _table(rows, list(rows[0]))]
    if data.notes:
        parts += ["<h2>Notes</h2>", *(f"<p class='note'>{html.escape(note)}</p>" for note in data.notes)]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_tearsheet(data: TearsheetInput, path: Path) -> Path:
    """Write the page atomically; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, render_tearsheet(data).encode("utf-8"))
    return path


def trades_from_report(rows: Sequence[Mapping[str, Any]]) -> list[TradeRow]:
    """Trades from a backtest report's JSON `tables.trades` rows."""
    return [
        TradeRow(
            symbol=str(row["symbol"]),
            side=str(row["side"]),
            quantity=int(row["quantity"]),
            entry_time=str(row["entry_time"]),
            exit_time=str(row["exit_time"]),
            entry_price=float(row["entry_price"]),
            exit_price=float(row["exit_price"]),
            charges=float(row["charges"]),
            net_pnl=float(row["net_pnl"]),
            exit_reason=str(row.get("exit_reason", "") or ""),
            strategy=str(row.get("strategy", "") or ""),
            leg=str(row.get("leg", "") or ""),
        )
        for row in rows
    ]

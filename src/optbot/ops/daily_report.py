"""The end-of-day report (spec §7.3, §11.9): HTML + JSON from the engine's books.

Trades (closed round trips) and fills, P&L net of charges, win rate, intraday P&L and drawdown
charts (inline SVG, drawn by `ops.reports`), risk events and a data-quality summary. Everything comes
from the engine's store, journal and clock, so a replayed day gives byte-identical files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optbot.core.timeutil import ist_date, to_ist, to_utc
from optbot.execution.reports import build_pnl_report
from optbot.execution.statement import with_contract_note_charges
from optbot.ops.reports import (
    Report,
    ReportFiles,
    Series,
    equity_to_drawdown,
    monthly_summary,
    read_report,
    write_report,
)
from optbot.ops.run_mode import engine_mode
from optbot.portfolio.trades import ClosedTrade

if TYPE_CHECKING:
    from optbot.engine.core import TradingEngine

#: Journal kinds that count as risk events in the report.
RISK_EVENT_KINDS = frozenset({"kill", "refused", "paused", "warning", "alert", "recovery", "strategy"})


@dataclass(frozen=True, slots=True)
class DataQuality:
    """What the session runner / operations sampler observed about the feed during the day."""

    max_feed_stale_seconds: float | None = None
    feed_reconnects: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def _r(value: float) -> float:
    return round(value, 2)


def daily_report_stem(day: date) -> str:
    return f"daily-{day.isoformat()}"


def build_daily_report(
    engine: TradingEngine,
    day: date | None = None,
    *,
    pnl_series: Sequence[tuple[str, float]] = (),
    data_quality: DataQuality | None = None,
    sentiment: Sequence[dict[str, Any]] = (),
    mode: str | None = None,
) -> Report:
    """The day's report from the engine (call after the session's EOD reconciliation). `sentiment`:
    the last market-sentiment row of each underlying (`ops.sentiment.SentimentMonitor.rows`); `mode`:
    what the session was (`ops.run_mode`: "demo (simulator)" from the demo), by default the engine's
    broker and endpoint (`engine_mode`)."""
    now = engine.clock.now_utc()
    target = day or ist_date(now)
    quality = data_quality or DataQuality()
    store = engine.store
    # the day's figures as `optbot report pnl` computes them (the contract-note charges rule)
    pnl = build_pnl_report(
        store.fills(), target, target, engine.rate_card, engine.settings.execution.charges_rounding
    )
    trades = list(pnl.trades)
    fills = with_contract_note_charges(
        store.fills(target, target), engine.rate_card, engine.settings.execution.charges_rounding
    )
    wins = sum(1 for trade in trades if trade.net_pnl > 0)
    gross = pnl.gross_pnl
    charges_on_trades = sum(trade.charges for trade in trades)
    charges_all = pnl.total_charges
    net = pnl.net_pnl

    cumulative: Series = [("start", 0.0)] if trades else []
    running = 0.0
    for number, trade in enumerate(trades, start=1):
        running += trade.net_pnl
        cumulative.append((f"trade {number}", _r(running)))
    intraday: Series = [(stamp, float(value)) for stamp, value in pnl_series]
    curve = intraday or cumulative
    drawdown = equity_to_drawdown(curve)

    risk_events = _risk_events(engine, target)
    metrics: dict[str, Any] = {
        "day": target.isoformat(),
        "mode": mode or engine_mode(engine),
        "trades": len(trades),
        "fills": len(fills),
        "wins": wins,
        "losses": len(trades) - wins,
        "win_rate_pct": _r(100.0 * wins / len(trades)) if trades else 0.0,
        "gross_pnl": _r(gross),
        "charges": _r(charges_on_trades),
        "charges_all_fills": _r(charges_all),
        "net_pnl": _r(net),
        "max_drawdown_rupees": _r(min((value for _, value in drawdown), default=0.0)),
        "open_positions_at_report": len(engine.portfolio.open_positions()),
        "orders_in_flight_at_report": len(store.orders_in_flight()),
        "risk_state": engine.risk.state.value,
        "risk_events": len(risk_events),
    }
    exit_reasons = _exit_reasons(engine, trades)
    trade_rows = [
        {
            "symbol": trade.symbol,
            "direction": "long" if trade.direction.value == "BUY" else "short",
            "quantity": trade.quantity,
            "entry": _r(trade.entry_price),
            "exit": _r(trade.exit_price),
            "gross_pnl": _r(trade.gross_pnl),
            "charges": _r(trade.charges),
            "net_pnl": _r(trade.net_pnl),
            "return_pct": _r(trade.return_pct),
            "exit_reason": reason,
        }
        for trade, reason in zip(trades, exit_reasons, strict=True)
    ]
    fill_rows = []
    for fill in fills:
        intent = store.find_intent(fill.intent_id) if fill.intent_id else None
        fill_rows.append(
            {
                "time_ist": f"{to_ist(fill.ts_utc):%H:%M:%S}",
                "symbol": fill.symbol,
                "side": fill.side.value,
                "quantity": fill.quantity,
                "price": _r(fill.price),
                "charges": _r(fill.charges),
                "strategy": intent.strategy if intent is not None else "",
                "purpose": intent.purpose.value if intent is not None else "",
            }
        )
    quality_rows = _data_quality(engine, target, quality)
    notes = list(quality.notes)
    source = engine.instruments.info.source
    if "synthetic" in source:
        notes.append(f"Option prices are synthetic (instrument source: {source}).")
    if metrics["open_positions_at_report"]:
        notes.append(
            f"{metrics['open_positions_at_report']} position(s) still open when this report was written."
        )
    series: dict[str, Series] = {}
    if intraday:
        series["intraday P&L, net of charges (₹)"] = intraday
        series["intraday drawdown (₹)"] = drawdown
    if cumulative:
        series["cumulative net P&L by closed trade (₹)"] = cumulative
    return Report(
        title=f"optbot daily report {target.isoformat()}",
        subtitle=target.isoformat(),
        generated_utc=f"{to_utc(now):%Y-%m-%dT%H:%M:%SZ}",
        metrics=metrics,
        series=series,
        tables={
            "closed trades": trade_rows,
            "fills": fill_rows,
            "risk events": risk_events,
            "market sentiment": [dict(row) for row in sentiment],
            "data quality": quality_rows,
        },
        notes=notes,
    )


def _exit_reasons(engine: TradingEngine, trades: Sequence[ClosedTrade]) -> list[str]:
    """Why each trade was closed: the purpose and reason of the intent behind its closing fill (the
    round trip names it, `ClosedTrade.exit_intent_id`); a fill no intent of optbot's made was the
    broker's or a manual one."""
    reasons: list[str] = []
    for trade in trades:
        intent = engine.store.find_intent(trade.exit_intent_id) if trade.exit_intent_id else None
        if intent is None:
            reasons.append("closed outside optbot (broker or manual)")
            continue
        why = engine.intent_reasons.get(intent.intent_id, "")
        reasons.append(f"{intent.purpose.value.lower()}: {why}" if why else intent.purpose.value.lower())
    return reasons


def _risk_events(engine: TradingEngine, day: date) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for change in engine.risk.state_changes:
        if ist_date(change.ts_utc) == day:
            rows.append(
                {
                    "time_ist": f"{to_ist(change.ts_utc):%H:%M:%S}",
                    "kind": "risk state",
                    "detail": f"{change.previous.value} -> {change.current.value}: {change.reason}",
                }
            )
    for entry in engine.journal:
        if entry.kind in RISK_EVENT_KINDS and ist_date(entry.ts_utc) == day:
            rows.append(
                {"time_ist": f"{to_ist(entry.ts_utc):%H:%M:%S}", "kind": entry.kind, "detail": entry.text}
            )
    return sorted(rows, key=lambda row: str(row["time_ist"]))


def _data_quality(engine: TradingEngine, day: date, quality: DataQuality) -> list[dict[str, Any]]:
    counters = engine.counters
    last_tick = engine.market.last_tick_utc
    anomalies = [
        row for row in engine.store.anomalies() if str(row.get("ts_utc", "")).startswith(day.isoformat())
    ]
    reconciliation = engine.last_reconciliation
    shed = sum(engine.bus.stats.shed.values())
    rows: list[tuple[str, Any]] = [
        ("ticks processed", counters.ticks),
        ("bars accepted", counters.bars),
        ("bars refused (late, incomplete or out of order)", counters.bars_refused),
        ("last tick (IST)", f"{to_ist(last_tick):%Y-%m-%d %H:%M:%S}" if last_tick is not None else "none"),
        (
            "longest feed silence in market hours (s)",
            _r(quality.max_feed_stale_seconds)
            if quality.max_feed_stale_seconds is not None
            else "not sampled",
        ),
        ("feed reconnects", quality.feed_reconnects),
        ("market data shed by the bus", shed),
        ("broker data anomalies", len(anomalies)),
        (
            "last reconciliation",
            "none"
            if reconciliation is None
            else (
                "clean" if reconciliation.clean else f"{len(reconciliation.discrepancies)} discrepancy(ies)"
            ),
        ),
    ]
    return [{"check": name, "value": value} for name, value in rows]


def write_daily_report(
    engine: TradingEngine,
    out_dir: Path,
    day: date | None = None,
    *,
    pnl_series: Sequence[tuple[str, float]] = (),
    data_quality: DataQuality | None = None,
    sentiment: Sequence[dict[str, Any]] = (),
    mode: str | None = None,
) -> ReportFiles:
    """Write `daily-YYYY-MM-DD.json` and `.html` into `out_dir` (atomically; same input, same bytes)."""
    report = build_daily_report(
        engine, day, pnl_series=pnl_series, data_quality=data_quality, sentiment=sentiment, mode=mode
    )
    return write_report(report, out_dir, daily_report_stem(date.fromisoformat(report.subtitle)))


MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def write_monthly_summary(reports_dir: Path, month: str, generated_utc: str) -> ReportFiles:
    """`monthly-YYYY-MM.json/.html` from the month's `daily-YYYY-MM-DD.json` reports in `reports_dir`."""
    if not MONTH.match(month):
        raise ValueError(f"month: expected YYYY-MM, got {month!r}")
    dailies = sorted(reports_dir.glob(f"daily-{month}-[0-3][0-9].json"))
    if not dailies:
        raise ValueError(f"month {month}: no daily reports in {reports_dir}")
    summary = monthly_summary([read_report(path) for path in dailies], month, generated_utc)
    return write_report(summary, reports_dir, f"monthly-{month}")

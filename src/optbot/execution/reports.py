"""Tax / P&L reports (spec §11.1): per-trade P&L net of charges, F&O turnover, STT paid,
daily and monthly aggregates, written as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from optbot.charges import RateCard, Rounding
from optbot.core.atomic import atomic_write_text
from optbot.execution.statement import order_charges, with_contract_note_charges
from optbot.persistence.records import FillRecord
from optbot.portfolio.trades import ClosedTrade, closed_trades


@dataclass(frozen=True, slots=True)
class PnlReport:
    start: date
    end: date
    trades: tuple[ClosedTrade, ...]
    premium_turnover: float
    stt_paid: float
    total_charges: float

    @property
    def gross_pnl(self) -> float:
        return sum(trade.gross_pnl for trade in self.trades)

    @property
    def net_pnl(self) -> float:
        return sum(trade.net_pnl for trade in self.trades)

    @property
    def tax_turnover(self) -> float:
        """F&O turnover for options under the ICAI guidance note: the sum of absolute trade P&L."""
        return sum(abs(trade.gross_pnl) for trade in self.trades)

    def daily(self) -> list[dict[str, Any]]:
        return _aggregate(self.trades, lambda day: day.isoformat())

    def monthly(self) -> list[dict[str, Any]]:
        return _aggregate(self.trades, lambda day: f"{day:%Y-%m}")


def _aggregate(trades: tuple[ClosedTrade, ...], key_of: Any) -> list[dict[str, Any]]:
    buckets: dict[str, list[ClosedTrade]] = defaultdict(list)
    for trade in trades:
        buckets[key_of(trade.exit_date)].append(trade)
    rows = []
    for key in sorted(buckets):
        group = buckets[key]
        rows.append(
            {
                "period": key,
                "trades": len(group),
                "wins": sum(1 for trade in group if trade.net_pnl > 0),
                "gross_pnl": round(sum(trade.gross_pnl for trade in group), 2),
                "charges": round(sum(trade.charges for trade in group), 2),
                "net_pnl": round(sum(trade.net_pnl for trade in group), 2),
            }
        )
    return rows


def build_pnl_report(
    fills: list[FillRecord], start: date, end: date, card: RateCard, rounding: Rounding
) -> PnlReport:
    """Trades closed between `start` and `end` (inclusive); charges and STT from the dated rate card,
    by the contract-note rule (each order's charges rounded once) as the statement and daily report."""
    restated = with_contract_note_charges(fills, card, rounding)
    trades = tuple(trade for trade in closed_trades(restated) if start <= trade.exit_date <= end)
    in_range = [fill for fill in restated if start <= fill.trade_date <= end]
    orders = order_charges(in_range, card, rounding)
    return PnlReport(
        start=start,
        end=end,
        trades=trades,
        premium_turnover=sum(fill.quantity * fill.price for fill in in_range),
        stt_paid=sum(order.charges.stt for order in orders),
        total_charges=sum(order.charges.total for order in orders),
    )


def report_json(report: PnlReport) -> dict[str, Any]:
    return {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "trades": [
            {
                "symbol": trade.symbol,
                "exchange": trade.exchange.value,
                "direction": "LONG" if trade.direction.value == "BUY" else "SHORT",
                "quantity": trade.quantity,
                "entry_date": trade.entry_date.isoformat(),
                "exit_date": trade.exit_date.isoformat(),
                "entry_price": trade.entry_price,
                "exit_price": trade.exit_price,
                "gross_pnl": round(trade.gross_pnl, 2),
                "charges": round(trade.charges, 2),
                "net_pnl": round(trade.net_pnl, 2),
            }
            for trade in report.trades
        ],
        "daily": report.daily(),
        "monthly": report.monthly(),
        "summary": {
            "trades": len(report.trades),
            "gross_pnl": round(report.gross_pnl, 2),
            "net_pnl": round(report.net_pnl, 2),
            "premium_turnover": round(report.premium_turnover, 2),
            "tax_turnover": round(report.tax_turnover, 2),
            "stt_paid": round(report.stt_paid, 2),
            "total_charges": round(report.total_charges, 2),
        },
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def write_pnl_report(report: PnlReport, directory: Path) -> list[Path]:
    stem = f"pnl-{report.start.isoformat()}-{report.end.isoformat()}"
    document = report_json(report)
    outputs = {
        directory / f"{stem}.json": json.dumps(document, indent=2),
        directory / f"{stem}-trades.csv": _csv(document["trades"]),
        directory / f"{stem}-daily.csv": _csv(document["daily"]),
        directory / f"{stem}-monthly.csv": _csv(document["monthly"]),
    }
    for path, text in outputs.items():
        atomic_write_text(path, text)
    return list(outputs)

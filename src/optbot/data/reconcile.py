"""End-of-day reconciliation of live-built 1m bars with official candles (spec §2.1.1 'Data fidelity').

WebSocket ticks are snapshots, so a live bar can miss the true high/low or close. After the session
the official ONE_MINUTE candles are fetched and compared minute by minute; every difference above a
tick is recorded in `reports/reconcile/{SYMBOL}-{date}.json`. With `repair=True` the official candles
replace the live bars in the store (the live values stay in the report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from optbot.calendar import NseCalendar, Segment
from optbot.core.atomic import atomic_write_bytes
from optbot.core.enums import Exchange, Timeframe
from optbot.core.timeutil import iso_utc
from optbot.data.history import CandleSource, candle_to_bar
from optbot.data.store import JsonStore, store_symbol


@dataclass
class ReconcileReport:
    symbol: str
    day: date
    live_bars: int = 0
    official_bars: int = 0
    missing_live: list[str] = field(default_factory=list)
    missing_official: list[str] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    repaired: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "day": self.day.isoformat(),
            "live_bars": self.live_bars,
            "official_bars": self.official_bars,
            "missing_live": self.missing_live,
            "missing_official": self.missing_official,
            "differences": self.differences,
            "repaired": self.repaired,
        }


async def reconcile_day(
    store: JsonStore,
    source: CandleSource,
    calendar: NseCalendar,
    symbol: str,
    exchange: Exchange,
    token: str,
    day: date,
    reports_dir: Path,
    tolerance: float = 0.05,
    repair: bool = False,
    segment: Segment = Segment.EQUITY,
) -> ReconcileReport:
    symbol = store_symbol(symbol)
    report = ReconcileReport(symbol, day)
    session = calendar.session(day, segment)
    if session is None:
        return report
    live = {
        bar.start_utc: bar
        for bar in store.read_bars(symbol, Timeframe.M1, session.open_utc, session.close_utc)
    }
    candles = await source.candles(
        exchange, token, "ONE_MINUTE", session.open, session.close - timedelta(minutes=1)
    )
    official = {}
    for candle in candles:
        bar = candle_to_bar(candle, symbol, token, Timeframe.M1)
        if session.open_utc <= bar.start_utc < session.close_utc:
            official[bar.start_utc] = bar
    report.live_bars, report.official_bars = len(live), len(official)
    report.missing_live = [iso_utc(moment) for moment in sorted(set(official) - set(live))]
    report.missing_official = [iso_utc(moment) for moment in sorted(set(live) - set(official))]
    for moment in sorted(set(live) & set(official)):
        ours, theirs = live[moment], official[moment]
        fields = {
            name: (getattr(ours, name), getattr(theirs, name))
            for name in ("open", "high", "low", "close")
            if abs(getattr(ours, name) - getattr(theirs, name)) > tolerance
        }
        if fields:
            report.differences.append(
                {"start_utc": iso_utc(moment), **{k: list(v) for k, v in fields.items()}}
            )
    if repair and official:
        result = store.merge_bars(symbol, Timeframe.M1, official.values())
        report.repaired = result.added + result.replaced
    atomic_write_bytes(
        reports_dir / "reconcile" / f"{symbol}-{day.isoformat()}.json",
        orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2),
    )
    return report

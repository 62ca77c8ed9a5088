"""Gap detection and data quality (spec §1.5 'Data Gap Detection', §2.4, §10.7 'Data Quality Validation').

Expected bars come from the calendar (trading days, special sessions and their trading intervals);
actual bars from the store. Missing runs are reported with a reason so the downloader can prioritise
them; quality checks cover OHLC consistency, non-positive prices, outliers (close-to-close jumps above
`outlier_pct`), negative volume, duplicates, unexpected bars and the incomplete/interpolated flags.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from optbot.calendar import NseCalendar, Segment
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.data.store import JsonStore


@dataclass(frozen=True, slots=True)
class Gap:
    symbol: str
    timeframe: Timeframe
    start_utc: datetime
    end_utc: datetime
    missing_bars: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe.value,
            "start_utc": self.start_utc.isoformat(),
            "end_utc": self.end_utc.isoformat(),
            "start_ist": self.start_utc.astimezone(IST).isoformat(),
            "missing_bars": self.missing_bars,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class QualityIssue:
    symbol: str
    timeframe: Timeframe
    start_utc: datetime
    kind: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe.value,
            "start_utc": self.start_utc.isoformat(),
            "kind": self.kind,
            "detail": self.detail,
        }


@dataclass
class SeriesReport:
    symbol: str
    timeframe: Timeframe
    expected: int = 0
    actual: int = 0
    first: datetime | None = None
    last: datetime | None = None
    gaps: list[Gap] = field(default_factory=list)
    issues: list[QualityIssue] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def missing(self) -> int:
        return sum(gap.missing_bars for gap in self.gaps)

    @property
    def coverage_pct(self) -> float:
        return 100.0 * (self.expected - self.missing) / self.expected if self.expected else 100.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe.value,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "expected": self.expected,
            "actual": self.actual,
            "missing": self.missing,
            "coverage_pct": round(self.coverage_pct, 3),
            "gaps": [gap.as_dict() for gap in self.gaps],
            "issues": [issue.as_dict() for issue in self.issues],
            "counts": dict(self.counts),
        }


class DataQualityChecker:
    def __init__(
        self, store: JsonStore, calendar: NseCalendar, outlier_pct: float, segment: Segment = Segment.EQUITY
    ) -> None:
        self.store = store
        self.calendar = calendar
        self.outlier_pct = outlier_pct
        self.segment = segment

    def expected_starts(self, first: date, last: date, timeframe: Timeframe) -> list[datetime]:
        starts: list[datetime] = []
        first = max(first, self.calendar.first_date)
        last = min(last, self.calendar.last_date)
        if first > last:
            return starts
        for day in self.calendar.trading_days(first, last, self.segment):
            session = self.calendar.session(day, self.segment)
            if session is None:
                continue
            if timeframe is Timeframe.D1:
                starts.append(session.open_utc)
                continue
            step = timedelta(seconds=timeframe.seconds)
            for open_, close in session.trading_intervals:
                moment, end = open_.astimezone(UTC), close.astimezone(UTC)
                while moment < end:
                    starts.append(moment)
                    moment += step
        return starts

    def check(
        self, symbol: str, timeframe: Timeframe, first: date | None = None, last: date | None = None
    ) -> SeriesReport:
        bars, load_report = self.store.load(symbol, timeframe)
        report = SeriesReport(symbol, timeframe, actual=len(bars))
        report.counts["duplicates"] = load_report.duplicates
        if load_report.bad_lines or load_report.torn_tail:
            report.counts["repaired_lines"] = len(load_report.bad_lines) + int(load_report.torn_tail)
        if not bars and first is None:
            return report
        first = first or bars[0].start_utc.astimezone(IST).date()
        last = last or bars[-1].start_utc.astimezone(IST).date()
        in_range = [bar for bar in bars if first <= bar.start_utc.astimezone(IST).date() <= last]
        report.actual = len(in_range)
        report.first = in_range[0].start_utc if in_range else None
        report.last = in_range[-1].start_utc if in_range else None
        expected = self.expected_starts(first, last, timeframe)
        if in_range and timeframe is not Timeframe.D1:
            # Retention may cut the oldest stored day mid-session: expect bars from the first one only.
            earliest = in_range[0].start_utc
            expected = [
                moment for moment in expected if moment >= earliest or moment.date() != earliest.date()
            ]
        report.expected = len(expected)
        self._gaps(report, expected, in_range)
        self._quality(report, in_range)
        return report

    def _gaps(self, report: SeriesReport, expected: list[datetime], bars: list[Bar]) -> None:
        present: set[Any]
        expected_keys: list[Any]
        if report.timeframe is Timeframe.D1:
            present = {bar.start_utc.astimezone(IST).date() for bar in bars}
            expected_keys = [moment.astimezone(IST).date() for moment in expected]
        else:
            present = {bar.start_utc for bar in bars}
            expected_keys = list(expected)
        unexpected = present - set(expected_keys)
        per_day = Counter(moment.astimezone(IST).date() for moment in expected)
        report.counts["unexpected_bars"] = len(unexpected)
        for key in sorted(unexpected)[:50]:
            start = key if isinstance(key, datetime) else datetime(key.year, key.month, key.day, tzinfo=IST)
            report.issues.append(
                QualityIssue(report.symbol, report.timeframe, start, "unexpected_bar", "outside the calendar")
            )
        step = timedelta(seconds=report.timeframe.seconds)
        run: list[datetime] = []

        def flush() -> None:
            if not run:
                return
            days = {moment.astimezone(IST).date() for moment in run}
            if report.timeframe is Timeframe.D1:
                reason = "missing trading days"
            elif len(days) == 1 and len(run) == per_day[next(iter(days))]:
                reason = "no data for the trading day"
            elif len(days) > 1:
                reason = "missing across sessions"
            else:
                reason = "missing bars within the session"
            end = run[-1] + (step if report.timeframe is not Timeframe.D1 else timedelta(hours=6, minutes=15))
            report.gaps.append(Gap(report.symbol, report.timeframe, run[0], end, len(run), reason))
            run.clear()

        for moment, key in zip(expected, expected_keys, strict=True):
            if key in present:
                flush()
            else:
                run.append(moment)
        flush()

    def _quality(self, report: SeriesReport, bars: list[Bar]) -> None:
        previous: Bar | None = None
        for bar in bars:
            kind = ""
            if min(bar.open, bar.high, bar.low, bar.close) <= 0:
                kind, detail = "non_positive_price", f"o={bar.open} h={bar.high} l={bar.low} c={bar.close}"
            elif bar.high < max(bar.open, bar.close, bar.low) or bar.low > min(bar.open, bar.close, bar.high):
                kind, detail = "ohlc_inconsistent", f"o={bar.open} h={bar.high} l={bar.low} c={bar.close}"
            elif bar.volume < 0:
                kind, detail = "negative_volume", f"v={bar.volume}"
            elif previous is not None and previous.close > 0:
                jump = abs(bar.close / previous.close - 1.0) * 100.0
                if jump > self.outlier_pct:
                    kind, detail = "outlier", f"close moved {jump:.1f}% from {previous.close} to {bar.close}"
            if kind:
                report.counts[kind] += 1
                report.issues.append(
                    QualityIssue(report.symbol, report.timeframe, bar.start_utc, kind, detail)
                )
            if bar.interpolated:
                report.counts["interpolated"] += 1
            if not bar.complete:
                report.counts["incomplete"] += 1
            if bar.volume == 0:
                report.counts["zero_volume"] += 1
            previous = bar

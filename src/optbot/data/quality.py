"""Gap detection and data quality (spec §1.5 'Data Gap Detection', §2.4, §10.7 'Data Quality Validation').

Expected bars come from the calendar (trading days, special sessions and their trading intervals);
actual bars from the store. Missing runs are reported with a reason so the downloader can prioritise
them; quality checks cover OHLC consistency, non-positive prices, outliers, negative volume,
duplicates, unexpected bars and the incomplete/interpolated flags.

**Outliers are judged per series.** A close-to-close jump is compared only between adjacent bars —
consecutive expected bars of one session (intraday), consecutive trading days (daily) — so a gap
across missing sessions is never an outlier. The threshold is the larger of `outlier_pct` and
`outlier_robust_multiple` robust standard deviations of the series' own adjacent log returns
(1.4826 x median absolute deviation): INDIA VIX, which moves 4 % on an ordinary day, is not judged
by NIFTY's yardstick. A jump above the threshold is a bad bar when the next adjacent bar takes at
least half of it back (a spike: the print, not the market, moved) or when it exceeds
`EXTREME_JUMP_MULTIPLE` thresholds; a sustained move (VIX re-pricing in a crash) is not a failure.
"""

from __future__ import annotations

import itertools
import math
import statistics
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
    outlier_threshold_pct: float | None = None

    @property
    def failures(self) -> list[QualityIssue]:
        """Bars that failed a price/volume check (what makes `data validate` exit non-zero)."""
        return [issue for issue in self.issues if issue.kind in FAILING_KINDS]

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
            "outlier_threshold_pct": self.outlier_threshold_pct,
        }


FAILING_KINDS = ("ohlc_inconsistent", "non_positive_price", "outlier", "negative_volume")
#: Below this many adjacent returns a series has no robust scale of its own: `outlier_pct` alone.
MIN_RETURNS_FOR_ROBUST_SCALE = 30
_MAD_TO_SIGMA = 1.4826
#: A jump this many thresholds large is a bad bar even when the market stays there.
EXTREME_JUMP_MULTIPLE = 3.0
#: The share of a jump the next bar must take back for the jump to count as a spike.
SPIKE_REVERSAL_SHARE = 0.5


def adjacent_pairs(bars: list[Bar], expected: list[datetime], timeframe: Timeframe) -> list[tuple[Bar, Bar]]:
    """(previous, bar) pairs with no expected bar between them, and (intraday) within one session."""
    if timeframe is Timeframe.D1:
        position = {moment.astimezone(IST).date(): index for index, moment in enumerate(expected)}

        def key(bar: Bar) -> Any:
            return bar.start_utc.astimezone(IST).date()
    else:
        position = {moment: index for index, moment in enumerate(expected)}

        def key(bar: Bar) -> Any:
            return bar.start_utc

    pairs: list[tuple[Bar, Bar]] = []
    for previous, bar in itertools.pairwise(bars):
        before, after = position.get(key(previous)), position.get(key(bar))
        if before is None or after is None or after != before + 1:
            continue
        same_session = previous.start_utc.astimezone(IST).date() == bar.start_utc.astimezone(IST).date()
        if timeframe is Timeframe.D1 or same_session:
            pairs.append((previous, bar))
    return pairs


def outlier_threshold_pct(pairs: list[tuple[Bar, Bar]], floor_pct: float, robust_multiple: float) -> float:
    """max(floor, exp(k x robust sigma of adjacent log returns) - 1), in percent."""
    returns = [
        math.log(bar.close / previous.close) for previous, bar in pairs if previous.close > 0 < bar.close
    ]
    if len(returns) < MIN_RETURNS_FOR_ROBUST_SCALE:
        return floor_pct
    centre = statistics.median(returns)
    sigma = _MAD_TO_SIGMA * statistics.median(abs(value - centre) for value in returns)
    return max(floor_pct, (math.exp(robust_multiple * sigma) - 1.0) * 100.0)


def _is_bad_jump(previous: Bar, bar: Bar, following: Bar | None, jump: float, threshold: float) -> bool:
    """A spike the next bar takes back, or a jump too large for the series whatever follows."""
    if jump > EXTREME_JUMP_MULTIPLE * threshold:
        return True
    if following is None:
        return False
    move, back = bar.close - previous.close, following.close - bar.close
    return move * back < 0 and abs(back) >= SPIKE_REVERSAL_SHARE * abs(move)


class DataQualityChecker:
    def __init__(
        self,
        store: JsonStore,
        calendar: NseCalendar,
        outlier_pct: float,
        segment: Segment = Segment.EQUITY,
        outlier_robust_multiple: float = 12.0,
    ) -> None:
        self.store = store
        self.calendar = calendar
        self.outlier_pct = outlier_pct
        self.segment = segment
        self.outlier_robust_multiple = outlier_robust_multiple

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
        self._quality(report, in_range, adjacent_pairs(in_range, expected, timeframe))
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

    def _quality(self, report: SeriesReport, bars: list[Bar], pairs: list[tuple[Bar, Bar]]) -> None:
        threshold = outlier_threshold_pct(pairs, self.outlier_pct, self.outlier_robust_multiple)
        report.outlier_threshold_pct = round(threshold, 3)
        previous_of = {id(bar): previous for previous, bar in pairs}
        next_of = {id(previous): bar for previous, bar in pairs}
        for bar in bars:
            kind = ""
            previous = previous_of.get(id(bar))
            if min(bar.open, bar.high, bar.low, bar.close) <= 0:
                kind, detail = "non_positive_price", f"o={bar.open} h={bar.high} l={bar.low} c={bar.close}"
            elif bar.high < max(bar.open, bar.close, bar.low) or bar.low > min(bar.open, bar.close, bar.high):
                kind, detail = "ohlc_inconsistent", f"o={bar.open} h={bar.high} l={bar.low} c={bar.close}"
            elif bar.volume < 0:
                kind, detail = "negative_volume", f"v={bar.volume}"
            elif previous is not None and previous.close > 0:
                jump = abs(bar.close / previous.close - 1.0) * 100.0
                if jump > threshold and _is_bad_jump(previous, bar, next_of.get(id(bar)), jump, threshold):
                    kind = "outlier"
                    detail = (
                        f"close moved {jump:.1f}% from {previous.close} to {bar.close} "
                        f"(threshold {threshold:.1f}%)"
                    )
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

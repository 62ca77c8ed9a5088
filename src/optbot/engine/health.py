"""Start-up and periodic health checks (spec §1.4, §1.6): each gives one clear pass/fail line."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from optbot.core.events import Tick
from optbot.core.timeutil import to_utc


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    critical: bool = True

    def line(self) -> str:
        mark = "PASS" if self.ok else ("FAIL" if self.critical else "WARN")
        return f"[{mark}] {self.name}: {self.detail}"


AsyncCheck = Callable[[], Awaitable[CheckResult]]


def check_disk_space(path: Path, minimum_free_mb: float) -> CheckResult:
    path.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(path).free / 1_048_576
    ok = free_mb >= minimum_free_mb
    return CheckResult("disk space", ok, f"{free_mb:,.0f} MB free at {path} (need {minimum_free_mb:,.0f} MB)")


def check_database(path: Path) -> CheckResult:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as connection:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as exc:
        return CheckResult("database", False, f"{path}: {exc}")
    return CheckResult("database", verdict == "ok", f"{path}: integrity {verdict}")


def check_clock_against_server(
    now: datetime, date_header: str | None, max_skew_seconds: float
) -> CheckResult:
    """Spec §1.4 'verify system date and time accuracy', §13.8: the host clock (`now`, read just after
    the reply came) against the broker server's HTTP `Date` header. The header is truncated to the
    second, so the server's time is taken as the middle of that second (±0.5 s, plus transit)."""
    name = "clock vs broker server"
    if not date_header:
        return CheckResult(name, True, "the server sent no Date header", critical=False)
    try:
        server = parsedate_to_datetime(date_header) + timedelta(seconds=0.5)
    except (TypeError, ValueError):
        return CheckResult(name, True, f"unreadable Date header {date_header!r}", critical=False)
    skew = (now - server).total_seconds()
    ok = abs(skew) <= max_skew_seconds
    detail = f"{skew:+.1f} s vs the broker server's clock (limit ±{max_skew_seconds:g} s)"
    return CheckResult(name, ok, detail, critical=False)


class ClockSkewMonitor:
    """Spec §13.8: how far the host clock is from the exchange's, from the socket's own ticks.

    A socket tick carries the exchange's timestamp and the host time it was decoded at; their
    difference is the clock offset plus the transit delay, which is never negative. The smallest
    difference over many ticks is therefore the offset plus the shortest transit (milliseconds):
    close to zero on a synchronised host, near -X when the host runs X seconds slow, near +X when
    it runs fast. A quote whose exchange time is old (an illiquid contract, a REST fallback quote)
    only makes the difference larger, so it cannot pass for a fast clock once one fresh tick came.
    """

    def __init__(self, min_samples: int) -> None:
        self.min_samples = min_samples
        self._smallest: float | None = None
        self._samples = 0

    def observe(self, tick: Tick) -> None:
        """One tick as it arrives; only socket ticks with an exchange timestamp count."""
        if tick.ts_exchange is None or tick.source != "ws":
            return
        offset = (tick.ts_utc - tick.ts_exchange).total_seconds()
        if self._smallest is None or offset < self._smallest:
            self._smallest = offset
        self._samples += 1

    def take(self) -> float | None:
        """The skew estimate (seconds, + = host ahead) since the last call, or None when fewer than
        `min_samples` ticks came (too few to trust the smallest transit); the window starts anew."""
        smallest, samples = self._smallest, self._samples
        self._smallest, self._samples = None, 0
        if smallest is None or samples < self.min_samples:
            return None
        return smallest


def check_data_freshness(last_bar_end: datetime | None, expected_after: datetime, symbol: str) -> CheckResult:
    if last_bar_end is None:
        return CheckResult(f"data freshness {symbol}", False, "no stored bars")
    ok = to_utc(last_bar_end) >= to_utc(expected_after)
    age = to_utc(expected_after) - to_utc(last_bar_end)
    detail = f"last bar ends {to_utc(last_bar_end).isoformat()}"
    if not ok:
        detail += f" ({age / timedelta(hours=1):.1f} h older than expected)"
    return CheckResult(f"data freshness {symbol}", ok, detail, critical=False)


async def run_checks(checks: Sequence[AsyncCheck]) -> list[CheckResult]:
    """Run every check; a check that raises becomes a FAIL line instead of aborting the rest."""
    results: list[CheckResult] = []
    for check in checks:
        try:
            results.append(await check())
        except Exception as exc:
            name = getattr(check, "check_name", getattr(check, "__name__", "check"))
            results.append(CheckResult(str(name), False, f"{type(exc).__name__}: {exc}"))
    return results

"""Say what is real (issue 14 part 5): per underlying and day, which bars drive a backtest.

Worked out before anything runs, from what the data root holds, without reading a single option bar:
the index timeframe used (the finest stored, `daily` as the declared last resort), INDIA VIX's, and
whether option prices will be real (the contract's own bars from the archive), synthetic (the model,
derived from the index bar) or missing (neither: no archive bars and no model listing for it).
The console prints the table before the run; every report carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from optbot.analytics.synthetic import model_for
from optbot.backtest.option_bars import MISSING, OptionBarSource, OptionPrices
from optbot.backtest.store_data import DAILY_SOURCE, StoreHistory
from optbot.calendar import NseCalendar
from optbot.config import Settings
from optbot.core.errors import UserError
from optbot.sim.market.instruments import INDEX_ROWS

_LISTED_INDICES = {str(row["name"]).upper() for row in INDEX_ROWS}
NOT_STORED = "-"


@dataclass(frozen=True, slots=True)
class CoverageRow:
    underlying: str
    day: date
    index_bars: str  # 1m / 5m / 15m / daily / "-" (none stored)
    vix_bars: str
    options: str  # real / synthetic / missing
    option_bars: str  # the real option bars' timeframe, "-" otherwise
    replayed: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "underlying": self.underlying,
            "day": self.day.isoformat(),
            "index_bars": self.index_bars,
            "vix_bars": self.vix_bars,
            "options": self.options,
            "option_bars": self.option_bars,
            "replayed": self.replayed,
        }

    @property
    def daily_fallback(self) -> bool:
        return self.replayed and DAILY_SOURCE in (self.index_bars, self.vix_bars)


@dataclass(frozen=True)
class CoveragePlan:
    underlyings: tuple[str, ...]  # the universe's underlyings the store can replay
    days: tuple[tuple[date, str], ...]  # replayed days and the first underlying's index timeframe
    skipped: tuple[date, ...]
    rows: tuple[CoverageRow, ...]


def plan_coverage(
    history: StoreHistory,
    archive: OptionBarSource | None,
    calendar: NseCalendar,
    settings: Settings,
    wanted: Sequence[str],
    vix: str,
    trading: Sequence[date],
) -> CoveragePlan:
    """Which of `wanted` the store can replay, on which of the `trading` days, with what data.

    A day is replayed when every replayable underlying and INDIA VIX have bars that day; an
    underlying without any stored bars (or without an instrument listing) is left out, and the
    plan is refused (UserError) when none is left or no day has data."""
    prices = OptionPrices(
        calendar,
        settings.replay,
        archive,
        lambda _name: None,
        lambda: None,
        model_for(settings.analytics.calibration_file, calendar),
    )
    underlyings = tuple(name for name in wanted if name in _LISTED_INDICES and history.has(name))
    if not underlyings:
        held = ", ".join(sorted(history.store.symbols())) or "nothing"
        raise UserError(
            f"the data root {history.data_root} has no index bars for {', '.join(wanted)} "
            f"(it holds {held}); import or download some first (optbot data import / download)"
        )
    if not history.has(vix):
        raise UserError(f"the data root {history.data_root} has no {vix} bars (needed for every session)")
    rows: list[CoverageRow] = []
    days: list[tuple[date, str]] = []
    skipped: list[date] = []
    for day in trading:
        vix_day = history.day(vix, day)
        sources = {name: history.day(name, day) for name in underlyings}
        replayed = vix_day is not None and all(found is not None for found in sources.values())
        for name in underlyings:
            found = sources[name]
            status, timeframe = prices.coverage(name, day)
            rows.append(
                CoverageRow(
                    name,
                    day,
                    found.source if found is not None else NOT_STORED,
                    vix_day.source if vix_day is not None else NOT_STORED,
                    status if found is not None else MISSING,
                    timeframe or NOT_STORED,
                    replayed,
                )
            )
        first = sources[underlyings[0]]
        if replayed and first is not None:
            days.append((day, first.source))
        else:
            skipped.append(day)
    if not days:
        raise UserError(
            f"the data root {history.data_root} has no bars for any trading day between "
            f"{trading[0]} and {trading[-1]} (for {', '.join(underlyings)} and {vix})"
        )
    return CoveragePlan(underlyings, tuple(days), tuple(skipped), tuple(rows))


def coverage_table(rows: Sequence[CoverageRow]) -> list[str]:
    """The table as aligned text lines (the CLI prints it before running)."""
    header = ("underlying", "day", "index", "vix", "options", "option bars", "replayed")
    body = [
        (
            row.underlying,
            row.day.isoformat(),
            row.index_bars,
            row.vix_bars,
            row.options,
            row.option_bars,
            "yes" if row.replayed else "no (skipped)",
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *body]) for column in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    ]


__all__ = ["CoveragePlan", "CoverageRow", "coverage_table", "plan_coverage"]

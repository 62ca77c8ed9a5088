"""Say what is real (issue 14 part 5): per underlying and day, which bars drive a backtest.

Worked out before anything runs, from what the data root holds, without reading a single option bar:
the index timeframe used (the finest stored; the near-month future's shifted to the index where the
index has no intraday bars, "futures 1m"; `daily` as the declared last resort), INDIA VIX's, whether
option prices will be real (the contract's own bars from the archive), synthetic (the model, derived
from the index bar) or missing (neither: no archive bars and no model listing for it), and which bars
the strategies decide on.

**Entries on bars coarser than a strategy asks for.** A strategy that enters on 5-minute bars gets
them as stored or rolled up from 1-minute bars (not from 3-minute ones: 5 is not a multiple of 3).
On a day whose finest bars are coarser (15m only), a strategy whose entry timeframe adapts (the
directional ones, `strategy.entry_timeframe_adapts`, on by default) enters on the finest bars the day
gives that are at least as coarse as its own (15m; 15m from 3m bars): the coverage row says
"15m (adapted: adx_trend's 5m needs finer bars)" and the console and the report say how many days
did so. A strategy that does not adapt is not quietly run on other bars: the day is still replayed
(held positions are marked, stops work), but the coverage row says "refused: ..." and the console
warns before running; when no replayed day allows the strategies' entries at all, the plan is refused
with the fix (import finer bars, or set `strategy.entry_timeframe` to the bars you have, e.g.
OPTBOT__STRATEGY__ENTRY_TIMEFRAME=15m). A daily fallback day has no intraday bar to adapt to. The
console prints the table before the run; every report carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from optbot.analytics.synthetic import model_for
from optbot.backtest.option_bars import MISSING, OptionBarSource, OptionPrices
from optbot.backtest.store_data import DAILY_SOURCE, ROLLED_TIMEFRAMES, IndexDay, StoreHistory, can_roll
from optbot.calendar import NseCalendar
from optbot.config import Settings
from optbot.core.enums import Timeframe
from optbot.core.errors import UserError
from optbot.sim.market.instruments import INDEX_ROWS

_LISTED_INDICES = {str(row["name"]).upper() for row in INDEX_ROWS}
NOT_STORED = "-"
REFUSED = "refused"
ANY_INTRADAY = "intraday"
ADAPTED = "adapted"
ONLY_DAILY = "only a daily bar"


class DecisionNeed(NamedTuple):
    """What one strategy decides on: its entry timeframe (None: any intraday bar), and whether it
    enters on the day's finest coarser bars when the data cannot give that timeframe."""

    name: str
    timeframe: Timeframe | None
    adapts: bool = False


@dataclass(frozen=True, slots=True)
class CoverageRow:
    underlying: str
    day: date
    index_bars: str  # 1m / 5m / 15m / daily / "-" (none stored)
    vix_bars: str
    options: str  # real / synthetic / missing
    option_bars: str  # the real option bars' timeframe, "-" otherwise
    replayed: bool
    entries: str = NOT_STORED  # the bars the strategies decide on ("5m"), or "refused: <why>"

    def as_dict(self) -> dict[str, object]:
        return {
            "underlying": self.underlying,
            "day": self.day.isoformat(),
            "index_bars": self.index_bars,
            "vix_bars": self.vix_bars,
            "options": self.options,
            "option_bars": self.option_bars,
            "replayed": self.replayed,
            "entries": self.entries,
        }

    @property
    def entries_refused(self) -> bool:
        return self.replayed and self.entries.startswith(REFUSED)

    @property
    def entries_need_intraday(self) -> bool:
        """Refused because the day has only a daily bar (no entry timeframe helps: import intraday)."""
        return self.entries_refused and ONLY_DAILY in self.entries

    @property
    def entries_adapted(self) -> bool:
        return self.replayed and f"({ADAPTED}:" in self.entries


def decision_bars(
    found: IndexDay | None, needs: Sequence[DecisionNeed], rolled: Sequence[Timeframe] = ROLLED_TIMEFRAMES
) -> str:
    """What the strategies decide on that day: the timeframes they ask for when the day's bars give
    them (as stored or rolled up to one of `rolled`), else for an adapting strategy the finest of
    those at least as coarse, "15m (adapted: ...)", else "refused: <why>" naming the first strategy
    left without."""
    if found is None:
        return NOT_STORED
    base = Timeframe.D1 if found.is_daily_fallback else found.timeframe
    given: list[str] = []
    for need in needs or (DecisionNeed("", None),):
        name, timeframe = need.name, need.timeframe
        if base is Timeframe.D1:
            return f"{REFUSED}: {ONLY_DAILY}, {name or 'the strategy'} needs intraday bars"
        if timeframe is None:
            given.append(ANY_INTRADAY)
        elif base is timeframe or can_roll(base, timeframe):
            given.append(timeframe.value)
        elif need.adapts and (adapted := adapted_timeframe(base, timeframe, rolled)) is not None:
            given.append(f"{adapted.value} ({ADAPTED}: {name}'s {timeframe.value} needs finer bars)")
        else:
            return f"{REFUSED}: {found.source} bars too coarse for {name}'s {timeframe.value} entries"
    return ", ".join(dict.fromkeys(given))


def adapted_timeframe(
    base: Timeframe, wanted: Timeframe, rolled: Sequence[Timeframe] = ROLLED_TIMEFRAMES
) -> Timeframe | None:
    """The finest intraday timeframe a day with `base` bars delivers (as stored or rolled up) that is
    at least as coarse as `wanted`; None on a daily fallback."""
    if base is Timeframe.D1:
        return None
    delivered = [base, *(timeframe for timeframe in rolled if can_roll(base, timeframe))]
    coarser = [
        timeframe
        for timeframe in delivered
        if timeframe.seconds >= wanted.seconds and timeframe is not Timeframe.D1
    ]
    return min(coarser, key=lambda timeframe: timeframe.seconds, default=None)


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
    needs: Sequence[DecisionNeed] = (),
) -> CoveragePlan:
    """Which of `wanted` the store can replay, on which of the `trading` days, with what data.

    A day is replayed when every replayable underlying and INDIA VIX have bars that day; an
    underlying without any stored bars (or without an instrument listing) is left out, and the
    plan is refused (UserError) when none is left, no day has data, or no replayed day has bars the
    strategies (`needs`) can decide on."""
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
                    decision_bars(found, needs, history.rolled),
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
    replayed_rows = [row for row in rows if row.replayed]
    if replayed_rows and all(row.entries_refused for row in replayed_rows):
        example = replayed_rows[0]
        have = example.index_bars.split()[-1]
        fix = (
            "import intraday bars"
            if have == DAILY_SOURCE
            else "import finer bars, set strategy.entry_timeframe to the bars you have "
            f"(e.g. OPTBOT__STRATEGY__ENTRY_TIMEFRAME={have}), or let it adapt "
            "(OPTBOT__STRATEGY__ENTRY_TIMEFRAME_ADAPTS=true)"
        )
        raise UserError(
            f"no replayed day has bars the strategies can decide on ({example.underlying} {example.day}: "
            f"{example.entries}); {fix}"
        )
    return CoveragePlan(underlyings, tuple(days), tuple(skipped), tuple(rows))


def refused_fix(refused: Sequence[CoverageRow]) -> str:
    """What to do about days whose bars the strategies cannot enter on."""
    if all(row.entries_need_intraday for row in refused):
        return "Import intraday bars for them."
    return (
        "Import finer bars, set strategy.entry_timeframe to the bars you have, or let it adapt "
        "(strategy.entry_timeframe_adapts)."
    )


def coverage_table(rows: Sequence[CoverageRow]) -> list[str]:
    """The table as aligned text lines (the CLI prints it before running)."""
    header = ("underlying", "day", "index", "vix", "options", "option bars", "replayed", "entries on")
    body = [
        (
            row.underlying,
            row.day.isoformat(),
            row.index_bars,
            row.vix_bars,
            row.options,
            row.option_bars,
            "yes" if row.replayed else "no (skipped)",
            row.entries,
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *body]) for column in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    ]


__all__ = [
    "CoveragePlan",
    "CoverageRow",
    "DecisionNeed",
    "adapted_timeframe",
    "coverage_table",
    "decision_bars",
    "plan_coverage",
    "refused_fix",
]

"""Stress and regime tests (spec §11.5, §11.8).

- **Historical**: named windows (COVID crash, demonetisation, the 2024 election results, Union Budget
  days, the largest INDIA VIX spikes found in the user's data) run as ordinary backtests and summarised.
- **Hypothetical**: a set of option positions repriced under shocks — spot ±1/2/5/10 %, INDIA VIX
  +5/+10/+20 points, one day of time decay — with Black-76 at each contract's own implied volatility
  (solved from its mark), moved by the VIX shock times `iv_per_vix_point`.
- **Regimes**: a backtest's trades split by the §10.1 regime of their day (trending, ranging, volatile,
  low-vol, gap), by days to expiry and by weekday.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from optbot.analytics.pricing import black76_price, implied_volatility
from optbot.config.sections.strategy import StrategySettings
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.research.tearsheet import WEEKDAYS, TableSection, TradeRow
from optbot.strategy.regime import detect_regime


@dataclass(frozen=True, slots=True)
class StressWindow:
    name: str
    start: date
    end: date


UNION_BUDGET_DAYS = (
    date(2017, 2, 1),
    date(2018, 2, 1),
    date(2019, 2, 1),
    date(2019, 7, 5),
    date(2020, 2, 1),
    date(2021, 2, 1),
    date(2022, 2, 1),
    date(2023, 2, 1),
    date(2024, 2, 1),
    date(2024, 7, 23),
    date(2025, 2, 1),
)

NAMED_WINDOWS: tuple[StressWindow, ...] = (
    StressWindow("COVID crash", date(2020, 2, 20), date(2020, 4, 30)),
    StressWindow("demonetisation", date(2016, 11, 8), date(2016, 11, 11)),
    StressWindow("2024 election results", date(2024, 6, 4), date(2024, 6, 4)),
    *(StressWindow(f"Union Budget {day.isoformat()}", day, day) for day in UNION_BUDGET_DAYS),
)


def vix_spike_windows(vix_closes: Mapping[date, float], count: int) -> list[StressWindow]:
    """The `count` largest one-day INDIA VIX rises (in %), each as a one-day window."""
    days = sorted(vix_closes)
    changes = [
        (vix_closes[today] / vix_closes[yesterday] - 1.0, today)
        for yesterday, today in pairwise(days)
        if vix_closes[yesterday] > 0
    ]
    largest = sorted(changes, key=lambda item: (-item[0], item[1]))[:count]
    return [
        StressWindow(f"INDIA VIX +{change:.0%} on {day}", day, day)
        for change, day in sorted(largest, key=lambda x: x[1])
    ]


# --- hypothetical shocks ------------------------------------------------------------------------------

_SYMBOL = re.compile(
    r"^(?P<underlying>[A-Z&]+?)(?P<expiry>\d{2}[A-Z]{3}\d{2})(?P<strike>[\d.]+)(?P<kind>CE|PE)$"
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True, slots=True)
class OptionPosition:
    """A held option: signed quantity (units; negative = short) and its current mark."""

    symbol: str
    underlying: str
    expiry: date
    strike: float
    option_type: str  # "CE" / "PE"
    quantity: int
    mark: float

    @classmethod
    def from_symbol(cls, symbol: str, quantity: int, mark: float) -> OptionPosition:
        match = _SYMBOL.match(symbol.strip().upper())
        if match is None:
            raise ValueError(f"{symbol!r} is not an option trading symbol (e.g. NIFTY26NOV2024000CE)")
        text = match.group("expiry")
        expiry = date(2000 + int(text[5:]), _MONTHS.index(text[2:5]) + 1, int(text[:2]))
        return cls(
            symbol,
            match.group("underlying"),
            expiry,
            float(match.group("strike")),
            match.group("kind"),
            quantity,
            mark,
        )


@dataclass(frozen=True, slots=True)
class Shock:
    name: str
    spot_pct: float = 0.0
    vix_points: float = 0.0
    days: float = 0.0


DEFAULT_SHOCKS: tuple[Shock, ...] = (
    *(
        Shock(f"spot {sign}{size:g} %", spot_pct=float(f"{sign}{size}"))
        for size in (1, 2, 5, 10)
        for sign in "-+"
    ),
    *(Shock(f"VIX +{points:g}", vix_points=points) for points in (5.0, 10.0, 20.0)),
    Shock("one day of decay", days=1.0),
    Shock("spot -5 % and VIX +10", spot_pct=-5.0, vix_points=10.0),
)


@dataclass(frozen=True, slots=True)
class ShockResult:
    shock: Shock
    pnl: float  # rupees, sum over positions
    by_position: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class ShockReport:
    results: tuple[ShockResult, ...]
    implied_vols: tuple[tuple[str, float], ...]
    notes: tuple[str, ...]  # contracts whose mark had no implied vol, and what was used instead


def _years_to_expiry(at: datetime, expiry: date, close: tuple[int, int] = (15, 30)) -> float:
    expiry_close = datetime(expiry.year, expiry.month, expiry.day, *close, tzinfo=IST)
    return max((expiry_close - at).total_seconds(), 0.0) / (365.0 * 86_400.0)


def shock_positions(
    positions: Sequence[OptionPosition],
    spots: Mapping[str, float],
    at: datetime,
    shocks: Sequence[Shock] = DEFAULT_SHOCKS,
    iv_per_vix_point: float = 1.0,
    rate: float = 0.065,
    fallback_vol: float = 0.15,
) -> ShockReport:
    """P&L of the positions under each shock, each contract priced at its own implied vol.

    A mark with no implied vol (no time value, stale) is priced at `fallback_vol` (the caller passes the
    ATM vol its model gives) and the report's notes say so."""
    vols: dict[str, float] = {}
    notes: list[str] = []
    for position in positions:
        if position.underlying not in spots:
            raise ValueError(f"no spot price given for {position.underlying} ({position.symbol})")
        years = _years_to_expiry(at, position.expiry)
        solved = implied_volatility(
            position.mark,
            spots[position.underlying],
            position.strike,
            years,
            rate,
            position.option_type,
            model="black76",
        )
        if solved.volatility is None:
            notes.append(
                f"{position.symbol}: no implied vol from its mark ({solved.reason}); used {fallback_vol:.2%}"
            )
        vols[position.symbol] = solved.volatility if solved.volatility is not None else fallback_vol
    results = []
    for shock in shocks:
        rows = []
        for position in positions:
            spot = spots[position.underlying] * (1.0 + shock.spot_pct / 100.0)
            vol = max(vols[position.symbol] + shock.vix_points / 100.0 * iv_per_vix_point, 0.01)
            years = _years_to_expiry(at + timedelta(days=shock.days), position.expiry)
            price = black76_price(spot, position.strike, years, vol, rate, position.option_type)
            rows.append((position.symbol, round((price - position.mark) * position.quantity, 2)))
        results.append(ShockResult(shock, round(sum(value for _, value in rows), 2), tuple(rows)))
    return ShockReport(tuple(results), tuple((k, round(v, 6)) for k, v in vols.items()), tuple(notes))


# --- regimes, days to expiry, weekday ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SplitRow:
    group: str
    trades: int
    net_pnl: float
    win_rate: float | None


def _split(
    trades: Sequence[TradeRow],
    key: Callable[[TradeRow], Sequence[str]],
    order: Callable[[str], Any] = str,
) -> list[SplitRow]:
    """Trades grouped by the labels `key` gives, rows in `order` of their labels (a trader reads "Mon"
    and "3 days", sorted as a week and as a count, not as text)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for trade in trades:
        for label in key(trade):
            groups[label].append(trade.net_pnl)
    return [
        SplitRow(label, len(pnls), round(sum(pnls), 2), sum(1 for p in pnls if p > 0) / len(pnls))
        for label, pnls in sorted(groups.items(), key=lambda item: order(item[0]))
    ]


def day_regimes(
    daily_bars: Sequence[Bar],
    vix_closes: Mapping[date, float],
    settings: StrategySettings,
    only: Collection[date] | None = None,
) -> dict[date, tuple[str, ...]]:
    """The §10.1 regimes of each day (or of the days in `only`), judged as the strategy would at the
    open (closed bars before it)."""
    result: dict[date, tuple[str, ...]] = {}
    ordered = sorted(daily_bars, key=lambda bar: bar.start_utc)
    for index, bar in enumerate(ordered):
        day = bar.start_utc.astimezone(IST).date()
        if only is not None and day not in only:
            continue
        previous_days = [d for d in vix_closes if d < day]
        vix = vix_closes[max(previous_days)] if previous_days else None
        assessment = detect_regime(ordered[:index], vix, settings, today_open=bar.open)
        result[day] = tuple(sorted(regime.value for regime in assessment.regimes))
    return result


def split_by_regime(trades: Sequence[TradeRow], regimes: Mapping[date, Sequence[str]]) -> list[SplitRow]:
    return _split(trades, lambda t: tuple(regimes.get(t.entry_ist.date(), ("no daily data",))))


def _days_label(days: int | None) -> str:
    return "n/a" if days is None else f"{days} day" if days == 1 else f"{days} days"


def split_by_days_to_expiry(trades: Sequence[TradeRow]) -> list[SplitRow]:
    return _split(
        trades,
        lambda t: (_days_label(t.days_to_expiry),),
        lambda label: (1, 0) if label == "n/a" else (0, int(label.split()[0])),
    )


def split_by_weekday(trades: Sequence[TradeRow]) -> list[SplitRow]:
    return _split(trades, lambda t: (WEEKDAYS[t.entry_ist.weekday()],), WEEKDAYS.index)


def split_rows(rows: Sequence[SplitRow]) -> list[dict[str, str | int]]:
    """Split rows as table cells: rupees with two decimals, win rate as a percentage."""
    return [
        {
            "group": row.group,
            "trades": row.trades,
            "net P&L ₹": f"{row.net_pnl:,.2f}",
            "win rate": "n/a" if row.win_rate is None else f"{row.win_rate:.1%}",
        }
        for row in rows
    ]


def split_tables(trades: Sequence[TradeRow], regimes: Mapping[date, Sequence[str]]) -> list[TableSection]:
    """The §10.1 regime, days-to-expiry and weekday splits of a backtest's trades, as tearsheet tables."""
    return [
        TableSection(
            "Trades by §10.1 regime of the day (judged on NIFTY)",
            split_rows(split_by_regime(trades, regimes)),
        ),
        TableSection("Trades by days to expiry at entry", split_rows(split_by_days_to_expiry(trades))),
        TableSection("Trades by entry weekday", split_rows(split_by_weekday(trades))),
    ]

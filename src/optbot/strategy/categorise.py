"""ADX categorisation of underlyings (spec §3.3, §5.4) and the daily rebalance between categories.

Category 1 (buy CE): ADX > 25, +DI > -DI, volume above average.
Category 2 (buy PE): ADX > 25, -DI > +DI, volume above average.
Category 3 (no trade): anything else (ADX < 20, the 20-25 grey zone, +DI ≈ -DI, low volume), or
not enough history for a reliable ADX; the reason always says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from optbot.config.sections.strategy import StrategySettings
from optbot.core.events import Bar
from optbot.indicators import adx
from optbot.strategy.series import closes, highs, last_finite, lows, volumes


class Category(IntEnum):
    BUY_CE = 1
    BUY_PE = 2
    NO_TRADE = 3


@dataclass(frozen=True, slots=True)
class Categorisation:
    symbol: str
    category: Category
    adx: float | None
    plus_di: float | None
    minus_di: float | None
    volume_ratio: float | None
    reason: str
    as_of: str = ""  # ISO date of the last daily bar used

    @property
    def tradable(self) -> bool:
        return self.category is not Category.NO_TRADE


def categorise(symbol: str, daily_bars: Sequence[Bar], settings: StrategySettings) -> Categorisation:
    """Categorise from closed daily bars (oldest first). Declines (category 3) with a reason when unsure."""
    as_of = daily_bars[-1].start_utc.date().isoformat() if daily_bars else ""
    if len(daily_bars) < settings.adx_min_history_days:
        return Categorisation(
            symbol,
            Category.NO_TRADE,
            None,
            None,
            None,
            None,
            f"insufficient history: {len(daily_bars)} daily bars < {settings.adx_min_history_days} needed "
            "for a reliable ADX",
            as_of,
        )
    adx_values, plus_values, minus_values = adx(
        highs(daily_bars), lows(daily_bars), closes(daily_bars), settings.adx_period
    )
    adx_now, plus_di, minus_di = last_finite(adx_values), last_finite(plus_values), last_finite(minus_values)
    if adx_now is None or plus_di is None or minus_di is None:
        return Categorisation(
            symbol, Category.NO_TRADE, None, None, None, None, "ADX not defined on this history", as_of
        )
    volume_ratio = _volume_ratio(daily_bars, settings.volume_average_days)
    values = f"ADX {adx_now:.1f}, +DI {plus_di:.1f}, -DI {minus_di:.1f}"
    volume_text = "volume n/a" if volume_ratio is None else f"volume {volume_ratio:.2f}x average"

    def result(category: Category, why: str) -> Categorisation:
        return Categorisation(
            symbol,
            category,
            adx_now,
            plus_di,
            minus_di,
            volume_ratio,
            f"{why} ({values}, {volume_text})",
            as_of,
        )

    if adx_now < settings.adx_no_trend_threshold:
        return result(Category.NO_TRADE, f"no trend: ADX < {settings.adx_no_trend_threshold:g}")
    if adx_now <= settings.adx_trend_threshold:
        return result(
            Category.NO_TRADE,
            f"ADX in the {settings.adx_no_trend_threshold:g}-{settings.adx_trend_threshold:g} grey zone",
        )
    if abs(plus_di - minus_di) <= settings.di_similarity_points:
        return result(Category.NO_TRADE, f"+DI ≈ -DI (within {settings.di_similarity_points:g} points)")
    if volume_ratio is None:
        if not settings.allow_missing_volume:
            return result(Category.NO_TRADE, "volume unavailable and allow_missing_volume is off")
        volume_note = "; volume criterion skipped (series has no volume)"
    elif volume_ratio <= 1.0:
        return result(Category.NO_TRADE, "low volume: not above its average")
    else:
        volume_note = ""
    if plus_di > minus_di:
        return result(
            Category.BUY_CE,
            f"category 1 buy CE: ADX > {settings.adx_trend_threshold:g}, +DI > -DI{volume_note}",
        )
    return result(
        Category.BUY_PE, f"category 2 buy PE: ADX > {settings.adx_trend_threshold:g}, -DI > +DI{volume_note}"
    )


def _volume_ratio(daily_bars: Sequence[Bar], window: int) -> float | None:
    """Latest volume over the average of the `window` bars before it; None when there is no volume."""
    volume = volumes(daily_bars)
    if len(volume) <= window or not np.any(volume[-window - 1 :] > 0):
        return None
    average = float(np.mean(volume[-window - 1 : -1]))
    if average <= 0:
        return None
    return float(volume[-1]) / average


@dataclass(frozen=True, slots=True)
class Rebalance:
    """The day's categories against yesterday's: which underlyings are CE / PE candidates (spec §3.3)."""

    ce_pool: tuple[str, ...]
    pe_pool: tuple[str, ...]
    removed: tuple[str, ...]
    moved: tuple[str, ...]
    categorisations: tuple[Categorisation, ...]

    def describe(self) -> list[str]:
        return [f"{c.symbol}: category {int(c.category)} - {c.reason}" for c in self.categorisations]


def rebalance(
    categorisations: Sequence[Categorisation], previous: Mapping[str, Category] | None = None
) -> Rebalance:
    previous = previous or {}
    ce = tuple(sorted(c.symbol for c in categorisations if c.category is Category.BUY_CE))
    pe = tuple(sorted(c.symbol for c in categorisations if c.category is Category.BUY_PE))
    removed = tuple(
        sorted(
            c.symbol
            for c in categorisations
            if c.category is Category.NO_TRADE
            and previous.get(c.symbol, Category.NO_TRADE) is not Category.NO_TRADE
        )
    )
    moved = tuple(
        sorted(
            c.symbol
            for c in categorisations
            if c.symbol in previous
            and previous[c.symbol] is not c.category
            and c.category is not Category.NO_TRADE
        )
    )
    return Rebalance(ce, pe, removed, moved, tuple(categorisations))

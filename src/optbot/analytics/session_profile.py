"""One session's intraday profile (spec §11.2 "Volume Profile" / "Market Profile") for the trader's view.

Built from the session's closed 1-minute bars with `optbot.indicators.profile`: the market (TPO) profile
needs no volume, so it always gives the point of control, value area and initial balance; a volume
profile replaces the POC and value area only when the bars carry real volume (an index has none, and
none is ever invented).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from optbot.core.events import Bar
from optbot.indicators.profile import market_profile, volume_profile_from_bars

#: Length of one TPO period: the market-profile convention (the initial balance is its first periods).
TPO_PERIOD = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class PeriodRange:
    """The high and low of one TPO period (the 1-minute bars inside it merged)."""

    high: float
    low: float


@dataclass(frozen=True, slots=True)
class SessionProfile:
    """Profile levels of one session; None where the session has no usable bar yet."""

    point_of_control: float | None = None
    value_area_high: float | None = None
    value_area_low: float | None = None
    initial_balance_high: float | None = None
    initial_balance_low: float | None = None
    basis: str | None = None  # "volume" when the POC/value area come from bar volume, else "TPO"

    def as_row(self) -> dict[str, Any]:
        """Plain fields for the dashboard and the daily report."""
        return {
            "profile_poc": self.point_of_control,
            "profile_vah": self.value_area_high,
            "profile_val": self.value_area_low,
            "initial_balance_high": self.initial_balance_high,
            "initial_balance_low": self.initial_balance_low,
            "profile_basis": self.basis,
        }


def tpo_periods(bars: Sequence[Bar], period: timedelta = TPO_PERIOD) -> list[PeriodRange]:
    """Merge the bars into TPO periods counted from the first bar's start (the session's first print)."""
    merged: dict[int, PeriodRange] = {}
    first_start = bars[0].start_utc
    for bar in bars:
        index = int((bar.start_utc - first_start) // period)
        found = merged.get(index)
        merged[index] = (
            PeriodRange(bar.high, bar.low)
            if found is None
            else PeriodRange(max(found.high, bar.high), min(found.low, bar.low))
        )
    return [merged[index] for index in sorted(merged)]


def session_profile(
    bars: Sequence[Bar],
    *,
    tick: float,
    bins: int,
    value_area_fraction: float,
    initial_balance_periods: int,
) -> SessionProfile:
    """The profile of one session's closed bars, in time order. Interpolated bars (gap fills with no
    trade behind them) are left out; no bar gives an all-None profile."""
    traded = [bar for bar in bars if not bar.interpolated]
    if not traded:
        return SessionProfile()
    tpo = market_profile(
        tpo_periods(traded),
        tick=tick,
        initial_balance_periods=initial_balance_periods,
        value_area=value_area_fraction,
    )
    if sum(bar.volume for bar in traded) <= 0:
        return SessionProfile(
            tpo.poc,
            tpo.value_area_high,
            tpo.value_area_low,
            tpo.initial_balance_high,
            tpo.initial_balance_low,
            "TPO",
        )
    by_volume = volume_profile_from_bars(
        [bar.high for bar in traded],
        [bar.low for bar in traded],
        [float(bar.volume) for bar in traded],
        bins=bins,
        value_area=value_area_fraction,
    )
    return SessionProfile(
        by_volume.poc,
        by_volume.value_area_high,
        by_volume.value_area_low,
        tpo.initial_balance_high,
        tpo.initial_balance_low,
        "volume",
    )

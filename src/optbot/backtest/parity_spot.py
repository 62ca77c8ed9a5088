"""An index's spot per minute from its real option bars, by put-call parity (issue 14 part 4).

Where a data root has an underlying's per-contract option bars but no index bars (FINNIFTY in the
November 2022 sample: real option minutes, no index series), the index is derived from the options
rather than left out:

    forward  F = K + (C − P)·e^(r·t)          each strike K whose call and put both traded that minute
    spot     S = median(F over the `parity_strikes` pairs nearest the money)·e^(−carry·t)

with t the calendar time to the nearest expiry's close, r the model's discount rate and carry the
underlying's carry from the synthetic model's calibration (`optbot data calibrate`; the default carry
setting where none was fitted), so the synthetic model quoting on this spot sees the parity forward
again. Each bar's open and close are the parity spot from the option bars' opens and closes; its high
and low span those two (the options' highs and lows are not simultaneous, so no range is invented).
A minute where no strike has both legs traded carries the previous estimate (a flat bar, counted).
The series is declared as "parity 1m" (or "parity 5m") in the coverage table; a backtest's notes
say how it was made. Nothing here is random: the same bars give the same series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from optbot.analytics.synthetic import SyntheticOptionModel
from optbot.calendar import NseCalendar, Segment
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.data.archive import ArchiveError, OptionArchive

PARITY_SOURCE_PREFIX = "parity "
#: Option-bar timeframes a parity series is built from, finest first.
PARITY_TIMEFRAMES: tuple[Timeframe, ...] = (Timeframe.M1, Timeframe.M5)
EPOCH = date(1970, 1, 1)
EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
#: One (bar start, strike) key: minutes since the epoch x this + the strike in paise (below 10^6 points).
KEY_SCALE = 10**8
MICROSECONDS_PER_MINUTE = 60_000_000


@dataclass(frozen=True, slots=True)
class ParityDay:
    """One day's parity-derived index bars and how many minutes carried the previous estimate."""

    timeframe: Timeframe
    bars: tuple[Bar, ...]
    carried: int


class ParitySpot:
    """Index bars implied by one data root's option archive (see the module docstring)."""

    def __init__(
        self,
        archive: OptionArchive,
        model: SyntheticOptionModel,
        calendar: NseCalendar,
        strikes: int = 3,
    ) -> None:
        self.archive = archive
        self.model = model
        self.calendar = calendar
        self.strikes = strikes
        self._days: dict[tuple[str, Timeframe], list[date]] = {}
        self._built: dict[tuple[str, date], ParityDay | None] = {}

    def days(self, underlying: str) -> list[date]:
        """Days the archive holds intraday option bars for `underlying`."""
        held: set[date] = set()
        for timeframe in PARITY_TIMEFRAMES:
            key = (underlying.upper(), timeframe)
            if key not in self._days:
                self._days[key] = self.archive.days(key[0], timeframe.value)
            held.update(self._days[key])
        return sorted(held)

    def identity(self, underlying: str, day: date) -> tuple[tuple[int, int], ...]:
        """(mtime, size) of the option partitions a day's series is built from (a cache key part)."""
        found: list[tuple[int, int]] = []
        for timeframe in PARITY_TIMEFRAMES:
            path = self._partition(underlying, day, timeframe)
            try:
                status = path.stat() if path is not None else None
            except FileNotFoundError:
                status = None
            found.append((status.st_mtime_ns, status.st_size) if status is not None else (0, 0))
        return tuple(found)

    def _partition(self, underlying: str, day: date, timeframe: Timeframe) -> Path | None:
        """The option partition of one day, None for a name with no option chain (INDIA VIX)."""
        try:
            return self.archive.partition_path(underlying.upper(), day, timeframe.value)
        except ArchiveError:
            return None

    def day(self, underlying: str, day: date) -> ParityDay | None:
        """The day's parity bars on its session grid, or None without call/put pairs that day."""
        key = (underlying.upper(), day)
        if key not in self._built:
            self._built[key] = self._build(key[0], day)
        return self._built[key]

    def _build(self, underlying: str, day: date) -> ParityDay | None:
        if day not in self.days(underlying):  # most days of a long run: no option bars, no reading
            return None
        session = self.calendar.session(day, Segment.FO) if self.calendar.covers(day) else None
        if session is None:
            return None
        for timeframe in PARITY_TIMEFRAMES:
            estimates = self._estimates(underlying, day, timeframe)
            if estimates:
                return self._bars(underlying, timeframe, estimates, session.open_utc, session.close_utc)
        return None

    def _estimates(
        self, underlying: str, day: date, timeframe: Timeframe
    ) -> dict[datetime, tuple[float, float]]:
        """Bar start -> (spot from the opens, spot from the closes), for minutes with a call/put pair."""
        if self._partition(underlying, day, timeframe) is None:
            return {}
        table = self.archive.day(underlying, day, timeframe.value)
        if table.num_rows == 0:
            return {}
        expiries = table.column("expiry").cast(pa.int32()).to_numpy()
        upcoming = expiries[expiries >= (day - EPOCH).days]
        if upcoming.size == 0:
            return {}
        nearest = int(upcoming.min())
        keep = expiries == nearest
        starts = table.column("ts").cast(pa.int64()).to_numpy()[keep]  # microseconds since the epoch
        strikes = table.column("strike").to_numpy()[keep]
        is_call = pc.equal(table.column("option_type"), "CE").to_numpy(zero_copy_only=False)[keep]
        opens, closes = table.column("open").to_numpy()[keep], table.column("close").to_numpy()[keep]
        keys = (starts // MICROSECONDS_PER_MINUTE) * KEY_SCALE + np.round(strikes * 100).astype(np.int64)
        _, calls, puts = np.intersect1d(
            np.where(is_call, keys, -1), np.where(~is_call, keys, -2), return_indices=True
        )
        if calls.size == 0:
            return {}
        gap = np.abs(closes[calls] - closes[puts])
        order = np.lexsort((strikes[calls], gap, starts[calls]))
        calls, puts = calls[order], puts[order]
        expiry = EPOCH + timedelta(days=nearest)
        body = self.model.underlying(underlying)
        rate = self.model.params.discount_rate
        found: dict[datetime, tuple[float, float]] = {}
        bounds = np.flatnonzero(np.diff(starts[calls])) + 1
        for group_calls, group_puts in zip(np.split(calls, bounds), np.split(puts, bounds), strict=True):
            chosen_calls, chosen_puts = group_calls[: self.strikes], group_puts[: self.strikes]
            start = EPOCH_UTC + timedelta(microseconds=int(starts[chosen_calls[0]]))
            years = self.model.time.to_expiry(start + timedelta(seconds=timeframe.seconds), expiry)
            grow = math.exp(rate * years.calendar_years)
            discount = math.exp(-body.carry * years.calendar_years)
            level = strikes[chosen_calls]
            opened = float(np.median(level + (opens[chosen_calls] - opens[chosen_puts]) * grow))
            closed = float(np.median(level + (closes[chosen_calls] - closes[chosen_puts]) * grow))
            found[start] = (round(opened * discount, 2), round(closed * discount, 2))
        return found

    @staticmethod
    def _bars(
        underlying: str,
        timeframe: Timeframe,
        estimates: dict[datetime, tuple[float, float]],
        open_utc: datetime,
        close_utc: datetime,
    ) -> ParityDay:
        """One bar per step of the session from the first estimate; a step without one is flat at the
        previous close (counted in `carried`)."""
        step = timedelta(seconds=timeframe.seconds)
        start = min(estimates)
        start = max(start, open_utc)
        bars: list[Bar] = []
        carried = 0
        previous: float | None = None
        while start + step <= close_utc:
            estimate = estimates.get(start)
            if estimate is None:
                if previous is None:
                    start += step
                    continue
                estimate = (previous, previous)
                carried += 1
            opened, closed = estimate
            end = start + step
            bars.append(
                Bar(
                    ts_utc=end,
                    token="",
                    symbol=underlying,
                    timeframe=timeframe,
                    start_utc=start,
                    end_utc=end,
                    open=opened,
                    high=max(opened, closed),
                    low=min(opened, closed),
                    close=closed,
                    volume=0,  # an index has no volume
                )
            )
            previous = closed
            start = end
        return ParityDay(timeframe, tuple(bars), carried)


__all__ = ["PARITY_SOURCE_PREFIX", "PARITY_TIMEFRAMES", "ParityDay", "ParitySpot"]

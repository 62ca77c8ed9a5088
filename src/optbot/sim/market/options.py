"""Synthetic option quotes: Black-76 off the replayed index with a VIX-derived smile.

Every value produced here is model output, never a traded price, and is flagged
`SimQuote.synthetic=True`. Spreads widen away from the money and into expiry, depth has five levels,
and volume / open interest evolve deterministically from the contract and the tick sequence.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import numpy as np
from numpy.typing import NDArray

from optbot.calendar import NseCalendar, Segment, TradingSession
from optbot.config.sections.replay import ReplaySettings
from optbot.core.timeutil import IST, ist_date
from optbot.sim.contracts import SimDepthLevel, SimQuote
from optbot.sim.market.instruments import OptionContract
from optbot.sim.market.pricing import (
    MIN_YEARS,
    black76,
    smile_volatility,
    standardised_moneyness,
)

SECONDS_PER_YEAR = 365.0 * 24 * 3600
EXPIRY_TIME_IST = time(15, 30)
DEPTH_LEVELS = 5
OI_ATM_LOTS = 60_000  # open interest (lots) of an at-the-money near-expiry strike at the start of a day


@cache
def expiry_moment(expiry: date) -> datetime:
    """Expiry instant (15:30 IST); cached because every watched contract needs it on every tick."""
    return datetime.combine(expiry, EXPIRY_TIME_IST, tzinfo=IST).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class MarketState:
    """The inputs every option price depends on at one instant."""

    moment: datetime
    spot: float
    vix: float


@dataclass(frozen=True, slots=True)
class OptionValuation:
    """Model outputs for a batch of contracts (arrays aligned with the contract list)."""

    value: NDArray[np.float64]
    moneyness: NDArray[np.float64]
    years: NDArray[np.float64]


class TradingTime:
    """Time to expiry in trading minutes, so nights, weekends and holidays carry no decay.

    A Friday close and the next Monday open value a contract the same (as the market does, roughly),
    instead of the calendar-time model's artificial weekend gap; decay accrues through each session.
    """

    SESSION_MINUTES = 375.0
    SESSIONS_PER_YEAR = 252.0

    def __init__(self, calendar: NseCalendar) -> None:
        self.calendar = calendar
        self._full_sessions: dict[tuple[date, date], int] = {}
        self._sessions: dict[date, TradingSession | None] = {}

    def _session(self, day: date) -> TradingSession | None:
        if day not in self._sessions:
            self._sessions[day] = (
                self.calendar.session(day, Segment.FO) if self.calendar.covers(day) else None
            )
        return self._sessions[day]

    def _sessions_after(self, day: date, expiry: date) -> int:
        """Trading sessions in (day, expiry]; weekdays where the calendar has no data."""
        key = (day, expiry)
        if key not in self._full_sessions:
            first = day + timedelta(days=1)
            if self.calendar.covers(first) and self.calendar.covers(expiry):
                count = len(self.calendar.trading_days(first, expiry, Segment.FO, include_special=False))
            else:
                count = sum(
                    1 for offset in range((expiry - day).days) if (first + timedelta(offset)).weekday() < 5
                )
            self._full_sessions[key] = count
        return self._full_sessions[key]

    def years(self, moment: datetime, expiry: date) -> float:
        day = ist_date(moment)
        if day > expiry:
            return MIN_YEARS
        session = self._session(day)
        minutes_today = 0.0
        if session is not None:
            start = max(moment, session.open)
            minutes_today = max(0.0, (session.close - start).total_seconds() / 60.0)
        minutes = minutes_today + (
            self._sessions_after(day, expiry) * self.SESSION_MINUTES if day < expiry else 0
        )
        return max(minutes, 1.0) / (self.SESSIONS_PER_YEAR * self.SESSION_MINUTES)


def years_to_expiry(
    contracts: list[OptionContract], moment: datetime, trading_time: TradingTime | None
) -> NDArray[np.float64]:
    """Per-contract time to expiry: trading time when given, else calendar time to 15:30 IST."""
    by_expiry: dict[date, float] = {}
    for contract in contracts:
        if contract.expiry not in by_expiry:
            if trading_time is not None:
                by_expiry[contract.expiry] = trading_time.years(moment, contract.expiry)
            else:
                seconds = (expiry_moment(contract.expiry) - moment).total_seconds()
                by_expiry[contract.expiry] = max(seconds, 60.0) / SECONDS_PER_YEAR
    return np.array([by_expiry[contract.expiry] for contract in contracts], dtype=np.float64)


def value_options(
    contracts: list[OptionContract],
    state: MarketState,
    settings: ReplaySettings,
    spots: NDArray[np.float64] | None = None,
    trading_time: TradingTime | None = None,
) -> OptionValuation:
    """Vectorised Black-76 values of `contracts` (one underlying) at `state`; `spots` overrides per row."""
    years = years_to_expiry(contracts, state.moment, trading_time)
    strikes = np.array([c.strike for c in contracts], dtype=np.float64)
    is_call = np.array([c.is_call for c in contracts], dtype=np.bool_)
    atm_vol = max(state.vix, 1.0) / 100.0
    spot = np.asarray(spots if spots is not None else state.spot, dtype=np.float64)
    forward = np.asarray(
        spot * np.exp((settings.risk_free_rate - settings.dividend_yield) * years), dtype=np.float64
    )
    moneyness = standardised_moneyness(strikes, forward, atm_vol, years)
    vol = smile_volatility(atm_vol, moneyness, settings.smile_curvature, settings.put_skew)
    value = black76(forward, strikes, years, vol, settings.risk_free_rate, is_call)
    return OptionValuation(value, moneyness, years)


def _salt(token: str) -> int:
    return zlib.crc32(token.encode())


@dataclass(slots=True)
class OptionDay:
    """One contract's running session statistics."""

    contract: OptionContract
    previous_close: float
    open_interest_start: int
    band_upper: float
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    volume: int = 0
    turnover: float = 0.0
    sequence: int = 0
    started: bool = False
    salt: int = field(default=0)

    def __post_init__(self) -> None:
        self.salt = _salt(self.contract.token)


def opening_open_interest(contract: OptionContract, moneyness: float, years: float) -> int:
    """A hump around the money, larger for near expiries; deterministic per contract."""
    days = max(years * 365.0, 0.5)
    expiry_weight = 1.0 / (1.0 + days / 10.0)
    lots = OI_ATM_LOTS * float(np.exp(-0.5 * moneyness * moneyness)) * (0.3 + expiry_weight)
    jitter = 0.8 + (_salt(contract.token) % 400) / 1000.0
    return max(contract.lot_size, int(lots * jitter) * contract.lot_size)


def option_quote(
    day: OptionDay,
    value: float,
    moneyness: float,
    years: float,
    moment: datetime,
    settings: ReplaySettings,
    trading: bool = True,
    depth_levels: int = DEPTH_LEVELS,
) -> SimQuote:
    """Advance the contract's day by one tick at model value `value` and return its quote (with
    `depth_levels` levels a side; the levels shown do not depend on how many are asked for).

    Before the underlying's first tick of the session (`trading` false) the quote shows the model
    value but no open, range or volume is recorded, so the day's open is the first traded value.
    """
    contract = day.contract
    tick = contract.tick_size
    mid = round(max(round(value / tick), 1) * tick, 2)  # round_to_tick for one price, without numpy
    days_to_expiry = max(years * 365.0, 0.25)
    spread_fraction = (
        settings.spread_base_fraction
        * (1.0 + settings.spread_wing_factor * abs(moneyness))
        * (1.0 + settings.spread_expiry_factor / days_to_expiry)
    )
    spread_ticks = max(1, round(mid * spread_fraction / tick))
    bid_ticks = max(0, round(mid / tick) - spread_ticks // 2 - spread_ticks % 2)
    bid = round(bid_ticks * tick, 2)
    ask = round((bid_ticks + spread_ticks) * tick, 2)
    day.sequence += 1
    activity = max(1, int(6 * math.exp(-0.5 * moneyness * moneyness)))
    traded_lots = (day.sequence * 7 + day.salt) % (activity + 1) if trading else 0
    last_quantity = max(1, traded_lots) * contract.lot_size
    if trading and not day.started:
        day.open = day.high = day.low = mid
        day.started = True
    if day.started:
        day.high = max(day.high, mid)
        day.low = min(day.low, mid)
    if traded_lots:
        day.volume += traded_lots * contract.lot_size
        day.turnover += traded_lots * contract.lot_size * mid
    average = round(day.turnover / day.volume, 2) if day.volume else mid
    # Writers add positions as premiums fall and cover as they rise: OI drifts with volume and price.
    direction = 1 if mid <= day.previous_close else -1
    oi_lots = (
        day.open_interest_start // contract.lot_size + direction * (day.volume // contract.lot_size) // 4
    )
    open_interest = max(contract.lot_size, oi_lots * contract.lot_size)
    depth_lots = max(1, int(40 * math.exp(-0.25 * moneyness * moneyness)))
    bids: list[SimDepthLevel] = []
    asks: list[SimDepthLevel] = []
    for level in range(depth_levels):
        lots = 1 + (day.salt + day.sequence * 13 + level * 17) % depth_lots + level
        orders = 1 + lots // 3
        bid_price = round(bid - level * tick, 2)
        if bid_price >= tick:
            bids.append(SimDepthLevel(bid_price, lots * contract.lot_size, orders))
        asks.append(SimDepthLevel(round(ask + level * tick, 2), (lots + 1) * contract.lot_size, orders))
    return SimQuote(
        exchange="NFO",
        token=contract.token,
        symbol=contract.symbol,
        ltp=mid,
        last_quantity=last_quantity,
        average_price=average,
        volume=day.volume,
        open=day.open if day.started else mid,
        high=day.high if day.started else mid,
        low=day.low if day.started else mid,
        close=day.previous_close,
        open_interest=open_interest,
        upper_circuit=max(day.band_upper, round(mid * 1.5, 2)),
        lower_circuit=tick,
        week52_high=max(day.high, mid, day.previous_close),
        week52_low=min(day.low if day.started else mid, mid, day.previous_close),
        bids=tuple(bids),
        asks=tuple(asks),
        exchange_time=moment,
        sequence=day.sequence,
        synthetic=True,
    )

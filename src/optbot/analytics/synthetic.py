"""The one synthetic option quote model: what a backtest or the simulator quotes where no real option
bar exists. Deterministic (no random numbers), fitted to real premiums by `optbot data calibrate`.

    forward   F = S·exp(carry·t_cal)            carry fitted per underlying (futures / put-call parity);
              F = Fut·exp(carry·(t_cal − t_fut))  where a future's price is given (its own expiry t_fut):
                                                 the traded future is the market's forward, no carry guess
    time      τ = session units to expiry        remaining session today + later sessions
                  + overnight_weight·nights + closed_day_weight·weekend/holiday days (both fitted)
    ATM vol   σ_atm = level·VIX/100·(τ/τ_ref)^slope·exp(−s·r)   level, slope and s per underlying,
              fitted; r = ln(last close / close 5 sessions before), the underlying's last week
              known at the open (RecentReturns; 0 where the caller has no daily closes)
    smile     σ(K) = σ_atm·smile(z, τ, r), z = ln(K/F)/(σ_atm·√(τ/year)): piecewise linear through
              knots in z, each side's shape scaled by a power of τ, the call side lifted by −γ·r
              (SmileParams), fitted
    price     Black-76 on F with total variance σ²·τ/year, discounted over calendar time
    spread    max(tick, time_value_fraction·time value + intrinsic_fraction·intrinsic), tick-rounded

The quoted `iv` is per variance-time year (the model's own unit); `calendar_iv` is the same price's
volatility over calendar time, the number NSE's option chain shows.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from optbot.analytics.pricing import Greeks, black76_value, black76_values, greeks
from optbot.analytics.synthetic_params import (
    RECENT_RETURN_SESSIONS,
    CalibrationParams,
    TimeParams,
    UnderlyingParams,
    load_calibration,
)
from optbot.calendar import CalendarRangeError, NseCalendar, Segment, TradingSession
from optbot.core.enums import OptionType
from optbot.core.timeutil import IST, ist_datetime, to_utc

SECONDS_PER_CALENDAR_YEAR = 365.0 * 86400.0
#: Session hours assumed outside the calendar's coverage (the normal F&O session).
DEFAULT_OPEN_IST = time(9, 15)
DEFAULT_CLOSE_IST = time(15, 30)
#: Floor on a model value (an option quotes at least one tick; the floor keeps logs finite).
MIN_VALUE = 1e-9
#: Expiry inputs `value_contract` keeps before starting afresh (a bar's worth of instants and expiries).
RECENT_INPUTS_KEPT = 64
#: Expiries' day inputs kept before starting afresh (every listed expiry of a few underlyings and VIXes).
EXPIRY_DAYS_KEPT = 256

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TimeToExpiry:
    """Both clocks an option price needs: variance time (vol) and calendar time (carry, discount)."""

    sessions: float
    variance_years: float
    calendar_years: float
    session_today: float
    later_sessions: int
    nights: int
    closed_days: int


#: The time to expiry of an option valued after its expiry day.
EXPIRED = TimeToExpiry(0.0, 0.0, 0.0, 0.0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class DayPlan:
    """What the time to one expiry takes from one IST day, fixed while the day lasts: a replay asks at
    every bar, so the calendar is read once per day and each instant is a few float operations
    (the nights and closed days are weighted here, once)."""

    day_start_utc: datetime  # the IST day [start, end) in UTC
    day_end_utc: datetime
    expired: bool  # the day is after the expiry
    session: tuple[datetime, datetime] | None  # today's (open, close), None on a closed day
    session_seconds: float
    later_sessions: int
    closed_days: int
    expiry_close: datetime
    nights_weighted_before_open: float  # overnight_weight x (later sessions + 1): before the open,
    #: the night ahead of today's session counts too
    nights_weighted_after_open: float  # overnight_weight x later sessions
    closed_weighted: float  # closed_day_weight x closed days

    def holds(self, at_utc: datetime) -> bool:
        """`at_utc` falls on this plan's IST day."""
        return self.day_start_utc <= at_utc < self.day_end_utc


class VarianceTime:
    """Session-based time to expiry from the NSE calendar; weekdays are sessions outside its range."""

    def __init__(self, calendar: NseCalendar, params: TimeParams) -> None:
        self.calendar = calendar
        self.params = params
        self._sessions_cache: dict[date, tuple[datetime, datetime] | None] = {}
        self._count_cache: dict[tuple[date, date], int] = {}
        self._plans: dict[tuple[date, date], DayPlan] = {}

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None:
        """(open, close) in UTC of `day`'s F&O session, None on a closed day."""
        if day not in self._sessions_cache:
            self._sessions_cache[day] = self._bounds(day)
        return self._sessions_cache[day]

    def _bounds(self, day: date) -> tuple[datetime, datetime] | None:
        if self.calendar.covers(day):
            session: TradingSession | None = self.calendar.session(day, Segment.FO)
            if session is None or session.special is not None:
                return None
            return session.open_utc, session.close_utc
        if day.weekday() >= 5:
            return None
        return to_utc(ist_datetime(day, DEFAULT_OPEN_IST)), to_utc(ist_datetime(day, DEFAULT_CLOSE_IST))

    def _sessions_between(self, first: date, last: date) -> int:
        """Regular sessions in [first, last]."""
        if last < first:
            return 0
        key = (first, last)
        if key not in self._count_cache:
            try:
                count = len(self.calendar.trading_days(first, last, Segment.FO, include_special=False))
            except CalendarRangeError:
                count = sum(
                    1
                    for offset in range((last - first).days + 1)
                    if self.session_bounds(first + timedelta(days=offset)) is not None
                )
            self._count_cache[key] = count
        return self._count_cache[key]

    def expiry_close(self, expiry: date) -> datetime:
        bounds = self.session_bounds(expiry)
        return bounds[1] if bounds is not None else to_utc(ist_datetime(expiry, DEFAULT_CLOSE_IST))

    def day_plan(self, day: date, expiry: date) -> DayPlan:
        """The fixed part of the time to `expiry` on `day` (cached: a replay asks on every tick)."""
        key = (day, expiry)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._build_plan(day, expiry)
        return plan

    def _build_plan(self, day: date, expiry: date) -> DayPlan:
        start = datetime.combine(day, time(), tzinfo=IST).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=IST).astimezone(UTC)
        later = self._sessions_between(day + timedelta(days=1), expiry) if expiry > day else 0
        closed = (expiry - day).days - later
        session = self.session_bounds(day)
        weights = self.params
        return DayPlan(
            day_start_utc=start,
            day_end_utc=end,
            expired=day > expiry,
            session=session,
            session_seconds=(session[1] - session[0]).total_seconds() if session is not None else 0.0,
            later_sessions=later,
            closed_days=closed,
            expiry_close=self.expiry_close(expiry),
            nights_weighted_before_open=weights.overnight_weight * (later + 1),
            nights_weighted_after_open=weights.overnight_weight * later,
            closed_weighted=weights.closed_day_weight * closed,
        )

    def to_expiry(self, at_utc: datetime, expiry: date) -> TimeToExpiry:
        return self.at(self.day_plan(at_utc.astimezone(IST).date(), expiry), at_utc)

    def at(self, plan: DayPlan, at_utc: datetime) -> TimeToExpiry:
        """The time to the plan's expiry at `at_utc`, an instant of the plan's day."""
        if plan.expired:
            return EXPIRED
        sessions, calendar_years, today, nights = self.instant(plan, at_utc)
        return TimeToExpiry(
            sessions=sessions,
            variance_years=sessions / self.params.sessions_per_year,
            calendar_years=calendar_years,
            session_today=today,
            later_sessions=plan.later_sessions,
            nights=nights,
            closed_days=plan.closed_days,
        )

    @staticmethod
    def instant(plan: DayPlan, at_utc: datetime) -> tuple[float, float, float, int]:
        """(session units, calendar years, today's session fraction, nights) to the plan's expiry at
        `at_utc`: `at` without building its record (a held contract is valued at every bar)."""
        if plan.expired:
            return 0.0, 0.0, 0.0, 0
        later = plan.later_sessions
        calendar_years = max((plan.expiry_close - at_utc).total_seconds(), 0.0) / SECONDS_PER_CALENDAR_YEAR
        today, nights, nights_weighted = 0.0, later, plan.nights_weighted_after_open
        session = plan.session
        if session is not None:
            open_, close = session
            start = max(at_utc, open_)
            today = min(max((close - start).total_seconds() / plan.session_seconds, 0.0), 1.0)
            if at_utc < open_:  # tonight's gap is still ahead of today's session
                nights, nights_weighted = later + 1, plan.nights_weighted_before_open
        return today + later + nights_weighted + plan.closed_weighted, calendar_years, today, nights


class RecentReturns(Protocol):
    """The underlying's recent return known at a day's open (the model's only state from the past)."""

    @property
    def identity(self) -> str:
        """What the returns come from: valuations are shared only between models of one source."""
        ...

    def recent_return(self, underlying: str, day: date) -> float | None:
        """ln(close of the last session before `day` / close `RECENT_RETURN_SESSIONS` sessions
        before that); None when the closes are not known."""
        ...


def last_week_return(closes_latest_first: Iterable[float | None]) -> float | None:
    """ln(the last close / the close `RECENT_RETURN_SESSIONS` sessions before it), from the closes of
    the sessions before a day, latest first (a session without a usable close is skipped); None
    without enough of them. The one rule every source of recent returns applies."""
    closes: list[float] = []
    for close in closes_latest_first:
        if close is not None and close > 0:
            closes.append(close)
            if len(closes) > RECENT_RETURN_SESSIONS:
                return math.log(closes[0] / closes[-1])
    return None


class DailyCloseReturns:
    """`RecentReturns` from daily closes per underlying (sessions are the days that have a close)."""

    def __init__(self, closes: Mapping[str, Mapping[date, float]]) -> None:
        self._days = {name.upper(): sorted(held) for name, held in closes.items()}
        self._closes = {name.upper(): dict(held) for name, held in closes.items()}

    @property
    def identity(self) -> str:
        return f"daily closes {id(self)}"

    def recent_return(self, underlying: str, day: date) -> float | None:
        days = self._days.get(underlying.upper())
        if not days:
            return None
        closes = self._closes[underlying.upper()]
        return last_week_return(closes[earlier] for earlier in reversed(days[: bisect_left(days, day)]))


@dataclass(frozen=True, slots=True)
class FuturePrice:
    """A traded future of the underlying at the moment priced: the market's own forward to its expiry."""

    price: float
    expiry: date


def near_future_expiry(calendar: NseCalendar, underlying: str, day: date) -> date | None:
    """The expiry of the near-month future on `day` (the month's monthly expiry, the next month's
    once it has passed): what a continuous `NAME-I` series trades that day; None where the calendar
    cannot say (outside its range, an underlying it does not know)."""
    try:
        found = calendar.expiries(underlying, day, day + timedelta(days=45), kind="monthly")
    except (CalendarRangeError, KeyError, ValueError):
        return None
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class ChainValuation:
    """Model values of many strikes of one expiry at one instant (arrays aligned with the strikes)."""

    value: FloatArray
    iv: FloatArray
    moneyness: FloatArray
    forward: FloatArray
    atm_iv: float
    time: TimeToExpiry


@dataclass(frozen=True, slots=True)
class ContractValuation:
    """Model value of one contract at one instant (`ChainValuation` for a single strike, as floats)."""

    value: float
    iv: float
    moneyness: float
    forward: float
    time: TimeToExpiry


class _ExpiryInputs(NamedTuple):
    """One expiry's shared valuation inputs at one instant: the time to expiry (session units, variance
    and calendar years), the forward's carry factor on spot, the ATM vol, the divisor turning ln(K/F)
    into standardised moneyness, the factor turning a variance-time vol into a calendar-time one (0 at
    expiry), the call side's lift and the smile's sides scaled to the time left. A tuple: one is built
    per instant a contract is valued at; the `TimeToExpiry` record only where a caller returns it."""

    plan: DayPlan
    at_utc: datetime
    sessions: float
    variance_years: float
    calendar_years: float
    body: UnderlyingParams
    carry_factor: float
    atm: float
    moneyness_scale: float
    to_calendar: float
    call_lift: float
    put_scale: float  # `SmileParams.term_scales` at the time left
    call_scale: float


@dataclass(frozen=True, slots=True)
class _ExpiryDay:
    """What one expiry's valuation inputs take from one IST day at one VIX: the time plan, the ATM vol
    level (per VIX point, with the last week's return factor) and the call side's lift."""

    plan: DayPlan
    body: UnderlyingParams
    vol_per_vix: float  # atm_vol_per_vix x VIX / 100, as `_atm_vol` forms it
    term_slope: float
    return_factor: float | None  # exp(-return_sensitivity x recent return); None: not applied
    call_lift: float


@dataclass(frozen=True, slots=True)
class SyntheticQuote:
    """What a backtest quotes for one contract at one instant where no real bar exists."""

    underlying: str
    expiry: date
    strike: float
    option_type: OptionType
    spot: float
    vix: float
    forward: float
    time: TimeToExpiry
    atm_iv: float
    iv: float
    calendar_iv: float
    moneyness: float
    value: float
    mid: float
    bid: float
    ask: float
    greeks: Greeks
    parameters_from: str


class SyntheticOptionModel:
    """Quotes from spot + INDIA VIX + time, using one calibration (see the module docstring)."""

    def __init__(
        self, params: CalibrationParams, calendar: NseCalendar, recent_returns: RecentReturns | None = None
    ) -> None:
        self.params = params
        self.calendar = calendar
        self.time = VarianceTime(calendar, params.time)
        self._recent_returns = recent_returns
        #: The recent return by (underlying, day): fixed for a day.
        self._recent: dict[tuple[str, date], float | None] = {}
        #: One expiry's inputs by (underlying, VIX, instant, expiry) for `value_contract`: a bar's
        #: open/high/low/close and every held strike of an expiry share them.
        self._recent_inputs: dict[tuple[str, float, datetime, date], _ExpiryInputs] = {}
        #: One expiry's inputs from the day (its time plan, ATM vol level, call lift) by (underlying,
        #: VIX, expiry), while the instants asked about stay on that day.
        self._expiry_days: dict[tuple[str, float, date], _ExpiryDay] = {}

    def underlying(self, name: str) -> UnderlyingParams:
        return self.params.for_underlying(name)

    def atm_vol(self, underlying: str, vix: float, sessions: float, day: date) -> float:
        """ATM implied vol per variance-time year from INDIA VIX and the time left."""
        return self._atm_vol(self.underlying(underlying), vix, sessions, day)

    def use_recent_returns(self, recent_returns: RecentReturns | None) -> None:
        """Where the ATM vol reads the underlying's recent return from (None: taken as 0)."""
        self._recent_returns = recent_returns
        self._recent.clear()
        self._recent_inputs.clear()
        self._expiry_days.clear()

    @property
    def returns_identity(self) -> str | None:
        """Where the recent returns come from (None: none, the ATM vol ignores the past)."""
        return self._recent_returns.identity if self._recent_returns is not None else None

    def recent_return(self, underlying: str, day: date) -> float | None:
        """The recent return the ATM vol and the call side respond to on `day`, None where it is
        not known (kept per day: a replay asks on every bar)."""
        if self._recent_returns is None:
            return None
        key = (underlying.upper(), day)
        if key not in self._recent:
            self._recent[key] = self._recent_returns.recent_return(key[0], day)
        return self._recent[key]

    def _atm_vol(self, body: UnderlyingParams, vix: float, sessions: float, day: date) -> float:
        window = body.level_on(day)
        clipped = min(max(sessions, body.term_min_sessions), body.term_max_sessions)
        ratio = (clipped / self.params.time.reference_sessions) ** window.term_slope
        if window.return_sensitivity != 0.0:
            recent = self.recent_return(body.name, day)
            if recent is not None:
                ratio *= math.exp(-window.return_sensitivity * recent)
        return window.atm_vol_per_vix * max(vix, 0.0) / 100.0 * ratio

    def _expiry_day(self, underlying: str, vix: float, at_utc: datetime, expiry: date) -> _ExpiryDay:
        """The day's part of `_expiry_inputs` (kept per underlying, VIX and expiry while the day lasts)."""
        key = (underlying, vix, expiry)
        found = self._expiry_days.get(key)
        if found is not None and found.plan.holds(at_utc):
            return found
        day = at_utc.astimezone(IST).date()
        body = self.underlying(underlying)
        window = body.level_on(day)
        return_factor = None
        if window.return_sensitivity != 0.0:
            recent = self.recent_return(body.name, day)
            if recent is not None:
                return_factor = math.exp(-window.return_sensitivity * recent)
        call_lift = (
            body.smile.call_lift(self.recent_return(body.name, day))
            if body.smile.call_lift_per_return != 0.0
            else 0.0
        )
        if len(self._expiry_days) >= EXPIRY_DAYS_KEPT:
            self._expiry_days.clear()
        found = self._expiry_days[key] = _ExpiryDay(
            self.time.day_plan(day, expiry),
            body,
            window.atm_vol_per_vix * max(vix, 0.0) / 100.0,
            window.term_slope,
            return_factor,
            call_lift,
        )
        return found

    def _expiry_inputs(self, underlying: str, vix: float, at_utc: datetime, expiry: date) -> _ExpiryInputs:
        """What every strike of one expiry shares at one instant (a chain's and a single contract's
        valuation both start here): the day's part once per day, then a few float operations, each
        the one `atm_vol` and `VarianceTime.at` perform (the same floats)."""
        day = self._expiry_day(underlying, vix, at_utc, expiry)
        sessions, calendar_years, _, _ = VarianceTime.instant(day.plan, at_utc)
        variance_years = sessions / self.params.time.sessions_per_year
        body = day.body
        clipped = min(max(sessions, body.term_min_sessions), body.term_max_sessions)
        ratio = (clipped / self.params.time.reference_sessions) ** day.term_slope
        if day.return_factor is not None:
            ratio *= day.return_factor
        atm = day.vol_per_vix * ratio
        root_years = math.sqrt(max(variance_years, 1e-12))
        if calendar_years > 0.0 and variance_years > 0.0:
            to_calendar = math.sqrt(variance_years / calendar_years)
        else:
            to_calendar = 0.0
        put_scale, call_scale = body.smile.term_scales(sessions)
        return _ExpiryInputs(
            day.plan,
            at_utc,
            sessions,
            variance_years,
            calendar_years,
            body,
            math.exp(body.carry * calendar_years),
            atm,
            max(atm * root_years, 1e-9),
            to_calendar,
            day.call_lift,
            put_scale,
            call_scale,
        )

    def spot_for_future(self, underlying: str, future: FuturePrice, at_utc: datetime) -> float:
        """The spot whose forward (spot and the fitted carry) is the traded `future` at its own expiry:
        valued from it, every expiry's forward is the future carried by the fitted carry over the
        difference in time, F = Fut·exp(carry·(t - t_fut)), so a price path can hand the model this
        spot wherever it would hand it the index."""
        future_years = self.time.to_expiry(at_utc, future.expiry).calendar_years
        return future.price * math.exp(-self.underlying(underlying).carry * future_years)

    def value_chain(
        self,
        underlying: str,
        spot: float | FloatArray,
        vix: float,
        at_utc: datetime,
        expiry: date,
        strikes: FloatArray,
        is_call: NDArray[np.bool_],
        future: FuturePrice | None = None,
    ) -> ChainValuation:
        """Values of `strikes` (one expiry); `spot` may be an array aligned with the strikes. With
        `future`, the forward is that future carried to this expiry and `spot` is not used."""
        inputs = self._expiry_inputs(underlying, vix, at_utc, expiry)
        timing = self.time.at(inputs.plan, at_utc)
        if future is not None:
            spot = self.spot_for_future(underlying, future, at_utc)
        forward = np.asarray(spot, dtype=np.float64) * inputs.carry_factor
        if forward.shape != np.shape(strikes):
            forward = np.broadcast_to(forward, np.shape(strikes)).astype(np.float64)
        moneyness = np.log(strikes / forward) / inputs.moneyness_scale
        iv = inputs.atm * inputs.body.smile.ratio(moneyness, timing.sessions, inputs.call_lift)
        calendar_vol = iv * inputs.to_calendar
        values = black76_values(
            forward, strikes, timing.calendar_years, calendar_vol, self.params.discount_rate, is_call
        )
        return ChainValuation(np.maximum(values, MIN_VALUE), iv, moneyness, forward, inputs.atm, timing)

    def value_contract(
        self,
        underlying: str,
        spot: float,
        vix: float,
        at_utc: datetime,
        expiry: date,
        strike: float,
        is_call: bool,
    ) -> ContractValuation:
        """`value_chain` for one strike in plain floats: a backtest values each held contract on every
        bar, and arrays of length one cost ten times the arithmetic. Same inputs, same formula."""
        value, iv, moneyness, forward, inputs = self._contract(
            underlying, spot, vix, at_utc, expiry, strike, is_call
        )
        return ContractValuation(value, iv, moneyness, forward, self.time.at(inputs.plan, at_utc))

    def value_moneyness_years(
        self,
        underlying: str,
        spot: float,
        vix: float,
        at_utc: datetime,
        expiry: date,
        strike: float,
        is_call: bool,
    ) -> tuple[float, float, float]:
        """(value, standardised moneyness, calendar years to expiry) of `value_contract`, without its
        records: what marking a held contract at every bar needs."""
        value, _, moneyness, _, inputs = self._contract(
            underlying, spot, vix, at_utc, expiry, strike, is_call
        )
        return value, moneyness, inputs.calendar_years

    def _contract(
        self,
        underlying: str,
        spot: float,
        vix: float,
        at_utc: datetime,
        expiry: date,
        strike: float,
        is_call: bool,
    ) -> tuple[float, float, float, float, _ExpiryInputs]:
        """(value, iv, moneyness, forward, the expiry's inputs) of one contract."""
        key = (underlying, vix, at_utc, expiry)
        inputs = self._recent_inputs.get(key)
        if inputs is None:
            if len(self._recent_inputs) >= RECENT_INPUTS_KEPT:
                self._recent_inputs.clear()
            inputs = self._recent_inputs[key] = self._expiry_inputs(underlying, vix, at_utc, expiry)
        forward = spot * inputs.carry_factor
        moneyness = math.log(strike / forward) / inputs.moneyness_scale
        iv = inputs.atm * inputs.body.smile.ratio_scaled(
            moneyness, inputs.put_scale, inputs.call_scale, inputs.call_lift
        )
        value = black76_value(
            forward,
            strike,
            inputs.calendar_years,
            iv * inputs.to_calendar,
            self.params.discount_rate,
            is_call,
        )
        return max(value, MIN_VALUE), iv, moneyness, forward, inputs

    def spread(self, value: float, intrinsic: float) -> float:
        """Deterministic bid/ask width in rupees, at least one tick, a whole number of ticks."""
        spread = self.params.spread
        raw = spread.time_value_fraction * max(value - intrinsic, 0.0) + spread.intrinsic_fraction * intrinsic
        return max(1, math.ceil(round(raw / spread.tick, 6))) * spread.tick

    def quote(
        self,
        underlying: str,
        spot: float,
        vix: float,
        at_utc: datetime,
        expiry: date,
        strike: float,
        option_type: OptionType | str,
        tick: float | None = None,
        future: FuturePrice | None = None,
    ) -> SyntheticQuote:
        """One contract's synthetic quote: model value, tick-rounded mid, bid/ask and Greeks."""
        kind = OptionType(str(option_type).upper())
        if spot <= 0 or strike <= 0 or not math.isfinite(spot) or not math.isfinite(strike):
            raise ValueError(f"spot and strike must be positive, got spot={spot} strike={strike}")
        if vix <= 0 or not math.isfinite(vix):
            raise ValueError(f"INDIA VIX must be positive, got {vix}")
        step = tick if tick is not None else self.params.spread.tick
        chain = self.value_chain(
            underlying,
            spot,
            vix,
            at_utc,
            expiry,
            np.array([strike], dtype=np.float64),
            np.array([kind is OptionType.CE]),
            future,
        )
        value, forward, iv = float(chain.value[0]), float(chain.forward[0]), float(chain.iv[0])
        timing = chain.time
        discount = math.exp(-self.params.discount_rate * timing.calendar_years)
        intrinsic = discount * max((forward - strike) if kind is OptionType.CE else (strike - forward), 0.0)
        mid = max(round(value / step), 1) * step
        width = self.spread(value, intrinsic)
        half_ticks = round(width / step) / 2.0
        bid = max(math.floor(round(mid / step - half_ticks, 6)) * step, 0.0)
        ask = bid + width if bid > 0 else mid + width / 2.0
        calendar_iv = (
            iv * math.sqrt(timing.variance_years / timing.calendar_years)
            if timing.calendar_years > 0
            else 0.0
        )
        sensitivities = greeks(
            "black76", forward, strike, timing.calendar_years, calendar_iv, self.params.discount_rate, kind
        )
        return SyntheticQuote(
            underlying=underlying.upper(),
            expiry=expiry,
            strike=float(strike),
            option_type=kind,
            spot=float(spot),
            vix=float(vix),
            forward=forward,
            time=timing,
            atm_iv=chain.atm_iv,
            iv=iv,
            calendar_iv=calendar_iv,
            moneyness=float(chain.moneyness[0]),
            value=value,
            mid=round(mid, 2),
            bid=round(bid, 2),
            ask=round(ask, 2),
            greeks=sensitivities,
            parameters_from=self.underlying(underlying).fitted_from,
        )


@lru_cache(maxsize=8)
def _cached_params(path: str | None) -> CalibrationParams:
    return load_calibration(Path(path) if path is not None else None)


def model_for(calibration_file: Path | str | None, calendar: NseCalendar) -> SyntheticOptionModel:
    """The model for a calibration file (None: packaged); the file is parsed once per process."""
    return SyntheticOptionModel(
        _cached_params(str(calibration_file) if calibration_file is not None else None), calendar
    )

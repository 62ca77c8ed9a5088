"""Fit the synthetic option model to real premiums and measure how well it reproduces them.

Steps (each from the data, nothing assumed where data exists):
1. carry per underlying: median of ln(F/S)/t over futures closes and put-call-parity forwards
   (parity at the strike where call and put are closest), t ≥ `min_carry_days` (short parity is noise);
2. ATM vol: least squares on ln(model/real) ATM straddles for the night and closed-day weights and,
   per underlying, one VIX->ATM-vol level, term slope and sensitivity to the underlying's recent
   return (its last week before the day, from index daily closes) over all the data (no level per
   period);
3. smile: least squares on ln(model/real) OTM premiums at or above `min_otm_premium`, each chain
   standardised by its own ATM vol and parity forward (`calibration_smile`): IV / ATM IV at knots in
   standard deviations, put and call sides each scaled by a power of the time left, the call side
   lifted in proportion to the underlying's recent fall;
4. spread: median spread/time value (OTM) and spread/intrinsic (ITM) from bid/ask snapshots.
Errors are measured with the shipped `SyntheticOptionModel` itself, out of sample (fit on the first
days of each month of data, tested on the later ones), other-period (each month priced by a fit on
the other months) and in sample (fit on all).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from optbot.analytics.calibration_archive import read_calibration_data
from optbot.analytics.calibration_data import CalibrationData, ChainObservation, SpreadObservation
from optbot.analytics.calibration_errors import ErrorRow, error_row, segment_of
from optbot.analytics.calibration_smile import (
    SmileQuotes,
    add_smile_quotes,
    chain_atm_variance_vol,
    fit_smile,
    implied_vols,
    smile_prices,
)
from optbot.analytics.pricing import black76_values
from optbot.analytics.synthetic import (
    ChainValuation,
    DailyCloseReturns,
    FuturePrice,
    SyntheticOptionModel,
    TimeToExpiry,
    VarianceTime,
    near_future_expiry,
)
from optbot.analytics.synthetic_params import (
    CALIBRATION_FORMAT_VERSION,
    FLAT_SMILE,
    CalibrationParams,
    SmileParams,
    SpreadParams,
    TimeParams,
    UnderlyingParams,
    VolLevel,
    load_calibration,
)
from optbot.calendar import NseCalendar

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
#: The smile's knot values are quoted at this time left (session units).
SMILE_REFERENCE_SESSIONS = 10.0
#: The OTM error table's extra row for premiums at or above this (rupees): far from the tick floor.
LIQUID_PREMIUM = 20.0
#: Bounds on the ATM vol's sensitivity to the recent return (`VolLevel.return_sensitivity`): vol
#: rises after a fall, not after a rise; at most 5, the upper end of an equity index's spot-vol
#: elasticity (a fit on November 2022 alone runs to any bound, driven by weekly options whose vol
#: fell after the month's events, and priced January 2025 81 % off with a bound of 10).
SENSITIVITY = (0.0, 5.0)
#: Spread ratios are read only from premiums at or above this (below it the tick floor dominates).
MIN_SPREAD_FIT_PREMIUM = 20.0


@dataclass(frozen=True, slots=True)
class FitOptions:
    """Knobs of a calibration run (the CLI's flags)."""

    sample_every_minutes: int = 15
    min_eod_volume: float = 500.0
    default_carry: float = 0.07
    discount_rate: float = 0.065
    min_carry_days: float = 5.0
    in_sample_share: float = 0.6
    tick: float = 0.05
    #: OTM quotes below this premium (rupees) are left out of the smile fit and the OTM error rows:
    #: under ~20 ticks the 0.05 tick alone is a 5 % relative error.
    min_otm_premium: float = 1.0
    #: Longer-dated contracts (LEAPs out to 2029 trade a few lots) are left out of the fit.
    max_days_to_expiry: int = 95
    #: Fit and score only data from this day on (None: all of it). The ratio of ATM vol to INDIA VIX
    #: drifts by regime, so a fit on recent data suits recent and future periods best.
    first_day: date | None = None


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    params: CalibrationParams
    errors: tuple[ErrorRow, ...]
    chains: int
    spreads: int
    skipped: tuple[str, ...] = ()


@dataclass(slots=True)
class AtmPoint:
    """The ATM strike of one chain observation (the listed strike nearest the parity forward)."""

    chain: ChainObservation
    strike: float
    call: float
    put: float
    parity_forward: float


def _leg(chain: ChainObservation, strike: float, is_call: bool) -> float | None:
    hits = np.flatnonzero((chain.strikes == strike) & (chain.is_call == is_call))
    return float(chain.prices[hits[0]]) if hits.size else None


def atm_point(chain: ChainObservation, discount_rate: float, calendar_years: float) -> AtmPoint | None:
    both = sorted(set(chain.strikes[chain.is_call].tolist()) & set(chain.strikes[~chain.is_call].tolist()))
    pairs = [(k, _leg(chain, k, True), _leg(chain, k, False)) for k in both]
    priced = [(k, c, p) for k, c, p in pairs if c is not None and p is not None]
    if not priced:
        return None
    k, c, p = min(priced, key=lambda item: abs(item[1] - item[2]))
    forward = k + (c - p) * math.exp(discount_rate * calendar_years)
    strike, call, put = min(priced, key=lambda item: abs(item[0] - forward))
    return AtmPoint(chain, strike, call, put, forward)


class Calibrator:
    """Runs the fit over one folder of data; `calibrate()` returns parameters and the error table."""

    def __init__(self, calendar: NseCalendar, options: FitOptions) -> None:
        self.calendar = calendar
        self.options = options
        self.bare_time = VarianceTime(calendar, TimeParams(0.0, 0.0))
        self.term_ranges: dict[str, tuple[float, float]] = {}
        #: The underlyings' recent returns from the data's index daily closes (set by `read`).
        self.recent_returns = DailyCloseReturns({})

    # -- carry ---------------------------------------------------------------------------------

    def fit_carry(self, chains: list[ChainObservation]) -> dict[str, float]:
        samples: dict[str, list[float]] = defaultdict(list)
        for chain in chains:
            if not np.isfinite(chain.spot):
                continue
            years = self.bare_time.to_expiry(chain.at_utc, chain.expiry).calendar_years
            if np.isfinite(chain.future_price) and chain.future_expiry == chain.expiry:
                future_years = self.bare_time.to_expiry(chain.at_utc, chain.future_expiry).calendar_years
                if future_years * 365 >= self.options.min_carry_days:
                    samples[chain.underlying].append(math.log(chain.future_price / chain.spot) / future_years)
            point = atm_point(chain, self.options.discount_rate, years)
            if point is not None and years * 365 >= self.options.min_carry_days:
                samples[chain.underlying].append(math.log(point.parity_forward / chain.spot) / years)
        return {name: float(np.median(values)) for name, values in samples.items() if values}

    def resolve_spots(self, chains: list[ChainObservation], carry: dict[str, float]) -> None:
        """Minute chains without index bars take spot from the near future discounted by the carry."""
        for chain in chains:
            if np.isfinite(chain.spot) or not np.isfinite(chain.future_price):
                continue
            expiry = chain.future_expiry or near_future_expiry(self.calendar, chain.underlying, chain.day)
            if expiry is None:
                continue
            years = self.bare_time.to_expiry(chain.at_utc, expiry).calendar_years
            rate = carry.get(chain.underlying, self.options.default_carry)
            chain.spot = chain.future_price * math.exp(-rate * years)

    # -- ATM vol -------------------------------------------------------------------------------

    def fit_atm(
        self, points: list[AtmPoint], carry: dict[str, float], smiles: dict[str, SmileParams]
    ) -> tuple[TimeParams, dict[str, VolLevel]]:
        """Time weights, and per underlying one VIX->ATM level and term slope over all the data (one
        function of VIX per underlying, not a level per period: a backtest of a period without
        option data gets the same function, and the other-period rows measure how well it carries)."""
        names = sorted({point.chain.underlying for point in points})
        components = [self.bare_time.to_expiry(point.chain.at_utc, point.chain.expiry) for point in points]
        today = np.array([c.session_today + c.later_sessions for c in components])
        nights = np.array([c.nights for c in components], dtype=np.float64)
        closed = np.array([c.closed_days for c in components], dtype=np.float64)
        cal_years = np.array([max(c.calendar_years, 1e-7) for c in components])
        spot = np.array([point.chain.spot for point in points])
        carry_arr = np.array(
            [carry.get(point.chain.underlying, self.options.default_carry) for point in points]
        )
        forward = spot * np.exp(carry_arr * cal_years)
        strike = np.array([point.strike for point in points])
        real = np.array([point.call + point.put for point in points])
        vix = np.array([point.chain.vix for point in points])
        recent = np.array(
            [self.recent_returns.recent_return(p.chain.underlying, p.chain.day) or 0.0 for p in points]
        )
        name_index = np.array([names.index(point.chain.underlying) for point in points])
        group_sizes: dict[tuple[str, str], int] = defaultdict(int)
        for point in points:
            group_sizes[(point.chain.underlying, point.chain.source)] += 1
        weight = np.array(
            [1.0 / math.sqrt(group_sizes[(p.chain.underlying, p.chain.source)]) for p in points]
        )
        row_smiles = [smiles.get(name, FLAT_SMILE) for name in names]
        timing = TimeParams(0.0, 0.0)
        rate = self.options.discount_rate

        count = len(names)

        def residuals(theta: FloatArray) -> FloatArray:
            overnight, closed_weight = theta[0], theta[1]
            slopes = theta[2 : 2 + count][name_index]
            levels = np.exp(theta[2 + count : 2 + 2 * count][name_index])
            sensitivity = theta[2 + 2 * count :][name_index]
            sessions = today + overnight * nights + closed_weight * closed
            clipped = np.clip(sessions, timing.min_sessions, timing.max_sessions)
            atm = levels * vix / 100.0 * (clipped / timing.reference_sessions) ** slopes
            atm = atm * np.exp(-sensitivity * recent)
            variance_years = np.maximum(sessions, 1e-6) / timing.sessions_per_year
            moneyness = np.log(strike / forward) / (atm * np.sqrt(variance_years))
            ratio = np.ones_like(moneyness)
            for index, smile in enumerate(row_smiles):
                rows = name_index == index
                lift = -smile.call_lift_per_return * recent[rows]
                ratio[rows] = smile.ratio(moneyness[rows], sessions[rows], lift)
            vol = atm * ratio * np.sqrt(variance_years / cal_years)
            model = black76_values(forward, strike, cal_years, vol, rate, True) + black76_values(
                forward, strike, cal_years, vol, rate, False
            )
            return np.asarray(weight * np.log(np.maximum(model, 1e-6) / real), dtype=np.float64)

        start = np.concatenate([[0.3, 0.1], np.zeros(count), np.full(count, math.log(0.9)), np.zeros(count)])
        lower = np.concatenate(
            [[0.0, 0.0], np.full(count, -0.5), np.full(count, math.log(0.2)), np.full(count, SENSITIVITY[0])]
        )
        upper = np.concatenate(
            [[2.0, 1.0], np.full(count, 0.5), np.full(count, math.log(3.0)), np.full(count, SENSITIVITY[1])]
        )
        theta = least_squares(residuals, start, bounds=(lower, upper), loss="soft_l1", f_scale=0.05).x
        days = [point.chain.day for point in points]
        levels = {
            name: VolLevel(
                start=min(day for day, owner in zip(days, name_index, strict=True) if owner == index),
                end=max(day for day, owner in zip(days, name_index, strict=True) if owner == index),
                atm_vol_per_vix=math.exp(theta[2 + count + index]),
                term_slope=float(theta[2 + index]),
                observations=int((name_index == index).sum()),
                # without daily closes the return is 0 throughout and the sensitivity is not fitted
                return_sensitivity=float(theta[2 + 2 * count + index])
                if np.any(recent[name_index == index] != 0.0)
                else 0.0,
            )
            for index, name in enumerate(names)
        }
        timing = replace(timing, overnight_weight=float(theta[0]), closed_day_weight=float(theta[1]))
        fitted_sessions = today + timing.overnight_weight * nights + timing.closed_day_weight * closed
        self.term_ranges = {
            name: (
                float(fitted_sessions[name_index == index].min()),
                float(fitted_sessions[name_index == index].max()),
            )
            for index, name in enumerate(names)
        }
        return timing, levels

    # -- smile ---------------------------------------------------------------------------------

    def smile_quotes(self, points: list[AtmPoint], timing: TimeParams) -> dict[str, SmileQuotes]:
        """Per underlying, the OTM quotes (premium floor applied) standardised by their own chain."""
        clock = VarianceTime(self.calendar, timing)
        found: dict[str, SmileQuotes] = defaultdict(SmileQuotes.empty)
        for point in points:
            time = clock.to_expiry(point.chain.at_utc, point.chain.expiry)
            atm = chain_atm_variance_vol(
                point.call, point.put, point.parity_forward, point.strike, time, self.options.discount_rate
            )
            if atm is not None:
                add_smile_quotes(
                    found[point.chain.underlying],
                    point.chain,
                    point.parity_forward,
                    atm,
                    time,
                    self.options.min_otm_premium,
                    self.recent_returns.recent_return(point.chain.underlying, point.chain.day),
                )
        return found

    def fit_smiles(self, points: list[AtmPoint], timing: TimeParams) -> dict[str, SmileParams]:
        quotes = self.smile_quotes(points, timing)
        rate = self.options.discount_rate
        return {
            name: fit_smile(found, rate, SMILE_REFERENCE_SESSIONS) for name, found in sorted(quotes.items())
        }

    # -- spread --------------------------------------------------------------------------------

    def fit_spread(self, spreads: list[SpreadObservation]) -> SpreadParams:
        """Median spread / time value (OTM) and the extra width per rupee of intrinsic (ITM); without
        bid/ask data in the folder the packaged calibration's fitted rule is kept (and says so)."""
        otm = [s.spread / s.mid for s in spreads if s.intrinsic == 0 and s.mid >= MIN_SPREAD_FIT_PREMIUM]
        if not otm:
            return load_calibration().spread
        time_fraction = float(np.median(otm))
        itm = [
            (s.spread - time_fraction * max(s.mid - s.intrinsic, 0.0)) / s.intrinsic
            for s in spreads
            if s.intrinsic > 0 and s.mid >= MIN_SPREAD_FIT_PREMIUM
        ]
        intrinsic_fraction = max(float(np.median(itm)), 0.0) if itm else time_fraction
        return SpreadParams(self.options.tick, time_fraction, intrinsic_fraction, len(spreads))

    # -- the whole fit -------------------------------------------------------------------------

    def fit(self, chains: list[ChainObservation], spreads: list[SpreadObservation]) -> CalibrationParams:
        carry = self.fit_carry(chains)
        self.resolve_spots(chains, carry)
        usable = [chain for chain in chains if np.isfinite(chain.spot)]
        points = self.atm_points(usable)
        if not points:
            raise ValueError("no chain observation has a call and a put at the same strike: nothing to fit")
        timing, levels = self.fit_atm(points, carry, {})
        smiles = self.fit_smiles(points, timing)
        timing, levels = self.fit_atm(points, carry, smiles)
        return self._assemble(timing, levels, smiles, carry, self.fit_spread(spreads))

    def atm_points(self, chains: list[ChainObservation]) -> list[AtmPoint]:
        points = []
        for chain in chains:
            years = self.bare_time.to_expiry(chain.at_utc, chain.expiry).calendar_years
            if years <= 0:
                continue
            point = atm_point(chain, self.options.discount_rate, years)
            if point is not None:
                points.append(point)
        return points

    def _assemble(
        self,
        timing: TimeParams,
        levels: dict[str, VolLevel],
        smiles: dict[str, SmileParams],
        carry: dict[str, float],
        spread: SpreadParams,
    ) -> CalibrationParams:
        underlyings = {}
        for name in sorted(levels):
            underlyings[name] = UnderlyingParams(
                name=name,
                carry=carry.get(name, self.options.default_carry),
                levels=(levels[name],),
                smile=smiles.get(name, FLAT_SMILE),
                term_min_sessions=self.term_ranges.get(name, (0.02, 260.0))[0],
                term_max_sessions=self.term_ranges.get(name, (0.02, 260.0))[1],
                fitted_from=f"{name} data" if name in carry else f"{name} data (carry: default setting)",
            )
        fallback = "NIFTY" if "NIFTY" in underlyings else sorted(underlyings)[0]
        return CalibrationParams(
            version=CALIBRATION_FORMAT_VERSION,
            discount_rate=self.options.discount_rate,
            time=timing,
            spread=spread,
            underlyings=underlyings,
            fallback_underlying=fallback,
        )

    # -- evaluation ----------------------------------------------------------------------------

    def evaluate(
        self, params: CalibrationParams, chains: list[ChainObservation], label: str
    ) -> list[ErrorRow]:
        """Model vs real premiums per segment: the ATM straddle and legs, and OTM contracts 1-3 model
        standard deviations out at or above the premium floor, priced from spot + VIX as a backtest
        would; plus the same OTM contracts priced with their chain's own ATM vol and parity forward
        (the smile's error alone, without the VIX->ATM error that an OTM premium amplifies), with
        only the forward the chain's own (an EOD index close is a 30-minute average, not the spot the
        options last traded against), and only premiums far from the tick floor."""
        model = SyntheticOptionModel(params, self.calendar, self.recent_returns)
        buckets: dict[str, list[float]] = defaultdict(list)
        for point in self.atm_points([chain for chain in chains if np.isfinite(chain.spot)]):
            chain = point.chain
            segment = segment_of(chain.source, (chain.expiry - chain.day).days)
            if segment is None:
                continue
            inputs = (chain.underlying, chain.spot, chain.vix, chain.at_utc, chain.expiry, chain.strikes)
            valuation = model.value_chain(*inputs, chain.is_call)
            quoted = tick_rounded(valuation.value, self.options.tick)
            model_call = float(quoted[(chain.strikes == point.strike) & chain.is_call][0])
            model_put = float(quoted[(chain.strikes == point.strike) & ~chain.is_call][0])
            prefix = f"{chain.underlying} {segment}"
            buckets[f"{prefix}|ATM straddle"].append((model_call + model_put) / (point.call + point.put) - 1)
            buckets[f"{prefix}|ATM legs"].extend([model_call / point.call - 1, model_put / point.put - 1])
            otm = np.where(
                chain.is_call, chain.strikes > point.parity_forward, chain.strikes < point.parity_forward
            )
            distance = np.abs(valuation.moneyness)
            far = otm & (distance >= 1.0) & (distance <= 3.0) & (chain.prices >= self.options.min_otm_premium)
            errors = quoted / chain.prices - 1
            buckets[f"{prefix}|OTM 1-3 SD"].extend(errors[far].tolist())
            for key, picked in _otm_breakdown(chain, segment, distance, far).items():
                buckets[key].extend(errors[picked].tolist())
            buckets[f"{prefix}|OTM 1-3 SD, implied vol"].extend(self._vol_errors(chain, valuation, far))
            buckets[f"{prefix}|OTM 1-3 SD, premium >= Rs 20"].extend(
                errors[far & (chain.prices >= LIQUID_PREMIUM)].tolist()
            )
            synchronous = model.value_chain(
                *inputs, chain.is_call, FuturePrice(point.parity_forward, chain.expiry)
            )
            errors_synchronous = tick_rounded(synchronous.value, self.options.tick) / chain.prices - 1
            buckets[f"{prefix}|OTM 1-3 SD, chain's own forward"].extend(errors_synchronous[far].tolist())
            future = self.future_of(chain)
            if future is not None:
                carried = model.value_chain(*inputs, chain.is_call, future)
                errors = tick_rounded(carried.value, self.options.tick) / chain.prices - 1
                buckets[f"{prefix}|OTM 1-3 SD, future forward"].extend(errors[far].tolist())
            buckets[f"{prefix}|OTM 1-3 SD, real ATM"].extend(
                self._smile_only_errors(model, point, valuation.time)
            )
        return [error_row(label, key, values) for key, values in sorted(buckets.items()) if values]

    def future_of(self, chain: ChainObservation) -> FuturePrice | None:
        """The chain's near future as the model takes it (its monthly expiry from the calendar when
        the data does not name it), None without one."""
        if not np.isfinite(chain.future_price):
            return None
        expiry = chain.future_expiry or near_future_expiry(self.calendar, chain.underlying, chain.day)
        return FuturePrice(chain.future_price, expiry) if expiry is not None else None

    def _vol_errors(
        self, chain: ChainObservation, valuation: ChainValuation, picked: BoolArray
    ) -> list[float]:
        """Model IV / real IV - 1 of the picked contracts, both in calendar time on the model's forward:
        the premium error divided by the option's vega elasticity (~3 at 1 SD out, ~6 at 2, ~12 at 3)."""
        time = valuation.time
        if time.calendar_years <= 0 or time.variance_years <= 0 or not picked.any():
            return []
        real = implied_vols(
            chain.prices[picked],
            valuation.forward[picked],
            chain.strikes[picked],
            time.calendar_years,
            self.options.discount_rate,
            chain.is_call[picked],
        )
        model = valuation.iv[picked] * math.sqrt(time.variance_years / time.calendar_years)
        errors = model / real - 1
        return errors[np.isfinite(errors)].tolist()

    def _smile_only_errors(
        self, model: SyntheticOptionModel, point: AtmPoint, time: TimeToExpiry
    ) -> list[float]:
        """OTM 1-3 SD errors when the ATM vol and forward are the chain's own (the smile alone)."""
        rate = self.options.discount_rate
        atm = chain_atm_variance_vol(point.call, point.put, point.parity_forward, point.strike, time, rate)
        if atm is None:
            return []
        quotes = SmileQuotes.empty()
        add_smile_quotes(
            quotes,
            point.chain,
            point.parity_forward,
            atm,
            time,
            self.options.min_otm_premium,
            model.recent_return(point.chain.underlying, point.chain.day),
        )
        if not len(quotes):
            return []
        moneyness = np.abs(np.asarray(quotes.moneyness))
        smile = model.underlying(point.chain.underlying).smile
        errors = smile_prices(smile, quotes, rate) / np.asarray(quotes.price) - 1
        return errors[(moneyness >= 1.0) & (moneyness <= 3.0)].tolist()

    def _other_period_errors(
        self, chains: list[ChainObservation], spreads: list[SpreadObservation]
    ) -> list[ErrorRow]:
        """Each month priced with a fit that never saw it (the nearest other month's level): the
        error a backtest of a period without option data should expect."""
        months = sorted({chain.day.strftime("%Y-%m") for chain in chains})
        if len(months) < 2:
            return []
        rows: list[ErrorRow] = []
        for month in months:
            seen = [c for c in chains if c.day.strftime("%Y-%m") != month]
            unseen = [c for c in chains if c.day.strftime("%Y-%m") == month]
            fitted = self.fit(seen, spreads)
            self.resolve_spots(unseen, {name: body.carry for name, body in fitted.underlyings.items()})
            rows += self.evaluate(fitted, unseen, "other-period")
        return rows

    def read(self, root: Path) -> CalibrationData:
        """The folder's chain observations within `max_days_to_expiry`; ValueError if there are none."""
        data = read_calibration_data(root, self.options.sample_every_minutes, self.options.min_eod_volume)
        self.recent_returns = DailyCloseReturns(data.daily_closes)
        first = self.options.first_day
        data.chains = [
            chain
            for chain in data.chains
            if (chain.expiry - chain.day).days <= self.options.max_days_to_expiry
            and (first is None or chain.day >= first)
        ]
        if not data.chains:
            since = f" from {first} on" if first is not None else ""
            raise ValueError(
                f"no option data recognised under {root}{since} (see `optbot data calibrate --help`)"
            )
        return data

    def exclusions(self) -> str:
        """What the fit and the error table leave out of the data, and why (written to provenance)."""
        options = self.options
        return (
            f"bhavcopy rows that did not trade (open 0: close and settlement are theoretical) or traded "
            f"fewer than {options.min_eod_volume:g} contracts (a thin close can be stale against the "
            f"index close); contracts over {options.max_days_to_expiry} days out; OTM quotes under "
            f"Rs {options.min_otm_premium:g} (the 0.05 tick dominates); chains without an INDIA VIX "
            "value; minute-bar contracts in minutes they did not trade. Model values are tick-rounded "
            f"({options.tick:g}, at least one tick) before they are compared."
        )

    def check(self, params: CalibrationParams, root: Path) -> tuple[ErrorRow, ...]:
        """The error table of an existing calibration on the folder's data, fitting nothing (a fit
        made elsewhere priced on data it never saw is out of sample by construction)."""
        data = self.read(root)
        self.resolve_spots(data.chains, {name: body.carry for name, body in params.underlyings.items()})
        return tuple(self.evaluate(params, data.chains, "given file"))

    def calibrate(self, root: Path) -> CalibrationResult:
        data = self.read(root)
        fit_days, test_days = _split_days(data.chains, self.options.in_sample_share)
        held_out = self.fit([c for c in data.chains if c.day in fit_days], data.spreads)
        tests = [c for c in data.chains if c.day in test_days]
        self.resolve_spots(tests, {name: body.carry for name, body in held_out.underlyings.items()})
        errors = self.evaluate(held_out, tests, "out-of-sample")
        errors += self._other_period_errors(data.chains, data.spreads)
        params = self.fit(data.chains, data.spreads)
        errors += self.evaluate(params, data.chains, "in-sample")
        provenance = _provenance(data.chains, data.datasets, fit_days, test_days, len(data.spreads))
        provenance["excluded"] = self.exclusions()
        if not data.spreads:
            data.skipped.append(
                "no bid/ask data in the folder: the packaged calibration's spread rule is kept"
            )
        final = replace(params, provenance=provenance, errors=tuple(row.as_dict() for row in errors))
        return CalibrationResult(
            final, tuple(errors), len(data.chains), len(data.spreads), tuple(data.skipped)
        )


def tick_rounded(values: FloatArray, tick: float) -> FloatArray:
    """What a backtest quotes for model values: whole ticks, at least one (the exchange's minimum)."""
    return np.maximum(np.round(values / tick), 1.0) * tick


#: Calendar days to expiry of the EOD breakdown rows (the target segment is 3-35 d as a whole).
DTE_BUCKETS = ((3, 7), (8, 14), (15, 35))


def _otm_breakdown(
    chain: ChainObservation, segment: str, distance: FloatArray, far: BoolArray
) -> dict[str, BoolArray]:
    """The OTM 1-3 SD contracts of an EOD chain split by moneyness (1-2 / 2-3 SD), side (puts /
    calls) and days to expiry, so the table shows where an error comes from."""
    if not segment.endswith("EOD"):
        return {}
    prefix = f"{chain.underlying} {segment}"
    days = (chain.expiry - chain.day).days
    split = {
        f"{prefix}|OTM 1-2 SD": far & (distance < 2.0),
        f"{prefix}|OTM 2-3 SD": far & (distance >= 2.0),
        f"{prefix}|OTM 1-3 SD puts": far & ~chain.is_call,
        f"{prefix}|OTM 1-3 SD calls": far & chain.is_call,
    }
    for low, high in DTE_BUCKETS:
        if low <= days <= high:
            split[f"{chain.underlying} {low}-{high} d EOD|OTM 1-3 SD"] = far
    return split


def _split_days(chains: list[ChainObservation], share: float) -> tuple[set[date], set[date]]:
    """Per calendar month of data: the first `share` of its days fit, the rest test."""
    months: dict[str, set[date]] = defaultdict(set)
    for chain in chains:
        months[chain.day.strftime("%Y-%m")].add(chain.day)
    fit, test = set(), set()
    for days in months.values():
        ordered = sorted(days)
        cut = max(1, min(len(ordered) - 1, round(len(ordered) * share)))
        fit.update(ordered[:cut])
        test.update(ordered[cut:])
    return fit, test


def _provenance(
    chains: list[ChainObservation], datasets: dict[str, str], fit: set[date], test: set[date], spreads: int
) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    for chain in chains:
        counts[f"{chain.underlying} {chain.source}"] += 1
    days = sorted({chain.day for chain in chains})
    return {
        "fitted_by": "optbot data calibrate",
        "data_first_day": days[0],
        "data_last_day": days[-1],
        "datasets": dict(sorted(datasets.items())),
        "chain_observations": dict(sorted(counts.items())),
        "spread_observations": spreads,
        "evaluation": "out-of-sample: fit on the first 60 % of each month's days, tested on the rest; "
        "other-period: each month priced by a fit on the other months only (a period without option "
        "data); in-sample: fit and tested on all days",
        "out_of_sample_fit_days": [day.isoformat() for day in sorted(fit)],
        "out_of_sample_test_days": [day.isoformat() for day in sorted(test)],
    }

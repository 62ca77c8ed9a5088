"""Fit the synthetic option model to real premiums and measure how well it reproduces them.

Steps (each from the data, nothing assumed where data exists):
1. carry per underlying: median of ln(F/S)/t over futures closes and put-call-parity forwards
   (parity at the strike where call and put are closest), t ≥ `min_carry_days` (short parity is noise);
2. ATM vol: least squares on ln(model/real) ATM straddles for the night and closed-day weights, a
   term slope per underlying and a VIX->ATM-vol level per underlying and calendar month;
3. smile: median implied-vol ratio to ATM of out-of-the-money contracts in bins of standardised
   moneyness, per underlying (no skew the data does not show: bins without data stay flat);
4. spread: median spread/time value (OTM) and spread/intrinsic (ITM) from bid/ask snapshots.
Errors are measured with the shipped `SyntheticOptionModel` itself, out of sample (fit on the first
days of each month of data, tested on the later ones) and in sample (fit on all).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from optbot.analytics.calibration_archive import read_calibration_data
from optbot.analytics.calibration_data import ChainObservation, SpreadObservation
from optbot.analytics.pricing import black76_values
from optbot.analytics.synthetic import SyntheticOptionModel, VarianceTime
from optbot.analytics.synthetic_params import (
    CALIBRATION_FORMAT_VERSION,
    CalibrationParams,
    SmileTable,
    SpreadParams,
    TimeParams,
    UnderlyingParams,
    VolLevel,
    load_calibration,
)
from optbot.calendar import CalendarRangeError, NseCalendar

FloatArray = NDArray[np.float64]
SMILE_NODES = tuple(float(value) for value in np.arange(-4.0, 4.01, 0.5))
#: Smile tables by time left (sessions): the expiry day, the rest of an expiry week, longer.
SMILE_TENORS = (1.0, 5.0, 1e6)
MIN_SMILE_BIN = 5
IV_BISECTION_STEPS = 60
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
    #: Longer-dated contracts (LEAPs out to 2029 trade a few lots) are left out of the fit.
    max_days_to_expiry: int = 95


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """One line of the error table: model vs real premium, (model - real) / real."""

    evaluation: str
    segment: str
    observations: int
    median_abs_pct: float
    p90_abs_pct: float
    bias_pct: float
    target: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "evaluation": self.evaluation,
            "segment": self.segment,
            "observations": self.observations,
            "median_abs_pct": round(self.median_abs_pct, 2),
            "p90_abs_pct": round(self.p90_abs_pct, 2),
            "bias_pct": round(self.bias_pct, 2),
            "target": self.target,
        }


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


def implied_vols(
    prices: FloatArray,
    forward: FloatArray,
    strike: FloatArray,
    years: float,
    rate: float,
    is_call: NDArray[np.bool_],
) -> FloatArray:
    """Calendar-time Black-76 implied vols by bisection (NaN where the price has no time value)."""
    low, high = np.full(prices.shape, 1e-4), np.full(prices.shape, 5.0)
    for _ in range(IV_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        above = black76_values(forward, strike, years, middle, rate, is_call) > prices
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    solved = 0.5 * (low + high)
    intrinsic = np.exp(-rate * years) * np.where(
        is_call, np.maximum(forward - strike, 0.0), np.maximum(strike - forward, 0.0)
    )
    usable = (prices > intrinsic + 0.01) & (solved > 2e-4) & (solved < 4.99)
    return np.where(usable, solved, np.nan)


def _future_expiry(calendar: NseCalendar, underlying: str, day: date) -> date | None:
    try:
        found = calendar.expiries(underlying, day, day + timedelta(days=45), kind="monthly")
    except (CalendarRangeError, KeyError, ValueError):
        return None
    return found[0] if found else None


class Calibrator:
    """Runs the fit over one folder of data; `calibrate()` returns parameters and the error table."""

    def __init__(self, calendar: NseCalendar, options: FitOptions) -> None:
        self.calendar = calendar
        self.options = options
        self.bare_time = VarianceTime(calendar, TimeParams(0.0, 0.0))
        self.term_ranges: dict[str, tuple[float, float]] = {}

    # -- carry ---------------------------------------------------------------------------------

    def fit_carry(self, chains: list[ChainObservation]) -> dict[str, float]:
        samples: dict[str, list[float]] = defaultdict(list)
        for chain in chains:
            if not np.isfinite(chain.spot):
                continue
            years = self.bare_time.to_expiry(chain.at_utc, chain.expiry).calendar_years
            if np.isfinite(chain.future_price) and chain.future_expiry is not None:
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
            expiry = chain.future_expiry or _future_expiry(self.calendar, chain.underlying, chain.day)
            if expiry is None:
                continue
            years = self.bare_time.to_expiry(chain.at_utc, expiry).calendar_years
            rate = carry.get(chain.underlying, self.options.default_carry)
            chain.spot = chain.future_price * math.exp(-rate * years)

    # -- ATM vol -------------------------------------------------------------------------------

    def fit_atm(
        self, points: list[AtmPoint], carry: dict[str, float], smiles: dict[str, UnderlyingParams]
    ) -> tuple[TimeParams, dict[tuple[str, str], VolLevel]]:
        names = sorted({point.chain.underlying for point in points})
        windows = sorted({(point.chain.underlying, point.chain.day.strftime("%Y-%m")) for point in points})
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
        name_index = np.array([names.index(point.chain.underlying) for point in points])
        window_index = np.array(
            [windows.index((point.chain.underlying, point.chain.day.strftime("%Y-%m"))) for point in points]
        )
        group_sizes: dict[tuple[str, str], int] = defaultdict(int)
        for point in points:
            group_sizes[(point.chain.underlying, point.chain.source)] += 1
        weight = np.array(
            [1.0 / math.sqrt(group_sizes[(p.chain.underlying, p.chain.source)]) for p in points]
        )
        smile_rows = []
        for point, component in zip(points, components, strict=True):
            body = smiles.get(point.chain.underlying)
            sessions = component.session_today + component.later_sessions
            smile_rows.append(
                body.smile_for(sessions) if body is not None else tuple(1.0 for _ in SMILE_NODES)
            )
        smile_table = np.array(smile_rows)
        timing = TimeParams(0.0, 0.0)
        rate = self.options.discount_rate

        def residuals(theta: FloatArray) -> FloatArray:
            overnight, closed_weight = theta[0], theta[1]
            slopes = theta[2 : 2 + len(names)][name_index]
            levels = np.exp(theta[2 + len(names) :][window_index])
            sessions = today + overnight * nights + closed_weight * closed
            clipped = np.clip(sessions, timing.min_sessions, timing.max_sessions)
            atm = levels * vix / 100.0 * (clipped / timing.reference_sessions) ** slopes
            variance_years = np.maximum(sessions, 1e-6) / timing.sessions_per_year
            moneyness = np.log(strike / forward) / (atm * np.sqrt(variance_years))
            ratio = _interp_rows(moneyness, smile_table)
            vol = atm * ratio * np.sqrt(variance_years / cal_years)
            model = black76_values(forward, strike, cal_years, vol, rate, True) + black76_values(
                forward, strike, cal_years, vol, rate, False
            )
            return np.asarray(weight * np.log(np.maximum(model, 1e-6) / real), dtype=np.float64)

        start = np.concatenate([[0.3, 0.1], np.zeros(len(names)), np.full(len(windows), math.log(0.9))])
        lower = np.concatenate([[0.0, 0.0], np.full(len(names), -0.5), np.full(len(windows), math.log(0.2))])
        upper = np.concatenate([[2.0, 1.0], np.full(len(names), 0.5), np.full(len(windows), math.log(3.0))])
        fitted = least_squares(residuals, start, bounds=(lower, upper), loss="soft_l1", f_scale=0.05)
        theta = fitted.x
        counts = np.bincount(window_index, minlength=len(windows))
        fitted_windows = {
            window: _level(
                window,
                math.exp(theta[2 + len(names) + index]),
                float(theta[2 + names.index(window[0])]),
                int(counts[index]),
            )
            for index, window in enumerate(windows)
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
        return timing, fitted_windows

    # -- smile ---------------------------------------------------------------------------------

    def fit_smiles(self, points: list[AtmPoint], timing: TimeParams) -> dict[str, tuple[SmileTable, ...]]:
        """Per underlying and tenor, the smile nodes; each data source (1-minute, EOD) counts equally
        in a node, so thousands of minute samples do not drown the end-of-day chains."""
        samples: dict[tuple[str, int, str], list[tuple[float, float]]] = defaultdict(list)
        for point in points:
            tenor, pairs = self._smile_samples(point, timing)
            samples[(point.chain.underlying, tenor, point.chain.source)].extend(pairs)
        names = sorted({name for name, _, _ in samples})
        tables: dict[str, tuple[SmileTable, ...]] = {}
        for name in names:
            rows = []
            for tenor, limit in enumerate(SMILE_TENORS):
                pooled = _source_average(
                    [_smile_nodes(found, None) for (_, index, _), found in samples.items() if index == tenor]
                )
                own = [
                    found for (owner, index, _), found in samples.items() if owner == name and index == tenor
                ]
                nodes = _source_average([_smile_nodes(found, pooled) for found in own]) if own else pooled
                rows.append(SmileTable(limit, nodes, sum(len(found) for found in own)))
            tables[name] = tuple(rows)
        return tables

    def _smile_samples(self, point: AtmPoint, timing: TimeParams) -> tuple[int, list[tuple[float, float]]]:
        """(tenor bucket, [(standardised moneyness, IV / ATM IV)]) of one chain's OTM contracts."""
        chain, rate = point.chain, self.options.discount_rate
        time = VarianceTime(self.calendar, timing).to_expiry(chain.at_utc, chain.expiry)
        tenor = next(index for index, limit in enumerate(SMILE_TENORS) if time.sessions < limit)
        if time.calendar_years <= 0 or time.variance_years <= 0:
            return tenor, []
        scale = math.sqrt(time.calendar_years / time.variance_years)
        atm_cal = implied_vols(
            np.array([point.call, point.put]),
            np.full(2, point.parity_forward),
            np.full(2, point.strike),
            time.calendar_years,
            rate,
            np.array([True, False]),
        )
        if not np.isfinite(atm_cal).any():
            return tenor, []
        atm = float(np.nanmean(atm_cal)) * scale
        otm = np.where(
            chain.is_call, chain.strikes > point.parity_forward, chain.strikes < point.parity_forward
        )
        strikes = chain.strikes[otm]
        vols = scale * implied_vols(
            chain.prices[otm],
            np.full(strikes.shape, point.parity_forward),
            strikes,
            time.calendar_years,
            rate,
            chain.is_call[otm],
        )
        moneyness = np.log(strikes / point.parity_forward) / (atm * math.sqrt(time.variance_years))
        return tenor, [
            (float(m), float(v / atm)) for m, v in zip(moneyness, vols, strict=True) if np.isfinite(v)
        ]

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
        timing, windows = self.fit_atm(points, carry, {})
        smiles = self.fit_smiles(points, timing)
        draft = self._assemble(timing, windows, smiles, carry, SpreadParams(self.options.tick, 0, 0, 0))
        timing, windows = self.fit_atm(points, carry, draft.underlyings)
        return self._assemble(timing, windows, smiles, carry, self.fit_spread(spreads))

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
        windows: dict[tuple[str, str], VolLevel],
        smiles: dict[str, tuple[SmileTable, ...]],
        carry: dict[str, float],
        spread: SpreadParams,
    ) -> CalibrationParams:
        flat = (SmileTable(SMILE_TENORS[-1], tuple(1.0 for _ in SMILE_NODES), 0),)
        underlyings = {}
        for name in sorted({owner for owner, _ in windows}):
            underlyings[name] = UnderlyingParams(
                name=name,
                carry=carry.get(name, self.options.default_carry),
                levels=tuple(level for (owner, _), level in sorted(windows.items()) if owner == name),
                smile_moneyness=SMILE_NODES,
                smiles=smiles.get(name, flat),
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
        model = SyntheticOptionModel(params, self.calendar)
        buckets: dict[str, list[float]] = defaultdict(list)
        for point in self.atm_points([chain for chain in chains if np.isfinite(chain.spot)]):
            chain = point.chain
            days = (chain.expiry - chain.day).days
            valuation = model.value_chain(
                chain.underlying,
                chain.spot,
                chain.vix,
                chain.at_utc,
                chain.expiry,
                chain.strikes,
                chain.is_call,
            )
            segment = _segment(chain.source, days)
            if segment is None:
                continue
            model_call = float(valuation.value[(chain.strikes == point.strike) & chain.is_call][0])
            model_put = float(valuation.value[(chain.strikes == point.strike) & ~chain.is_call][0])
            prefix = f"{chain.underlying} {segment}"
            buckets[f"{prefix}|ATM straddle"].append((model_call + model_put) / (point.call + point.put) - 1)
            buckets[f"{prefix}|ATM legs"].extend([model_call / point.call - 1, model_put / point.put - 1])
            otm = np.where(
                chain.is_call, chain.strikes > point.parity_forward, chain.strikes < point.parity_forward
            )
            far = otm & (np.abs(valuation.moneyness) >= 1.0) & (np.abs(valuation.moneyness) <= 3.0)
            buckets[f"{prefix}|OTM 1-3 SD"].extend((valuation.value[far] / chain.prices[far] - 1).tolist())
        return [_row(label, key, values) for key, values in sorted(buckets.items()) if values]

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

    def calibrate(self, root: Path) -> CalibrationResult:
        data = read_calibration_data(root, self.options.sample_every_minutes, self.options.min_eod_volume)
        data.chains = [
            chain
            for chain in data.chains
            if (chain.expiry - chain.day).days <= self.options.max_days_to_expiry
        ]
        if not data.chains:
            raise ValueError(f"no option data recognised under {root} (see `optbot data calibrate --help`)")
        fit_days, test_days = _split_days(data.chains, self.options.in_sample_share)
        held_out = self.fit([c for c in data.chains if c.day in fit_days], data.spreads)
        tests = [c for c in data.chains if c.day in test_days]
        self.resolve_spots(tests, {name: body.carry for name, body in held_out.underlyings.items()})
        errors = self.evaluate(held_out, tests, "out-of-sample")
        errors += self._other_period_errors(data.chains, data.spreads)
        params = self.fit(data.chains, data.spreads)
        errors += self.evaluate(params, data.chains, "in-sample")
        provenance = _provenance(data.chains, data.datasets, fit_days, test_days, len(data.spreads))
        if not data.spreads:
            data.skipped.append(
                "no bid/ask data in the folder: the packaged calibration's spread rule is kept"
            )
        final = replace(params, provenance=provenance, errors=tuple(row.as_dict() for row in errors))
        return CalibrationResult(
            final, tuple(errors), len(data.chains), len(data.spreads), tuple(data.skipped)
        )


def _smile_nodes(samples: list[tuple[float, float]], fallback: tuple[float, ...] | None) -> tuple[float, ...]:
    """Median ratio per node (±0.25 around it); sparse nodes take the pooled value, else stay flat."""
    moneyness = np.array([m for m, _ in samples]) if samples else np.empty(0)
    ratios = np.array([r for _, r in samples]) if samples else np.empty(0)
    values = []
    for index, node in enumerate(SMILE_NODES):
        mask = np.abs(moneyness - node) <= 0.25
        if mask.sum() >= MIN_SMILE_BIN:
            values.append(float(np.median(ratios[mask])))
        else:
            values.append(fallback[index] if fallback is not None else 1.0)
    centre = float(np.interp(0.0, SMILE_NODES, values))
    return tuple(value / centre for value in values)


def _source_average(tables: list[tuple[float, ...]]) -> tuple[float, ...]:
    if not tables:
        return tuple(1.0 for _ in SMILE_NODES)
    return tuple(float(value) for value in np.mean(np.array(tables), axis=0))


def _interp_rows(moneyness: FloatArray, table: FloatArray) -> FloatArray:
    """Row-wise linear interpolation of each row's smile at its own moneyness (flat outside)."""
    nodes = np.asarray(SMILE_NODES)
    position = np.clip((moneyness - nodes[0]) / (nodes[1] - nodes[0]), 0.0, len(nodes) - 1.0)
    left = np.minimum(np.floor(position).astype(np.int64), len(nodes) - 2)
    weight = position - left
    rows = np.arange(len(moneyness))
    return np.asarray(table[rows, left] * (1 - weight) + table[rows, left + 1] * weight, dtype=np.float64)


def _level(window: tuple[str, str], value: float, slope: float, observations: int) -> VolLevel:
    """The fitted level and slope of one underlying-month, valid over that calendar month."""
    year, month = (int(part) for part in window[1].split("-"))
    start = date(year, month, 1)
    end = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
    return VolLevel(start, end, value, slope, observations)


def _segment(source: str, days: int) -> str | None:
    if source == "EOD":
        return "3-35 d EOD" if 3 <= days <= 35 else None
    if days == 0:
        return "expiry day 1-minute"
    return "1-7 d 1-minute" if days <= 7 else None


TARGETS: dict[str, str] = {
    "NIFTY|ATM straddle": "median <= 4 %, p90 <= 10 %, bias within ±3 %",
    "NIFTY|ATM legs": "median <= 6 %, p90 <= 15 %",
    "BANKNIFTY|ATM legs": "median <= 7 %, p90 <= 20 %",
    "|OTM 1-3 SD": "median <= 5 %",
}


def _target(key: str) -> str:
    underlying, kind = key.split(" ", 1)[0], key.split("|", 1)[1]
    return TARGETS.get(f"{underlying}|{kind}", TARGETS.get(f"|{kind}", "-")) if "3-35 d" in key else "-"


def _row(label: str, key: str, values: list[float]) -> ErrorRow:
    errors = np.array(values) * 100.0
    segment = key.replace("|", " ")
    return ErrorRow(
        evaluation=label,
        segment=segment,
        observations=len(values),
        median_abs_pct=float(np.median(np.abs(errors))),
        p90_abs_pct=float(np.percentile(np.abs(errors), 90)),
        bias_pct=float(np.median(errors)),
        target=_target(key),
    )


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

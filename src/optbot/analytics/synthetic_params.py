"""The synthetic option model's fitted parameters and their versioned TOML file.

The packaged file (`optbot/analytics/data/calibration.toml`) is written by `optbot data calibrate`
from the real option data bundled in data/sample; a user points `analytics.calibration_file` at a
file fitted to their own data. Every number a synthetic quote depends on lives here, with where it
came from (data sets, observation counts) and how well it reproduced real premiums (the error table).
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from numpy.typing import NDArray

from optbot.core.errors import UserError

#: Bumped when the file's layout changes; a file of another version is refused with a clear message.
CALIBRATION_FORMAT_VERSION = 3
PACKAGED_CALIBRATION = "calibration.toml"
#: Floor on the smile's IV / ATM IV (keeps a fitted wing from reaching zero or negative vol).
MIN_SMILE_RATIO = 0.3

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TimeParams:
    """Time to expiry in "variance time": session units, nights and closed days weighted.

    A session counts 1 (its remaining fraction today); each overnight gap before a later session
    counts `overnight_weight` of a session and each weekend/holiday day `closed_day_weight`: the
    market prices the gap risk of a night but little decay for a Sunday. Both weights are fitted.
    """

    overnight_weight: float
    closed_day_weight: float
    sessions_per_year: float = 252.0
    reference_sessions: float = 5.0
    min_sessions: float = 0.02
    max_sessions: float = 260.0


@dataclass(frozen=True, slots=True)
class SpreadParams:
    """Bid/ask width: one tick at least, a fraction of time value, a (larger) fraction of intrinsic."""

    tick: float
    time_value_fraction: float
    intrinsic_fraction: float
    observations: int


@dataclass(frozen=True, slots=True)
class VolLevel:
    """ATM implied vol (per variance-time year) per unit of INDIA VIX and the term slope used with it,
    over a stretch of dates. `optbot data calibrate` writes one per underlying spanning all its data (a
    level per month would jump at month ends and say nothing about a month without option data); a
    file may hold several, and the one nearest in time applies."""

    start: date
    end: date
    atm_vol_per_vix: float
    term_slope: float
    observations: int
    #: The ATM vol is multiplied by exp(-return_sensitivity * r), r = ln(close of the last session
    #: before the day / close `RECENT_RETURN_SESSIONS` sessions before that): the underlying's last
    #: week, known at the open. Vol rises after a fall beyond what INDIA VIX (NIFTY's) says, most for
    #: an index that fell more than NIFTY. 0: no such effect (a file without it, or data without
    #: daily closes).
    return_sensitivity: float = 0.0


#: Standardised moneyness of the smile's knots: dense where OTM premiums trade (1-3 SD), one knot
#: out at ±4 for the far wings; z = 0 (the ATM) is pinned at 1.
#: The smile's end segments continue in a straight line out to this many SD (past any listed strike).
FAR_Z = 1000.0
#: Sessions of the recent return the ATM vol responds to (`VolLevel.return_sensitivity`).
RECENT_RETURN_SESSIONS = 5
SMILE_KNOTS = (-4.0, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)


@dataclass(frozen=True, slots=True)
class SmileParams:
    """The volatility smile as IV / ATM IV over standardised moneyness z = ln(K/F) / (σ_atm·√τ).

    Piecewise linear through `values` at `knots` (the value at z = 0 is 1), continued beyond the end
    knots along the end segments' slopes. A quadratic cannot hold what real NSE chains show, a call
    side that dips below the ATM vol out to ~1.5 SD and then climbs steeply, beside a put side that
    rises all the way; knots fitted per underlying hold both, the put and call sides independently
    (no skew the data does not show: knots without quotes stay on the straight line of their
    neighbours, a side without quotes at the flat 1). The values are quoted at `reference_sessions`
    to expiry; each side's distance from 1 scales with the time left as
    (sessions / reference_sessions) ** put_term (z < 0) or ** call_term (z > 0), sessions clipped
    to the fitted range (one exponent per side: a slope per knot fitted better in sample and worse
    out of sample). The call side also moves with the underlying's recent return r (the last week
    before the day, as the ATM vol's `VolLevel.return_sensitivity`): it rises by
    `call_lift_per_return`·(−r) beyond 1 SD, ramped in linearly from the ATM (calls grow richer
    against the smile after a fall, cheaper after a rise). The ratio is floored at `MIN_SMILE_RATIO`.
    """

    knots: tuple[float, ...]
    values: tuple[float, ...]
    put_term: float = 0.0
    call_term: float = 0.0
    reference_sessions: float = 10.0
    min_sessions: float = 0.1
    max_sessions: float = 260.0
    observations: int = 0
    call_lift_per_return: float = 0.0

    def call_lift(self, recent_return: float | None) -> float:
        """The call side's lift (IV / ATM IV beyond 1 SD) after `recent_return` (None: unknown, 0)."""
        if recent_return is None or self.call_lift_per_return == 0.0:
            return 0.0
        return -self.call_lift_per_return * recent_return

    def ratio(
        self, moneyness: FloatArray, sessions: float | FloatArray, lift: float | FloatArray = 0.0
    ) -> FloatArray:
        """IV / ATM IV at each standardised moneyness (sessions and the call side's `lift`: one
        value or one per moneyness). One `np.interp` for a chain at one time: a replay prices a chain
        on every tick. Scaling each side's knots commutes with the linear interpolation because the
        ATM knot's distance from 1 is zero."""
        z = np.asarray(moneyness, dtype=np.float64)
        if np.ndim(sessions) == 0:
            put_scale, call_scale = self.term_scales(float(sessions))
            shaped = np.interp(z, *self._scaled_knots(put_scale, call_scale))
        else:
            bounded = np.clip(np.asarray(sessions, dtype=np.float64), self.min_sessions, self.max_sessions)
            tenor = bounded / self.reference_sessions
            scale = np.where(z < 0.0, tenor**self.put_term, tenor**self.call_term)
            shaped = 1.0 + (self._interpolated(z, 1.0, 1.0) - 1.0) * scale
        if np.any(lift):
            shaped = shaped + np.asarray(lift) * np.clip(z, 0.0, 1.0)
        return np.maximum(shaped, MIN_SMILE_RATIO)

    def ratio_at(self, moneyness: float, sessions: float, lift: float = 0.0) -> float:
        """`ratio` at one standardised moneyness, in plain floats (a held contract marked per bar):
        the same knots and the same linear interpolation as `np.interp`."""
        put_scale, call_scale = self.term_scales(sessions)
        return self.ratio_scaled(moneyness, put_scale, call_scale, lift)

    def ratio_scaled(self, moneyness: float, put_scale: float, call_scale: float, lift: float = 0.0) -> float:
        """`ratio_at` with the sides' scales at the time left given (`term_scales`, shared by every
        strike of an expiry at one instant). Only the two knots either side of `moneyness` are
        scaled, each as `_scaled_knots` scales it (the same floats, without building the other 15)."""
        knots, values = self.knots, self.values

        def scaled(index: int) -> float:
            return 1.0 + (values[index] - 1.0) * (put_scale if knots[index] < 0.0 else call_scale)

        if moneyness <= -FAR_Z:
            ratio = self._far_low(scaled(0), scaled(1))
        elif moneyness >= FAR_Z:
            ratio = self._far_high(scaled(-1), scaled(-2))
        else:
            upper = bisect_right(knots, moneyness)  # the knot above, in knots; len(knots): FAR_Z
            last = len(knots)
            if upper == 0:
                x_low, y_low = -FAR_Z, self._far_low(scaled(0), scaled(1))
            else:
                x_low, y_low = knots[upper - 1], scaled(upper - 1)
            if upper == last:
                x_high, y_high = FAR_Z, self._far_high(scaled(-1), scaled(-2))
            else:
                x_high, y_high = knots[upper], scaled(upper)
            slope = (y_high - y_low) / (x_high - x_low)
            ratio = slope * (moneyness - x_low) + y_low
        if lift and moneyness > 0.0:
            ratio += lift * min(moneyness, 1.0)
        return max(ratio, MIN_SMILE_RATIO)

    def _far_low(self, first: float, second: float) -> float:
        """The scaled ratio at -`FAR_Z`: the first segment continued (`first`, `second`: the scaled
        ratios at the first two knots)."""
        knots = self.knots
        return first - (second - first) / (knots[1] - knots[0]) * (FAR_Z + knots[0])

    def _far_high(self, last: float, before_last: float) -> float:
        """The scaled ratio at +`FAR_Z`: the last segment continued."""
        knots = self.knots
        return last + (last - before_last) / (knots[-1] - knots[-2]) * (FAR_Z - knots[-1])

    def _interpolated(self, z: FloatArray, put_scale: float, call_scale: float) -> FloatArray:
        """The knots with each side's distance from 1 scaled, continued linearly out to ±`FAR_Z`."""
        ratio = np.interp(z, *self._scaled_knots(put_scale, call_scale))
        return np.asarray(np.maximum(ratio, MIN_SMILE_RATIO), dtype=np.float64)

    def _scaled_knots(
        self, put_scale: float, call_scale: float
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(z, ratio) of the knots with each side's distance from 1 scaled, extended to ±`FAR_Z`."""
        knots = self.knots
        scaled = [
            1.0 + (value - 1.0) * (put_scale if knot < 0.0 else call_scale)
            for knot, value in zip(knots, self.values, strict=True)
        ]
        low, high = self._far_low(scaled[0], scaled[1]), self._far_high(scaled[-1], scaled[-2])
        return (-FAR_Z, *knots, FAR_Z), (low, *scaled, high)

    def term_scales(self, sessions: float) -> tuple[float, float]:
        """How far each side's shape is from its `reference_sessions` shape at the time left."""
        tenor = min(max(sessions, self.min_sessions), self.max_sessions) / self.reference_sessions
        return tenor**self.put_term, tenor**self.call_term

    @classmethod
    def flat(cls) -> SmileParams:
        """No smile: IV equals the ATM IV at every strike."""
        return cls(SMILE_KNOTS, (1.0,) * len(SMILE_KNOTS))


FLAT_SMILE = SmileParams.flat()


@dataclass(frozen=True, slots=True)
class UnderlyingParams:
    """One underlying's forward carry, VIX->ATM-vol levels, term slope and smile."""

    name: str
    carry: float
    levels: tuple[VolLevel, ...]
    smile: SmileParams
    fitted_from: str = "own data"
    #: Time to expiry (session units) the fit saw; the term slope is not extrapolated beyond it.
    term_min_sessions: float = 0.02
    term_max_sessions: float = 260.0

    def level_on(self, day: date) -> VolLevel:
        """The window holding `day`, else the nearest window in time."""
        return min(self.levels, key=lambda level: _distance(level, day))


def _distance(level: VolLevel, day: date) -> int:
    if level.start <= day <= level.end:
        return 0
    return min(abs((level.start - day).days), abs((day - level.end).days))


@dataclass(frozen=True, slots=True)
class CalibrationParams:
    """Everything the synthetic quote model reads, plus provenance and the fit's error table."""

    version: int
    discount_rate: float
    time: TimeParams
    spread: SpreadParams
    underlyings: dict[str, UnderlyingParams]
    fallback_underlying: str
    provenance: dict[str, Any] = field(default_factory=dict)
    errors: tuple[dict[str, Any], ...] = ()

    def for_underlying(self, name: str) -> UnderlyingParams:
        """`name`'s parameters; an underlying the data never covered uses the fallback's."""
        found = self.underlyings.get(name.upper())
        if found is not None:
            return found
        fallback = self.underlyings[self.fallback_underlying]
        return UnderlyingParams(
            name=name.upper(),
            carry=fallback.carry,
            levels=fallback.levels,
            smile=fallback.smile,
            term_min_sessions=fallback.term_min_sessions,
            term_max_sessions=fallback.term_max_sessions,
            fitted_from=f"{fallback.name} (no {name.upper()} data in the calibration)",
        )


def _level_from(raw: dict[str, Any]) -> VolLevel:
    return VolLevel(
        start=_as_date(raw["start"]),
        end=_as_date(raw["end"]),
        atm_vol_per_vix=float(raw["atm_vol_per_vix"]),
        term_slope=float(raw["term_slope"]),
        observations=int(raw.get("observations", 0)),
        return_sensitivity=float(raw.get("return_sensitivity", 0.0)),
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _smile_from(name: str, raw: dict[str, Any]) -> SmileParams:
    smile = SmileParams(
        knots=tuple(float(knot) for knot in raw["knots"]),
        values=tuple(float(value) for value in raw["values"]),
        put_term=float(raw.get("put_term", 0.0)),
        call_term=float(raw.get("call_term", 0.0)),
        reference_sessions=float(raw.get("reference_sessions", 10.0)),
        min_sessions=float(raw.get("min_sessions", 0.1)),
        max_sessions=float(raw.get("max_sessions", 260.0)),
        observations=int(raw.get("observations", 0)),
        call_lift_per_return=float(raw.get("call_lift_per_return", 0.0)),
    )
    knots = np.asarray(smile.knots)
    if len(smile.knots) < 3 or len(smile.values) != len(smile.knots) or np.any(np.diff(knots) <= 0):
        raise ValueError(f"{name}: smile needs 3+ increasing knots and one value per knot")
    if 0.0 not in smile.knots or smile.values[smile.knots.index(0.0)] != 1.0:
        raise ValueError(f"{name}: the smile's value at knot 0 (the ATM) must be 1")
    if not 0 < smile.min_sessions <= smile.max_sessions or smile.reference_sessions <= 0:
        raise ValueError(f"{name}: smile needs 0 < min_sessions <= max_sessions and reference_sessions > 0")
    return smile


def _smile_to_dict(smile: SmileParams) -> dict[str, Any]:
    return {
        "knots": list(smile.knots),
        "values": [round(value, 6) for value in smile.values],
        "put_term": round(smile.put_term, 6),
        "call_term": round(smile.call_term, 6),
        "reference_sessions": smile.reference_sessions,
        "min_sessions": round(smile.min_sessions, 4),
        "max_sessions": round(smile.max_sessions, 4),
        "observations": smile.observations,
        "call_lift_per_return": round(smile.call_lift_per_return, 6),
    }


def _underlying_from(name: str, raw: dict[str, Any]) -> UnderlyingParams:
    levels = tuple(_level_from(level) for level in raw["levels"])
    if not levels:
        raise ValueError(f"{name}: at least one [[levels]] entry is needed")
    return UnderlyingParams(
        name=name,
        carry=float(raw["carry"]),
        levels=levels,
        smile=_smile_from(name, raw["smile"]),
        fitted_from=str(raw.get("fitted_from", "own data")),
        term_min_sessions=float(raw.get("term_min_sessions", 0.02)),
        term_max_sessions=float(raw.get("term_max_sessions", 260.0)),
    )


def params_from_dict(raw: dict[str, Any]) -> CalibrationParams:
    """Parse a calibration document; KeyError/ValueError name the bad field."""
    version = int(raw["version"])
    if version != CALIBRATION_FORMAT_VERSION:
        raise ValueError(
            f"calibration format version {version}; this optbot reads {CALIBRATION_FORMAT_VERSION} "
            "(rerun `optbot data calibrate --out FILE` on your data)"
        )
    time_raw, spread_raw = raw["time"], raw["spread"]
    underlyings = {
        name.upper(): _underlying_from(name.upper(), body) for name, body in raw["underlyings"].items()
    }
    fallback = str(raw["fallback_underlying"]).upper()
    if fallback not in underlyings:
        raise ValueError(f"fallback_underlying {fallback} has no [underlyings.{fallback}] table")
    return CalibrationParams(
        version=version,
        discount_rate=float(raw["discount_rate"]),
        time=TimeParams(
            overnight_weight=float(time_raw["overnight_weight"]),
            closed_day_weight=float(time_raw["closed_day_weight"]),
            sessions_per_year=float(time_raw.get("sessions_per_year", 252.0)),
            reference_sessions=float(time_raw.get("reference_sessions", 5.0)),
            min_sessions=float(time_raw.get("min_sessions", 0.02)),
            max_sessions=float(time_raw.get("max_sessions", 260.0)),
        ),
        spread=SpreadParams(
            tick=float(spread_raw["tick"]),
            time_value_fraction=float(spread_raw["time_value_fraction"]),
            intrinsic_fraction=float(spread_raw["intrinsic_fraction"]),
            observations=int(spread_raw.get("observations", 0)),
        ),
        underlyings=underlyings,
        fallback_underlying=fallback,
        provenance=dict(raw.get("provenance", {})),
        errors=tuple(dict(row) for row in raw.get("errors", [])),
    )


def params_to_dict(params: CalibrationParams) -> dict[str, Any]:
    return {
        "version": params.version,
        "discount_rate": params.discount_rate,
        "fallback_underlying": params.fallback_underlying,
        "time": {
            "overnight_weight": round(params.time.overnight_weight, 6),
            "closed_day_weight": round(params.time.closed_day_weight, 6),
            "sessions_per_year": params.time.sessions_per_year,
            "reference_sessions": params.time.reference_sessions,
            "min_sessions": params.time.min_sessions,
            "max_sessions": params.time.max_sessions,
        },
        "spread": {
            "tick": params.spread.tick,
            "time_value_fraction": round(params.spread.time_value_fraction, 6),
            "intrinsic_fraction": round(params.spread.intrinsic_fraction, 6),
            "observations": params.spread.observations,
        },
        "underlyings": {
            name: {
                "carry": round(body.carry, 6),
                "fitted_from": body.fitted_from,
                "term_min_sessions": round(body.term_min_sessions, 4),
                "term_max_sessions": round(body.term_max_sessions, 4),
                "smile": _smile_to_dict(body.smile),
                "levels": [
                    {
                        "start": level.start,
                        "end": level.end,
                        "atm_vol_per_vix": round(level.atm_vol_per_vix, 6),
                        "term_slope": round(level.term_slope, 6),
                        "return_sensitivity": round(level.return_sensitivity, 6),
                        "observations": level.observations,
                    }
                    for level in body.levels
                ],
            }
            for name, body in sorted(params.underlyings.items())
        },
        "provenance": params.provenance,
        "errors": list(params.errors),
    }


def render_calibration(params: CalibrationParams) -> str:
    header = (
        "# optbot synthetic option model calibration (written by `optbot data calibrate`).\n"
        "# Provenance and the error table against real premiums are at the end of this file.\n"
    )
    return header + tomli_w.dumps(params_to_dict(params))


def load_calibration(path: Path | None = None) -> CalibrationParams:
    """The file at `path`, or the packaged calibration; a bad file is a UserError naming it."""
    if path is None:
        text = resources.files("optbot.analytics").joinpath("data", PACKAGED_CALIBRATION).read_text("utf-8")
        where = f"the packaged {PACKAGED_CALIBRATION}"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"calibration file {path}: {exc.strerror or exc}") from None
        where = str(path)
    try:
        return params_from_dict(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UserError(f"calibration file {where} is not usable: {detail}") from None

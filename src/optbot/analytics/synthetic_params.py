"""The synthetic option model's fitted parameters and their versioned TOML file.

The packaged file (`optbot/analytics/data/calibration.toml`) is written by `optbot data calibrate`
from the real option data bundled in data/sample; a user points `analytics.calibration_file` at a
file fitted to their own data. Every number a synthetic quote depends on lives here, with where it
came from (data sets, observation counts) and how well it reproduced real premiums (the error table).
"""

from __future__ import annotations

import math
import tomllib
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
CALIBRATION_FORMAT_VERSION = 2
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


@dataclass(frozen=True, slots=True)
class SmileParams:
    """The volatility smile as IV / ATM IV over standardised moneyness z = ln(K/F) / (σ_atm·√τ).

    Core (|z| ≤ wing_start): 1 + skew·z + curvature·z², where skew and curvature move log-linearly
    with the time left, u = ln(clip(sessions, min_sessions, max_sessions) / reference_sessions):
    skew = skew_level + skew_term·u, curvature = curvature_level + curvature_term·u (a month-out
    smile is not an expiry-day smile). Beyond ±wing_start the core continues along its tangent plus
    a wing slope of its own on each side (put and call wings are fitted separately: no skew the
    data does not show). The ratio is floored at `MIN_SMILE_RATIO`.
    """

    skew_level: float
    skew_term: float
    curvature_level: float
    curvature_term: float
    put_wing: float
    call_wing: float
    wing_start: float = 2.0
    reference_sessions: float = 10.0
    min_sessions: float = 0.1
    max_sessions: float = 260.0
    observations: int = 0

    def ratio(self, moneyness: FloatArray, sessions: float | FloatArray) -> FloatArray:
        """IV / ATM IV at each standardised moneyness (sessions: one value or one per moneyness).
        Written with few numpy calls: a replay prices a chain on every tick."""
        skew, curvature = self._shape(sessions)
        z = np.asarray(moneyness, dtype=np.float64)
        edge = self.wing_start
        if z.size == 0 or (z.max() <= edge and z.min() >= -edge):
            ratio = 1.0 + z * (skew + curvature * z)
        else:
            # tangent continuation beyond ±edge: skew·z + curvature·core·(2z − core), plus the wings
            core = np.minimum(np.maximum(z, -edge), edge)
            ratio = 1.0 + skew * z + curvature * core * (2.0 * z - core)
            ratio += self.call_wing * np.maximum(z - edge, 0.0) + self.put_wing * np.maximum(-z - edge, 0.0)
        return np.asarray(np.maximum(ratio, MIN_SMILE_RATIO), dtype=np.float64)

    def _shape(self, sessions: float | FloatArray) -> tuple[float | FloatArray, float | FloatArray]:
        """(skew, curvature) at the time left, clipped to the fitted range of times."""
        if np.ndim(sessions) == 0:
            clipped = min(max(float(sessions), self.min_sessions), self.max_sessions)
            tenor: float | FloatArray = math.log(clipped / self.reference_sessions)
        else:
            bounded = np.clip(np.asarray(sessions, dtype=np.float64), self.min_sessions, self.max_sessions)
            tenor = np.log(bounded / self.reference_sessions)
        return (
            self.skew_level + self.skew_term * tenor,
            self.curvature_level + self.curvature_term * tenor,
        )


FLAT_SMILE = SmileParams(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


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
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _smile_from(name: str, raw: dict[str, Any]) -> SmileParams:
    smile = SmileParams(
        skew_level=float(raw["skew_level"]),
        skew_term=float(raw["skew_term"]),
        curvature_level=float(raw["curvature_level"]),
        curvature_term=float(raw["curvature_term"]),
        put_wing=float(raw["put_wing"]),
        call_wing=float(raw["call_wing"]),
        wing_start=float(raw.get("wing_start", 2.0)),
        reference_sessions=float(raw.get("reference_sessions", 10.0)),
        min_sessions=float(raw.get("min_sessions", 0.1)),
        max_sessions=float(raw.get("max_sessions", 260.0)),
        observations=int(raw.get("observations", 0)),
    )
    if not 0 < smile.min_sessions <= smile.max_sessions or smile.wing_start <= 0:
        raise ValueError(f"{name}: smile needs 0 < min_sessions <= max_sessions and wing_start > 0")
    return smile


def _smile_to_dict(smile: SmileParams) -> dict[str, Any]:
    return {
        "skew_level": round(smile.skew_level, 6),
        "skew_term": round(smile.skew_term, 6),
        "curvature_level": round(smile.curvature_level, 6),
        "curvature_term": round(smile.curvature_term, 6),
        "put_wing": round(smile.put_wing, 6),
        "call_wing": round(smile.call_wing, 6),
        "wing_start": smile.wing_start,
        "reference_sessions": smile.reference_sessions,
        "min_sessions": round(smile.min_sessions, 4),
        "max_sessions": round(smile.max_sessions, 4),
        "observations": smile.observations,
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
            f"calibration format version {version}; this optbot reads {CALIBRATION_FORMAT_VERSION}"
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

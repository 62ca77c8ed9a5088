"""The synthetic option model's fitted parameters and their versioned TOML file.

The packaged file (`optbot/analytics/data/calibration.toml`) is written by `optbot data calibrate`
from the real option data bundled in data/sample; a user points `analytics.calibration_file` at a
file fitted to their own data. Every number a synthetic quote depends on lives here, with where it
came from (data sets, observation counts) and how well it reproduced real premiums (the error table).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w

from optbot.core.errors import UserError

#: Bumped when the file's layout changes; a file of another version is refused with a clear message.
CALIBRATION_FORMAT_VERSION = 1
PACKAGED_CALIBRATION = "calibration.toml"


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
    """ATM implied vol per unit of INDIA VIX over one stretch of dates (it drifts with the regime: ~0.51
    in November 2022 and ~0.62 in January 2025 for NIFTY) and the term slope used with it (the bundled
    fit shares one slope per underlying across windows: per-window slopes did not carry to other periods)."""

    start: date
    end: date
    atm_vol_per_vix: float
    term_slope: float
    observations: int


@dataclass(frozen=True, slots=True)
class SmileTable:
    """Smile ratios (IV / ATM IV) at the shared moneyness nodes, for times to expiry below
    `max_sessions`: an expiry-day smile is not a month-out smile."""

    max_sessions: float
    ratio: tuple[float, ...]
    observations: int = 0


@dataclass(frozen=True, slots=True)
class UnderlyingParams:
    """One underlying's forward carry, VIX->ATM-vol levels, term slope and smile."""

    name: str
    carry: float
    levels: tuple[VolLevel, ...]
    smile_moneyness: tuple[float, ...]
    smiles: tuple[SmileTable, ...]
    fitted_from: str = "own data"
    #: Time to expiry (session units) the fit saw; the term slope is not extrapolated beyond it.
    term_min_sessions: float = 0.02
    term_max_sessions: float = 260.0

    def smile_for(self, sessions: float) -> tuple[float, ...]:
        """The ratios of the first table whose `max_sessions` exceeds the time left (else the last)."""
        for table in self.smiles:
            if sessions < table.max_sessions:
                return table.ratio
        return self.smiles[-1].ratio

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
            smile_moneyness=fallback.smile_moneyness,
            smiles=fallback.smiles,
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


def _underlying_from(name: str, raw: dict[str, Any]) -> UnderlyingParams:
    moneyness = tuple(float(value) for value in raw["smile_moneyness"])
    if len(moneyness) < 2 or list(moneyness) != sorted(moneyness):
        raise ValueError(f"{name}: smile_moneyness must be ascending with at least two nodes")
    smiles = tuple(
        SmileTable(
            float(table["max_sessions"]),
            tuple(float(v) for v in table["ratio"]),
            int(table.get("observations", 0)),
        )
        for table in raw["smiles"]
    )
    if not smiles or any(len(table.ratio) != len(moneyness) for table in smiles):
        raise ValueError(f"{name}: every [[smiles]] ratio list must have one value per smile_moneyness node")
    levels = tuple(_level_from(level) for level in raw["levels"])
    if not levels:
        raise ValueError(f"{name}: at least one [[levels]] entry is needed")
    return UnderlyingParams(
        name=name,
        carry=float(raw["carry"]),
        levels=levels,
        smile_moneyness=moneyness,
        smiles=smiles,
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
                "smile_moneyness": list(body.smile_moneyness),
                "smiles": [
                    {
                        "max_sessions": table.max_sessions,
                        "observations": table.observations,
                        "ratio": [round(value, 5) for value in table.ratio],
                    }
                    for table in body.smiles
                ],
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

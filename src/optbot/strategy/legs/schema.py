"""A strategy written as legs, in TOML: the schema, and loading with one-line errors.

Every table forbids unknown keys and every choice is a closed set, so a typo is refused with the
line, the dotted field and the allowed values instead of being ignored. Times are IST "HH:MM".
"""

from __future__ import annotations

import re
import tomllib
from datetime import time as TimeOfDay
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from optbot.core.errors import UserError
from optbot.instruments.expiry_choice import ExpiryChoice

Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri"]
WEEKDAYS: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StrikeRule(_Strict):
    """How a leg's strike is chosen, always from the listed strikes of its expiry.

    atm: ATM + `offset` strikes (positive = higher strikes); premium_closest / premium_at_least /
    premium_at_most: by the leg's premium against `value` rupees; delta_nearest: |delta| nearest
    `value`; pct_from_spot: the strike nearest spot x (1 + value/100); straddle_width: ATM +/- the ATM
    straddle's premium x `value` (CE above, PE below)."""

    mode: Literal[
        "atm",
        "premium_closest",
        "premium_at_least",
        "premium_at_most",
        "delta_nearest",
        "pct_from_spot",
        "straddle_width",
    ]
    offset: int = 0
    value: float = 0.0

    @model_validator(mode="after")
    def _value_needed(self) -> StrikeRule:
        if self.mode == "delta_nearest" and not 0 < self.value < 1:
            raise ValueError("delta_nearest needs 0 < value < 1")
        if self.mode.startswith("premium") and self.value <= 0:
            raise ValueError(f"{self.mode} needs value > 0 (rupees)")
        if self.mode == "straddle_width" and self.value <= 0:
            raise ValueError("straddle_width needs value > 0 (multiple of the ATM straddle premium)")
        return self

    def describe(self) -> str:
        """Short text for listings: `ATM+3`, `premium ~ 50`, `delta ~ 0.25`, `spot +2%`, `0.5x straddle`."""
        if self.mode == "atm":
            return "ATM" if self.offset == 0 else f"ATM{self.offset:+d}"
        if self.mode.startswith("premium"):
            sign = {"premium_closest": "~", "premium_at_least": ">=", "premium_at_most": "<="}[self.mode]
            return f"premium {sign} {self.value:g}"
        if self.mode == "delta_nearest":
            return f"delta ~ {self.value:g}"
        if self.mode == "pct_from_spot":
            return f"spot {self.value:+g}%"
        return f"{self.value:g}x straddle"


class Level(_Strict):
    """A stop or target distance: premium points, % of the entry premium, or underlying points."""

    points: float | None = Field(default=None, gt=0)
    pct: float | None = Field(default=None, gt=0)
    underlying_points: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Level:
        given = [v for v in (self.points, self.pct, self.underlying_points) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of points, pct, underlying_points")
        return self


class Trail(_Strict):
    """Every `every` points in the leg's favour, move its stop `by` points the same way."""

    every: float = Field(gt=0)
    by: float = Field(gt=0)


class LegWait(_Strict):
    """Wait-and-trade on the leg itself: its contract is chosen at the entry time, and the leg is
    entered only once that contract's premium moved `points` (or `pct` %) `direction` from its price
    then. A waiting leg goes out on its own (not in the entry basket); it stops waiting at
    `entry.until` (else at the exit time)."""

    points: float | None = Field(default=None, gt=0)
    pct: float | None = Field(default=None, gt=0)
    direction: Literal["up", "down"]

    @model_validator(mode="after")
    def _exactly_one(self) -> LegWait:
        if (self.points is None) == (self.pct is None):
            raise ValueError("give exactly one of points, pct")
        return self

    def reached(self, reference: float, price: float) -> bool:
        distance = self.points if self.points is not None else reference * (self.pct or 0) / 100
        move = price - reference
        return move >= distance if self.direction == "up" else -move >= distance


class LegSpec(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")
    option: Literal["CE", "PE"]
    side: Literal["BUY", "SELL"]
    lots: int = Field(default=1, ge=1)
    expiry: ExpiryChoice = "current_weekly"
    strike: StrikeRule
    stop: Level | None = None
    target: Level | None = None
    trail: Trail | None = None
    wait: LegWait | None = None
    only_in_category: list[Literal[1, 2]] = Field(default_factory=list)


class Momentum(_Strict):
    """Wait-and-trade: enter once the underlying moved this far from its price at the entry time."""

    points: float | None = Field(default=None, gt=0)
    pct: float | None = Field(default=None, gt=0)
    direction: Literal["up", "down", "either"] = "either"


class RangeBreakout(_Strict):
    """Enter when the underlying closes outside its high/low between `start` and `end` (IST)."""

    start: TimeOfDay
    end: TimeOfDay


class Entry(_Strict):
    time: TimeOfDay
    until: TimeOfDay | None = None
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    dte_min: int | None = Field(default=None, ge=0)
    dte_max: int | None = Field(default=None, ge=0)
    vix_min: float | None = Field(default=None, gt=0)
    vix_max: float | None = Field(default=None, gt=0)
    adx_categories: list[Literal[1, 2, 3]] = Field(default_factory=list)
    regimes: list[Literal["trending", "ranging", "volatile", "low_volatility", "gap"]] = Field(
        default_factory=list
    )
    momentum: Momentum | None = None
    range_breakout: RangeBreakout | None = None


class LockAndTrail(_Strict):
    """Once combined MTM reaches `at`, lock `lock` rupees; then every `every` more, raise the lock by `by`."""

    at: float = Field(gt=0)
    lock: float = Field(ge=0)
    every: float | None = Field(default=None, gt=0)
    by: float | None = Field(default=None, gt=0)


class Exits(_Strict):
    move_others_to_cost: bool = False
    mtm_stop: float | None = Field(default=None, gt=0, description="combined loss in rupees")
    mtm_target: float | None = Field(default=None, gt=0, description="combined profit in rupees")
    lock_and_trail: LockAndTrail | None = None
    time: TimeOfDay | None = None
    vix_jump_points: float | None = Field(default=None, gt=0)


class ReEntry(_Strict):
    mode: Literal["asap", "at_cost", "momentum", "reversed"]
    max_per_leg: int = Field(default=1, ge=1)
    not_after: TimeOfDay | None = None
    momentum_points: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _momentum_points(self) -> ReEntry:
        if self.mode == "momentum" and self.momentum_points is None:
            raise ValueError("mode 'momentum' needs momentum_points")
        return self


class StrategyHeader(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    underlying: Literal["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX"]
    description: str = ""
    product: Literal["INTRADAY", "CARRYFORWARD"] = "INTRADAY"


class TunableRange(_Strict):
    """What a search may try for one field: `low`..`high` (optional `step`, `log` scale) or `choices`.

    Integers at both ends (and step) search whole numbers; times are given as TOML times (09:20:00)."""

    low: int | float | None = None
    high: int | float | None = None
    step: int | float | None = Field(default=None, gt=0)
    log: bool = False
    choices: list[bool | int | float | TimeOfDay | str] = Field(default_factory=list)


class LegStrategyFile(_Strict):
    strategy: StrategyHeader
    entry: Entry
    legs: Annotated[list[LegSpec], Field(min_length=1)]
    exits: Exits = Field(default_factory=Exits)
    reentry: ReEntry | None = None
    #: Field path (`legs.*.stop.pct`, `entry.time`, `exits.mtm_stop`) -> the range an optimisation tries.
    tunable: dict[str, TunableRange] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_leg_ids(self) -> LegStrategyFile:
        ids = [leg.id for leg in self.legs]
        repeated = sorted({leg_id for leg_id in ids if ids.count(leg_id) > 1})
        if repeated:
            raise ValueError(f"leg ids must be unique, repeated: {', '.join(repeated)}")
        return self


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line a dotted location sits on: walk the TOML headers ([a], [[legs]] n-th) then the key."""
    lines = text.splitlines()
    start = 0
    table_parts = [part for part in loc if isinstance(part, str)]
    index_parts = [part for part in loc if isinstance(part, int)]
    if loc and loc[0] == "legs" and index_parts:
        headers = [n for n, line in enumerate(lines) if re.match(r"^\s*\[\[\s*legs\s*\]\]", line)]
        if index_parts[0] < len(headers):
            start = headers[index_parts[0]]
    elif table_parts:
        for n, line in enumerate(lines):
            if re.match(rf"^\s*\[\s*{re.escape(table_parts[0])}[\].]", line):
                start = n
                break
    key = table_parts[-1] if table_parts else None
    if key is not None:
        for n in range(start, len(lines)):
            if re.match(rf"^\s*{re.escape(key)}\s*=", lines[n]) or re.search(
                rf"[{{,]\s*{re.escape(key)}\s*=", lines[n]
            ):
                return n + 1
    return start + 1 if start else None


def _describe(error: dict[str, object]) -> str:
    message = str(error.get("msg", "invalid"))
    context = error.get("ctx")
    if error.get("type") == "literal_error" and isinstance(context, dict):
        message = f"must be one of {context.get('expected')}"
    elif error.get("type") == "extra_forbidden":
        message = "unknown field"
    elif error.get("type") == "missing":
        message = "required field missing"
    return message.removeprefix("Value error, ")


def parse_strategy_text(text: str, source: str) -> LegStrategyFile:
    """Parse and validate; raises UserError with one line: file:line: field: what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{source}: not valid TOML: {exc}") from None
    try:
        return LegStrategyFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if isinstance(part, (int, str)))
        line = _line_of(text, loc)
        field = ".".join(str(part) for part in loc) or "(file)"
        got = error.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict) and error.get("type") != "missing" else ""
        where = f"{source}:{line}" if line else source
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UserError(f"{where}: {field}: {_describe(dict(error))}{shown}{more}") from None

"""Setting one field of a legs file by its dotted path: overrides from config and optimisation trials.

A path names a field as the TOML file spells it: `entry.time`, `exits.mtm_stop`, `legs.ce.stop.pct`
(a leg by its id) or `legs.*.stop.pct` (every leg: a straddle's two stops move together). A value is
set on the file's data and the whole file is validated again, so an override can never produce a
plan the file itself would refuse; the error names the path and the rule it broke.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from pydantic import BaseModel, ValidationError

from optbot.core.errors import ParameterError, UserError
from optbot.strategy.legs.schema import LegSpec, LegStrategyFile, TunableRange
from optbot.strategy.tunable import ParameterValue, Tunable

#: The file's tables a path may start with (the `[strategy]` header names the strategy: never tuned).
PLAN_SECTIONS = ("entry", "legs", "exits", "reentry")
ALL_LEGS = "*"
#: Separates a legs strategy's name from a field path in a parameter name (`NAME:legs.ce.stop.pct`),
#: which a settings path (`SECTION.KEY`) never contains.
LEG_FIELD_SEPARATOR = ":"


def _model_fields(model: type[BaseModel] | None) -> dict[str, Any]:
    return dict(model.model_fields) if model is not None else {}


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (`Level | None` -> Level), for walking into a missing table."""
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _set(
    node: dict[str, Any], model: type[BaseModel] | None, parts: list[str], value: Any, path: str
) -> None:
    name, rest = parts[0], parts[1:]
    fields = _model_fields(model)
    if name not in fields:
        known = ", ".join(sorted(fields)) or "none"
        raise ParameterError(f"{path}: no field {name!r} there (fields: {known})")
    if not rest:
        node[name] = value.strftime("%H:%M:%S") if isinstance(value, time) else value
        return
    inner = _nested_model(fields[name].annotation)
    child = node.get(name)
    if child is None:
        child = node[name] = {}  # a table the file left out (e.g. a stop): the override creates it
    if not isinstance(child, dict) or inner is None:
        raise ParameterError(f"{path}: {name!r} holds a value, not a table")
    _set(child, inner, rest, value, path)


def set_field(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` in a legs file's data (as `model_dump` gives it); legs are addressed by id or `*`."""
    parts = path.split(".")
    if parts[0] not in PLAN_SECTIONS or len(parts) < 2:
        raise ParameterError(f"{path}: a field path starts with one of {', '.join(PLAN_SECTIONS)}")
    if parts[0] != "legs":
        section = data.get(parts[0])
        if section is None:
            section = data[parts[0]] = {}
        model = _nested_model(LegStrategyFile.model_fields[parts[0]].annotation)
        _set(section, model, parts[1:], value, path)
        return
    legs = data["legs"]
    ids = [leg["id"] for leg in legs]
    if parts[1] != ALL_LEGS and parts[1] not in ids:
        raise ParameterError(f"{path}: no leg {parts[1]!r} (legs: {', '.join(ids)}, or * for every leg)")
    if len(parts) < 3:
        raise ParameterError(f"{path}: name a field of the leg, e.g. legs.{parts[1]}.stop.pct")
    leg_model = _nested_model(LegSpec)
    for leg in legs:
        if parts[1] in (ALL_LEGS, leg["id"]):
            _set(leg, leg_model, parts[2:], value, path)


def with_overrides(plan: LegStrategyFile, values: Mapping[str, Any], where: str) -> LegStrategyFile:
    """`plan` with each field path set to its value and validated again (ParameterError naming `where`)."""
    if not values:
        return plan
    data = plan.model_dump(mode="python")
    for path, value in values.items():
        try:
            set_field(data, path, value)
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None
    try:
        return LegStrategyFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in error["loc"]) or "(file)"
        message = str(error["msg"]).removeprefix("Value error, ")
        shown = ", ".join(f"{path}={value!r}" for path, value in values.items())
        raise ParameterError(f"{where}: {location}: {message} (with {shown})") from None


def split_parameter(path: str) -> tuple[str, str] | None:
    """`NAME:FIELD.PATH` -> (NAME, FIELD.PATH); None for a settings path."""
    name, separator, field = path.partition(LEG_FIELD_SEPARATOR)
    return (name, field) if separator else None


def _choice(value: bool | int | float | time | str) -> ParameterValue:
    return value.strftime("%H:%M:%S") if isinstance(value, time) else value


def tunable_for(name: str, path: str, spec: TunableRange) -> Tunable:
    """The searchable parameter `NAME:PATH` a `[tunable]` entry declares (ValueError when malformed)."""
    parameter = f"{name}{LEG_FIELD_SEPARATOR}{path}"
    if spec.choices:
        return Tunable(parameter, choices=tuple(_choice(value) for value in spec.choices), log=spec.log)
    ends = [value for value in (spec.low, spec.high, spec.step) if value is not None]
    integer = bool(ends) and all(isinstance(value, int) and not isinstance(value, bool) for value in ends)
    return Tunable(
        parameter,
        None if spec.low is None else float(spec.low),
        None if spec.high is None else float(spec.high),
        None if spec.step is None else float(spec.step),
        log=spec.log,
        integer=integer,
    )


def tunables_of(plan: LegStrategyFile) -> tuple[Tunable, ...]:
    return tuple(tunable_for(plan.strategy.name, path, spec) for path, spec in plan.tunable.items())


def _line(text: str, path: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith((f'"{path}"', f"'{path}'")):
            return number
    return None


def check_tunables(plan: LegStrategyFile, text: str, source: str) -> None:
    """Every `[tunable]` entry is a well-formed range whose ends (and each choice) the file accepts.

    Raises UserError `file:line: tunable.PATH: what is wrong`, before any search runs."""
    for path, spec in plan.tunable.items():
        line = _line(text, path)
        where = f"{source}:{line}" if line else source
        try:
            tunable = tunable_for(plan.strategy.name, path, spec)
        except ValueError as exc:
            message = str(exc).split(": ", 1)[-1]
            raise UserError(f"{where}: tunable.{path}: {message}") from None
        ends: tuple[Any, ...] = tunable.choices or (spec.low, spec.high)
        for value in ends:
            try:
                with_overrides(plan, {path: value}, f"tunable.{path} = {value!r}")
            except ParameterError as exc:
                raise UserError(f"{where}: {exc}") from None

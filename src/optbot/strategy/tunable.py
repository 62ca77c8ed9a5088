"""Tunable parameters a strategy declares (spec §11.5 optimisation), as Freqtrade's strategies do.

A `Tunable` names one setting by its dotted path in `Settings` (e.g. `strategy.adx_trend_threshold`),
or one field of a legs file as `NAME:FIELD.PATH` (e.g. `short_straddle_0920:legs.*.stop.pct`), and the
range a search may try. Settings values are applied by re-validating the touched sections, so a trial
can never run with a value the config file itself would refuse; a legs field goes to
`strategy.leg_overrides`, which the legs strategy validates against its file when it is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from optbot.config import Settings
from optbot.core.errors import ParameterError, UserError

ParameterValue = int | float | str | bool


@dataclass(frozen=True, slots=True)
class Tunable:
    """One searchable setting: an int/float range (optional step, log scale) or a list of choices."""

    path: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[ParameterValue, ...] = ()
    integer: bool = False

    def __post_init__(self) -> None:
        if self.choices:
            if self.low is not None or self.high is not None:
                raise ValueError(f"{self.path}: give either choices or low/high, not both")
            return
        if self.low is None or self.high is None:
            raise ValueError(f"{self.path}: a range needs both low and high")
        if not self.low < self.high:
            raise ValueError(f"{self.path}: low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.path}: a log-scale range must start above 0")

    @classmethod
    def parse(cls, text: str) -> Tunable:
        """`path=low:high[:step]` (int when both ends are integers) or `path=a,b,c` (choices)."""
        path, sep, spec = text.partition("=")
        if not sep or not path.strip() or not spec.strip():
            raise UserError(f"--param {text!r}: expected PATH=LOW:HIGH[:STEP] or PATH=A,B,C")
        path, spec = path.strip(), spec.strip()
        try:
            if ":" in spec:
                parts = spec.split(":")
                if len(parts) not in (2, 3):
                    raise ValueError("a range is LOW:HIGH or LOW:HIGH:STEP")
                integer = all(_is_int(part) for part in parts)
                numbers = [float(part) for part in parts]
                return cls(
                    path, numbers[0], numbers[1], numbers[2] if len(parts) == 3 else None, integer=integer
                )
            return cls(path, choices=tuple(_choice(part.strip()) for part in spec.split(",")))
        except ValueError as exc:
            raise UserError(f"--param {text!r}: {exc}") from None


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def _choice(text: str) -> ParameterValue:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _is_int(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def apply_parameters(settings: Settings, values: Mapping[str, Any]) -> Settings:
    """A copy of `settings` with each dotted path set, each touched section re-validated.

    Sections are validated on their own (not through `Settings`), so an `OPTBOT__…` environment
    override can never silently replace a trial's value. A bad path or value raises ParameterError.
    `NAME:FIELD.PATH` values are added to `strategy.leg_overrides[NAME]`."""
    sections: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        name, separator, field = path.partition(":")
        if separator:
            strategy = sections.setdefault("strategy", settings.strategy.model_dump(mode="python"))
            strategy["leg_overrides"].setdefault(name, {})[field] = value
            continue
        section_name, *inner = path.split(".")
        if not inner or not isinstance(getattr(settings, section_name, None), BaseModel):
            raise ParameterError(f"parameter {path!r}: no such setting (expected SECTION.KEY or NAME:FIELD)")
        node: Any = sections.setdefault(
            section_name, getattr(settings, section_name).model_dump(mode="python")
        )
        for part in inner[:-1]:
            if not isinstance(node, dict) or part not in node:
                raise ParameterError(f"parameter {path!r}: no setting {part!r} there")
            node = node[part]
        if not isinstance(node, dict) or inner[-1] not in node:
            raise ParameterError(f"parameter {path!r}: no such setting")
        node[inner[-1]] = value
    update: dict[str, BaseModel] = {}
    for section_name, data in sections.items():
        model = type(getattr(settings, section_name))
        try:
            update[section_name] = model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            location = ".".join(str(part) for part in (section_name, *first["loc"]))
            shown = f" (got {first.get('input')!r})" if first["loc"] else ""
            raise ParameterError(f"parameter {location}: {first['msg']}{shown}") from None
    return settings.model_copy(update=update)


def check_paths(settings: Settings, tunables: Sequence[Tunable]) -> None:
    """Refuse a search over a setting that does not exist, before any trial runs (legs fields are
    checked by building the strategy with them: `optbot.research` does)."""
    probe: dict[str, Any] = {}
    for tunable in tunables:
        if ":" in tunable.path:
            continue
        node: Any = settings
        for part in tunable.path.split("."):
            if not hasattr(node, part):
                raise UserError(f"parameter {tunable.path!r}: no such setting")
            node = getattr(node, part)
        probe[tunable.path] = node
    apply_parameters(settings, probe)


def check_buildable(
    settings: Settings, build: Callable[[Settings], object], tunables: Sequence[Tunable]
) -> None:
    """Build the strategy at each end of every range (and with each choice): a path or a range the
    strategy refuses at every end (a legs field that does not exist, a stop of 0-0 %) is a clear error
    before any trial runs rather than a study of pruned trials. An end that only breaks a rule in
    combination with today's other values (ADX trend threshold below the no-trend one) is left to the
    search, which prunes those trials."""
    check_paths(settings, tunables)
    for tunable in tunables:
        ends: tuple[Any, ...] = tunable.choices or (tunable.low, tunable.high)
        refusals: list[str] = []
        for value in ends:
            typed = int(value) if tunable.integer and isinstance(value, float) else value
            try:
                build(apply_parameters(settings, {tunable.path: typed}))
            except ParameterError as exc:
                refusals.append(f"parameter {tunable.path} = {typed!r}: {exc}")
        if len(refusals) == len(ends):
            raise UserError(refusals[0])

"""Strategies written as legs in TOML files, run by one built-in leg engine (`LegStrategy`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from optbot.core.errors import UserError
from optbot.strategy.base import Strategy
from optbot.strategy.legs.engine import LegStrategy
from optbot.strategy.legs.fields import LEG_FIELD_SEPARATOR, PLAN_SECTIONS, check_tunables, tunables_of
from optbot.strategy.legs.schema import LegStrategyFile, parse_strategy_text
from optbot.strategy.tunable import Tunable

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def template_names() -> list[str]:
    """The shipped templates, runnable as `--strategy NAME`."""
    return sorted(path.stem for path in TEMPLATES_DIR.glob("*.toml"))


def is_legs_source(source: str) -> bool:
    return source.endswith(".toml") or source in template_names()


def strategy_class_for(plan: LegStrategyFile) -> type[LegStrategy]:
    """A LegStrategy subclass named after the file, so two files run side by side as two strategies."""
    name = plan.strategy.name
    return type(
        f"LegStrategy_{name}",
        (LegStrategy,),
        {
            "name": name,
            "plan": plan,
            "tunables": tunables_of(plan),
            "__doc__": plan.strategy.description or f"legs strategy {name}",
        },
    )


def load_plan(path: Path) -> LegStrategyFile:
    """Read, validate and check the `[tunable]` ranges of one legs file (one-line UserError)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the strategy file: {exc.strerror or exc}") from None
    plan = parse_strategy_text(text, str(path))
    check_tunables(plan, text, str(path))
    return plan


def load_legs(source: str) -> type[LegStrategy]:
    """A template by name or a .toml path, validated (one-line UserError naming file, line and field)."""
    if source in template_names():
        return strategy_class_for(load_plan(TEMPLATES_DIR / f"{source}.toml"))
    path = Path(source).expanduser()
    if not path.is_file():
        raise UserError(f"{source}: no such strategy file (templates: {', '.join(template_names())})")
    return strategy_class_for(load_plan(path))


def qualified(strategy: type[Strategy], tunable: Tunable) -> Tunable:
    """A `--param legs.ce.stop.pct=…` given for a legs strategy, named `NAME:legs.ce.stop.pct`."""
    if not issubclass(strategy, LegStrategy) or LEG_FIELD_SEPARATOR in tunable.path:
        return tunable
    if tunable.path.split(".")[0] not in PLAN_SECTIONS:
        return tunable
    return replace(tunable, path=f"{strategy.plan.strategy.name}{LEG_FIELD_SEPARATOR}{tunable.path}")


__all__ = [
    "TEMPLATES_DIR",
    "LegStrategy",
    "LegStrategyFile",
    "is_legs_source",
    "load_legs",
    "load_plan",
    "parse_strategy_text",
    "qualified",
    "strategy_class_for",
    "template_names",
]

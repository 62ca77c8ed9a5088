"""Strategies written as legs in TOML files, run by one built-in leg engine (`LegStrategy`)."""

from __future__ import annotations

from pathlib import Path

from optbot.core.errors import UserError
from optbot.strategy.legs.engine import LegStrategy
from optbot.strategy.legs.schema import LegStrategyFile, load_strategy_file, parse_strategy_text

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
        {"name": name, "plan": plan, "__doc__": plan.strategy.description or f"legs strategy {name}"},
    )


def load_legs(source: str) -> type[LegStrategy]:
    """A template by name or a .toml path, validated (one-line UserError naming file, line and field)."""
    if source in template_names():
        return strategy_class_for(load_strategy_file(TEMPLATES_DIR / f"{source}.toml"))
    path = Path(source).expanduser()
    if not path.is_file():
        raise UserError(f"{source}: no such strategy file (templates: {', '.join(template_names())})")
    return strategy_class_for(load_strategy_file(path))


__all__ = [
    "TEMPLATES_DIR",
    "LegStrategy",
    "LegStrategyFile",
    "is_legs_source",
    "load_legs",
    "parse_strategy_text",
    "strategy_class_for",
    "template_names",
]

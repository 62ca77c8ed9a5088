"""Strategies are named in config (`strategy.enabled`) and loaded by name or `package.module:Class`."""

from __future__ import annotations

import importlib

from optbot.config import Settings
from optbot.core.errors import UserError
from optbot.strategy.base import Strategy
from optbot.strategy.builtin.adx_trend import AdxTrendStrategy
from optbot.strategy.builtin.matrix import MATRIX, AdaptiveStrategy
from optbot.strategy.legs import is_legs_source, load_legs, template_names

BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {
    AdxTrendStrategy.name: AdxTrendStrategy,
    AdaptiveStrategy.name: AdaptiveStrategy,
    **MATRIX,
}


def resolve(name: str) -> type[Strategy]:
    """A built-in by name, a legs template by name or a legs .toml file, or a Strategy subclass at
    `package.module:ClassName`."""
    if name in BUILTIN_STRATEGIES:
        return BUILTIN_STRATEGIES[name]
    if is_legs_source(name):
        return load_legs(name)
    if ":" not in name:
        known = ", ".join(sorted(BUILTIN_STRATEGIES))
        templates = ", ".join(template_names())
        raise UserError(
            f"strategy.enabled: unknown strategy {name!r} (built-ins: {known}; legs templates: "
            f"{templates}; or a .toml file, or module:Class)"
        )
    module_name, _, class_name = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(
            f"strategy.enabled: cannot import module {module_name!r} for {name!r}: {exc}"
        ) from None
    found = getattr(module, class_name, None)
    if not isinstance(found, type) or not issubclass(found, Strategy):
        raise UserError(f"strategy.enabled: {name!r} is not a Strategy subclass")
    if not found.name:
        raise UserError(f"strategy.enabled: {name!r} has no `name`")
    return found


def load_strategies(settings: Settings) -> list[Strategy]:
    classes = [resolve(name) for name in settings.strategy.enabled]
    names = [cls.name for cls in classes]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"strategy.enabled: strategy listed twice: {', '.join(repeated)}")
    return [cls(settings) for cls in classes]

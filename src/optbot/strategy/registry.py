"""Strategies are named in config (`strategy.enabled`) and loaded by name or `package.module:Class`."""

from __future__ import annotations

import importlib

from optbot.config import Settings
from optbot.config.checks import register_settings_check
from optbot.core.errors import UserError
from optbot.strategy.base import Strategy
from optbot.strategy.builtin.adx_trend import AdxTrendStrategy
from optbot.strategy.builtin.matrix import MATRIX, AdaptiveStrategy

BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {
    AdxTrendStrategy.name: AdxTrendStrategy,
    AdaptiveStrategy.name: AdaptiveStrategy,
    **MATRIX,
}


def resolve(name: str) -> type[Strategy]:
    """A built-in by name, or a Strategy subclass at `package.module:ClassName`."""
    if name in BUILTIN_STRATEGIES:
        return BUILTIN_STRATEGIES[name]
    if ":" not in name:
        known = ", ".join(sorted(BUILTIN_STRATEGIES))
        raise UserError(f"strategy.enabled: unknown strategy {name!r} (built-ins: {known}; or module:Class)")
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
    problems = strategy_problems(settings)
    if problems:
        raise UserError(problems[0])
    return [cls(settings) for cls in (resolve(name) for name in settings.strategy.enabled)]


def strategy_problems(settings: Settings) -> list[str]:
    """What `load_strategies` would refuse, as problems (for `config validate` and `optbot check`)."""
    try:
        classes = [resolve(name) for name in settings.strategy.enabled]
    except UserError as exc:
        return [str(exc)]
    names = [cls.name for cls in classes]
    repeated = sorted({name for name in names if names.count(name) > 1})
    return [f"strategy.enabled: strategy listed twice: {', '.join(repeated)}"] if repeated else []


register_settings_check("strategy.enabled", strategy_problems)

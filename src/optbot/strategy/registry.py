"""Strategies are named in config (`strategy.enabled`) and loaded by name, `package.module:Class`
or `path/to/file.py:Class`."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pydantic import ValidationError

from optbot.config import Settings
from optbot.config.checks import register_settings_check
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
    `package.module:ClassName` or `path/to/file.py:ClassName`."""
    if name in BUILTIN_STRATEGIES:
        return BUILTIN_STRATEGIES[name]
    if is_legs_source(name):
        return load_legs(name)
    if ":" not in name:
        known = ", ".join(sorted(BUILTIN_STRATEGIES))
        templates = ", ".join(template_names())
        raise UserError(
            f"strategy.enabled: unknown strategy {name!r} (built-ins: {known}; legs templates: "
            f"{templates}; or a .toml file, module:Class or file.py:Class)"
        )
    module_name, _, class_name = name.rpartition(":")
    module = _load_module(module_name, name)
    found = getattr(module, class_name, None)
    if not isinstance(found, type) or not issubclass(found, Strategy):
        raise UserError(f"strategy.enabled: {name!r} is not a Strategy subclass")
    if not found.name:
        raise UserError(f"strategy.enabled: {name!r} has no `name`")
    return found


def resolve_option(name: str, flag: str = "--strategy") -> type[Strategy]:
    """`resolve` for a strategy named on the command line: a refusal names the option it came from,
    not the setting `strategy.enabled` (which `resolve`'s messages name for a config file's list)."""
    try:
        return resolve(name)
    except UserError as exc:
        raise UserError(f"{flag} {name!r}: {str(exc).removeprefix('strategy.enabled: ')}") from None


def _load_module(module_name: str, name: str) -> ModuleType:
    """A strategy module by dotted name, looked up in the current directory as well (as `python -m`
    does: a user's own `my_strategies.py` beside their config), or a `.py` file by path."""
    if module_name.endswith(".py"):
        return _load_file(Path(module_name), name)
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))  # after the installed packages: a local file never shadows them
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(
            f"strategy.enabled: cannot import module {module_name!r} for {name!r}: {exc}"
        ) from None


def _load_file(path: Path, name: str) -> ModuleType:
    """A strategy file, imported once per process under a name derived from its resolved path (so a
    worker process resolving the same entry gets the same module)."""
    if not path.is_file():
        raise UserError(f"strategy.enabled: no strategy file {str(path)!r} for {name!r}")
    resolved = path.resolve()
    module_name = "optbot_user_strategy_" + "".join(
        char if char.isalnum() else "_" for char in str(resolved.with_suffix(""))
    )
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise UserError(f"strategy.enabled: cannot load {str(path)!r} as a Python module for {name!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error while importing it is theirs to see
        del sys.modules[module_name]
        raise UserError(
            f"strategy.enabled: importing {str(path)!r} for {name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    return module


def instance(settings: Settings, entry: str) -> Strategy:
    """`NAME` or `NAME@ID`: the strategy, an instance named `NAME@ID` whose own settings model
    validates `[strategy.instances.ID]` (so one class runs twice with different parameters)."""
    base_name, _, instance_id = entry.partition("@")
    found = resolve(base_name)
    if not instance_id:
        return found(settings)
    values = settings.strategy.instances.get(instance_id, {})
    model = found.settings_model
    if model is None and values:
        raise UserError(f"strategy.instances.{instance_id}: {base_name} takes no settings of its own")
    try:
        config = model.model_validate(values) if model is not None else None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise UserError(f"strategy.instances.{instance_id}.{where}: {error['msg']}") from None
    named = type(f"{found.__name__}_{instance_id}", (found,), {"name": f"{found.name}@{instance_id}"})
    return named(settings) if config is None else named(settings, config)


def load_strategies(settings: Settings) -> list[Strategy]:
    strategies = [instance(settings, entry) for entry in settings.strategy.enabled]
    names = [strategy.name for strategy in strategies]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"strategy.enabled: strategy listed twice: {', '.join(repeated)}")
    return strategies


def strategy_problems(settings: Settings) -> list[str]:
    """What `load_strategies` would refuse, as problems (for `config validate` and `optbot check`)."""
    try:
        load_strategies(settings)
    except UserError as exc:
        return [str(exc)]
    return []


register_settings_check("strategy.enabled", strategy_problems)

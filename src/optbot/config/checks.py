"""Checks of a loaded config that need packages above `optbot.config` (e.g. the strategy registry).

Those packages register a check here; `config validate` and `optbot check` run every registered one,
so a setting `optbot run` would refuse (an unknown strategy name) is refused by both, in the same words.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from optbot.config.settings import Settings

SettingsCheck = Callable[[Settings], list[str]]

_checks: dict[str, SettingsCheck] = {}
_providers: list[str] = []


def register_settings_check(name: str, check: SettingsCheck) -> None:
    """Add (or replace) a named check returning `section.key: reason` problems."""
    _checks[name] = check


def add_check_provider(module: str) -> None:
    """Name a module whose import registers checks. The program on top (the CLI) names them, since
    this package may not import the packages above it; they load only when checks run, because
    importing the strategy registry costs over a second that `--help` should not pay."""
    if module not in _providers:
        _providers.append(module)


def registered_problems(settings: Settings) -> list[str]:
    for module in _providers:
        importlib.import_module(module)
    problems: list[str] = []
    for check in _checks.values():
        problems.extend(check(settings))
    return problems


__all__ = ["SettingsCheck", "add_check_provider", "register_settings_check", "registered_problems"]

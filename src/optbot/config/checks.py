"""Checks of a loaded config that need packages above `optbot.config` (e.g. the strategy registry).

Those packages register a check here; `config validate` and `optbot check` run every registered one,
so a setting `optbot run` would refuse (an unknown strategy name) is refused by both, in the same words.
"""

from __future__ import annotations

from collections.abc import Callable

from optbot.config.settings import Settings

SettingsCheck = Callable[[Settings], list[str]]

_checks: dict[str, SettingsCheck] = {}


def register_settings_check(name: str, check: SettingsCheck) -> None:
    """Add (or replace) a named check returning `section.key: reason` problems."""
    _checks[name] = check


def registered_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    for check in _checks.values():
        problems.extend(check(settings))
    return problems


__all__ = ["SettingsCheck", "register_settings_check", "registered_problems"]

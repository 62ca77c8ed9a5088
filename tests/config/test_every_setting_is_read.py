"""Every setting does something: each field of each section is read by code outside optbot.config.

A setting nothing reads silently ignores the user who tunes it. The check is textual: a field counts
as read when `.section.field` appears in src/optbot outside the config package, or - for a field name
no other section uses - when `.field` (or `getattr(..., "field")`) appears there. A name several
sections share must be read as `.section.field` or have its reader listed in READERS_OF_SHARED_NAMES.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel

from optbot.config.settings import DEPRECATED_ALIASES, INERT_SETTINGS, Settings

SOURCE = Path(__file__).resolve().parents[2] / "src" / "optbot"

#: Shared field names read through a section object held in a variable (`self.params`, `r`,
#: `self._settings`), checked by hand: (section, field) -> the module (under src/optbot) that reads it.
READERS_OF_SHARED_NAMES: dict[tuple[str, str], str] = {
    ("strategy", "min_open_interest"): "strategy/checklist.py",  # entry checklist's liquidity item
    ("risk", "min_open_interest"): "risk/engine.py",  # the liquidity circuit breaker
    ("notifications", "enabled"): "ops/notifications.py",
    ("strategy", "rsi_period"): "strategy/builtin/adx_trend.py",
    ("strategy", "bollinger_period"): "strategy/builtin/matrix.py",
    ("strategy", "bollinger_stdevs"): "strategy/builtin/matrix.py",
    ("execution", "retry_backoff_seconds"): "execution/order_manager.py",
    ("notifications", "retry_backoff_seconds"): "ops/notifications.py",
}

#: Settings nothing outside optbot.config reads: the ones the config warns about when set (each with
#: why it is not wired). Wire one and this test tells you to delete its entry there.
NOT_WIRED: dict[str, str] = {f"{section}.{key}": reason for (section, key), reason in INERT_SETTINGS.items()}


def _sources() -> dict[str, str]:
    return {
        path.relative_to(SOURCE).as_posix(): path.read_text(encoding="utf-8")
        for path in SOURCE.rglob("*.py")
        if path.relative_to(SOURCE).parts[0] != "config"
    }


def _section_fields() -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            fields.extend((section, name) for name in model.model_fields)
    return fields


def _is_read(section: str, name: str, shared: bool, sources: dict[str, str]) -> bool:
    everything = "\n".join(sources.values())
    if re.search(rf"\.{section}\.{name}\b", everything):
        return True
    if shared:
        reader = READERS_OF_SHARED_NAMES.get((section, name))
        return reader is not None and re.search(rf"\.{name}\b", sources.get(reader, "")) is not None
    return re.search(rf"\.{name}\b|getattr\([^)]*[\"']{name}[\"']", everything) is not None


def unread_settings() -> list[str]:
    sources = _sources()
    fields = _section_fields()
    sections_of: dict[str, set[str]] = defaultdict(set)
    for section, name in fields:
        sections_of[name].add(section)
    return [
        f"{section}.{name}"
        for section, name in fields
        if not _is_read(section, name, len(sections_of[name]) > 1, sources)
    ]


def test_every_setting_is_read_outside_the_config_package() -> None:
    # Deprecated aliases are read by the loader only: it maps them onto their replacement.
    aliases = {f"{section}.{key}" for section, key in DEPRECATED_ALIASES}
    unexpected = sorted(set(unread_settings()) - aliases - set(NOT_WIRED))
    assert not unexpected, (
        f"settings nothing outside optbot.config reads (setting them does nothing): {unexpected}; "
        "pass them where their component is built, or list them in "
        "optbot.config.settings.INERT_SETTINGS with the reason"
    )


def test_the_not_wired_list_holds_only_unread_settings() -> None:
    stale = sorted(set(NOT_WIRED) - set(unread_settings()))
    assert not stale, f"these settings are read now: delete them from INERT_SETTINGS: {stale}"


def test_deprecated_aliases_are_unread_and_replaced_by_read_settings() -> None:
    unread = set(unread_settings())
    for (section, key), (target_section, target_key) in DEPRECATED_ALIASES.items():
        assert f"{section}.{key}" in unread, f"{section}.{key} is deprecated but still read"
        assert f"{target_section}.{target_key}" not in unread, f"{target_section}.{target_key} is unread"


def test_the_check_sees_an_unread_field() -> None:
    """The textual check itself: a name nothing mentions is unread, a wired one is read."""
    sources = _sources()
    assert not _is_read("engine", "no_such_setting_anywhere", False, sources)
    assert _is_read("engine", "atm_strike_window", False, sources)
    assert not _is_read("instruments", "min_open_interest", True, sources)

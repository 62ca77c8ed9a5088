from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class NotificationsSettings(Section):
    """Alerts through Apprise (spec §10.10). URLs holding credentials belong in the keyring."""

    enabled: bool = True
    urls: list[str] = Field(default_factory=list)
    dedupe_window_seconds: float = Field(default=300.0, ge=0)

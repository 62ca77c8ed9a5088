from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section
from optbot.core.enums import AlertPriority


class NotificationsSettings(Section):
    """Alerts through Apprise (spec §10.10).

    URLs that embed credentials (bot tokens, passwords) should not live in this file: put them in
    `OPTBOT_SECRET_NOTIFY_URLS` (comma-separated, e.g. from the systemd EnvironmentFile readable only
    by the bot's user); they are added to `urls` at start-up and their credential parts are redacted
    from logs. Each URL is its own target: an alert counts as delivered when any target accepts it.
    """

    enabled: bool = True
    urls: list[str] = Field(default_factory=list, description="Apprise URLs that receive alerts")
    min_priority: AlertPriority = Field(
        default=AlertPriority.INFO, description="lowest priority delivered (critical > important > info)"
    )
    dedupe_window_seconds: float = Field(
        default=300.0, ge=0, description="same alert key within this window is suppressed and counted"
    )
    critical_per_minute: int = Field(default=20, ge=1, description="rate cap so a flapping feed cannot spam")
    important_per_minute: int = Field(default=10, ge=1)
    info_per_minute: int = Field(default=5, ge=1)
    retry_attempts: int = Field(default=3, ge=0, le=10, description="delivery retries after a failure")
    retry_backoff_seconds: float = Field(
        default=2.0, gt=0, description="first retry delay; doubles each time"
    )
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    queue_size: int = Field(default=1000, ge=10)
    notify_fills: bool = Field(default=True, description="an important alert for every fill")
    notify_position_changes: bool = Field(
        default=True, description="an important alert when a position opens, changes size or closes"
    )
    reject_spike_count: int = Field(
        default=3, ge=1, le=100, description="this many order rejects within the window is a critical alert"
    )
    reject_spike_window_seconds: float = Field(
        default=300.0, gt=0, le=3600, description="window for counting order rejects"
    )

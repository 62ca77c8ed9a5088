from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section
from optbot.core.enums import AlertPriority


class NotificationsSettings(Section):
    """Alerts through Apprise (spec §10.10).

    URLs that embed credentials (bot tokens, passwords) should not live in this file: put them in the
    keyring with `optbot auth set-secret notify_urls` or in `OPTBOT_SECRET_NOTIFY_URLS` (comma-separated);
    they are added to `urls` at start-up and redacted from logs.
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

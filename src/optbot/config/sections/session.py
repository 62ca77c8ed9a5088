from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class SessionSettings(Section):
    """Session buffers. Times are offsets from the calendar's session, never clock constants."""

    no_entry_after_open_minutes: float = Field(default=0.0, ge=0, description="wait after the open")
    cancel_pending_before_close_minutes: float = Field(
        default=5.0, ge=0, description="spec §6.2: cancel pending at 15:25 = close - 5 min"
    )
    flatten_before_close_minutes: float = Field(
        default=30.0, ge=0, description="spec §10.4: close positions 30 min before the close"
    )
    no_new_entries_before_close_minutes: float = Field(default=45.0, ge=0)
    premarket_check_minutes: float = Field(
        default=15.0, ge=0, description="checks start this long before open"
    )
    post_market_minutes: float = Field(default=30.0, ge=0, description="spec §1.1: post-market 30 min")
    max_clock_skew_seconds: float = Field(
        default=2.0,
        gt=0,
        description="spec §13.8: host clock vs the exchange's tick timestamps; past it, each health "
        "check in market hours sends an alert (bars close and TOTP logins on the host clock)",
    )
    clock_skew_min_samples: int = Field(
        default=20,
        ge=1,
        description="spec §13.8: socket ticks needed between two health checks before their smallest "
        "host-minus-exchange time is trusted as the clock skew",
    )

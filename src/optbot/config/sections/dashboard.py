from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class DashboardSettings(Section):
    """Web dashboard (spec §11.9, §13.4).

    Tokens are secrets: set them with `OPTBOT_SECRET_DASHBOARD_VIEWER_TOKEN` /
    `OPTBOT_SECRET_DASHBOARD_OPERATOR_TOKEN` (or the keyring), never in this file. The viewer token
    reads; only the operator token may use the kill switch.
    """

    enabled: bool = True
    host: str = Field(default="127.0.0.1", description="bind address; anything but loopback needs tokens")
    port: int = Field(default=8765, ge=0, le=65535)
    allow_anonymous_loopback: bool = Field(
        default=True, description="read-only access without a token when bound to 127.0.0.1"
    )
    refresh_seconds: float = Field(default=1.0, gt=0, le=60, description="live update interval")
    pnl_sample_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="intraday P&L chart: one point per this many seconds"
    )
    recent_decisions: int = Field(default=10, ge=1, le=200, description="risk decisions shown with reasons")

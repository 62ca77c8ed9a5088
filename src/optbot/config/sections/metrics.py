from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class MetricsSettings(Section):
    """The Prometheus /metrics endpoint (spec §10.9, §13.4). It has no authentication: keep it on loopback
    (or behind a firewall) and let Prometheus scrape it there."""

    enabled: bool = True
    host: str = Field(default="127.0.0.1", description="bind address of /metrics (no auth: keep loopback)")
    port: int = Field(default=9108, ge=0, le=65535, description="0 picks a free port")
    sample_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="engine gauges (ticks, P&L, margin, risk state) refresh interval",
    )

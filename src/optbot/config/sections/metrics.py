from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class MetricsSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=1, le=65535)

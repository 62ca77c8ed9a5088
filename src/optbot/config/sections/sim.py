from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class SimSettings(Section):
    """The local SmartAPI simulator."""

    host: str = "127.0.0.1"
    port: int = Field(default=8720, ge=0, le=65535)
    speed: float = Field(default=0.0, ge=0, description="0 = as fast as possible; N = N x real time")

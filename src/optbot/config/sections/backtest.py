from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class BacktestSettings(Section):
    initial_capital: float = Field(default=500_000.0, gt=0)
    slippage_ticks: int = Field(default=1, ge=0)
    latency_ms: int = Field(default=250, ge=0)

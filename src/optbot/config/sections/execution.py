from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class ExecutionSettings(Section):
    """Order management (spec §6, §13.2). Owned by optbot.execution."""

    pending_order_timeout_seconds: float = Field(default=45.0, ge=30, le=60, description="spec §6.2: 30-60 s")
    cancel_on_vix_jump_points: float = Field(default=5.0, gt=0, description="spec §6.2: VIX spike > 5")
    cancel_on_underlying_move_pct: float = Field(default=1.0, gt=0, description="spec §6.2: > 1 %")
    retry_backoff_seconds: list[float] = Field(default_factory=lambda: [1.0, 2.0, 4.0])
    max_retries: int = Field(default=3, ge=0, le=10, description="spec §6.2: at most 3")
    max_slippage_pct: float = Field(default=2.0, gt=0, description="spec §13.2: slippage fence")
    allow_market_orders: bool = False

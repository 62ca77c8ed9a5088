"""Exact tick-grid rounding for order prices (0.05 steps never drift)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

Direction = Literal["down", "up", "nearest"]


def round_to_tick(price: float, tick: float, direction: Direction) -> float:
    """Round onto the tick grid with exact decimal arithmetic (0.05 steps never drift)."""
    tick_decimal = Decimal(repr(tick)) if tick > 0 else Decimal("0.05")
    steps = Decimal(repr(price)) / tick_decimal
    mode = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_UP}[direction]
    return float(steps.to_integral_value(rounding=mode) * tick_decimal)

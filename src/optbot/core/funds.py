"""The account's funds as a venue reports them; neutral, so storage and reconciliation need no broker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Funds:
    """Net value, cash available for new margin, margin in use and the day's M2M (RMS limits call)."""

    net: float
    available_cash: float
    utilised_margin: float
    realised_m2m: float = 0.0
    unrealised_m2m: float = 0.0

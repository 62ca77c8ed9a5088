"""What the dashboard needs from a running engine, and nothing more."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class DashboardSnapshot:
    """Everything one page render shows. Plain JSON-able values only; no secrets ever."""

    ts_utc: str
    mode: str
    session: dict[str, Any] = field(default_factory=dict)
    feed: dict[str, Any] = field(default_factory=dict)
    risk: dict[str, Any] = field(default_factory=dict)
    exposure: dict[str, Any] = field(default_factory=dict)
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    legs: list[dict[str, Any]] = field(default_factory=list)
    sentiment: list[dict[str, Any]] = field(default_factory=list)
    pnl_series: list[tuple[str, float]] = field(default_factory=list)


class DashboardProvider(Protocol):
    def snapshot(self) -> DashboardSnapshot: ...

    async def kill_switch(self, reason: str, actor: str) -> str:
        """Cancel all, flatten, halt. Returns a human-readable outcome."""
        ...

    def report_files(self) -> list[Path]:
        """Backtest and daily report files (HTML/JSON) the dashboard may serve."""
        ...

"""What the books know of an open position's entry, handed back to its strategy after a restart.

A strategy keeps its trades (and their exit plans) in memory. After the process restarts mid-session
the engine finds the open positions in the store and, for each one whose last entry intent names a
running strategy, builds a `PositionOrigin` from the stored intent, its fills and the audited signal;
the strategy re-adopts the position from it so its stop, target and trail apply again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from optbot.core.enums import Exchange
from optbot.core.instrument import Instrument


@dataclass(frozen=True, slots=True)
class RecordedExitPlan:
    """The exit plan's numbers as the strategy set them at entry (audited with the entry signal)."""

    entry_underlying: float
    stop: float
    target: float
    entry_vix: float | None = None

    def as_detail(self) -> dict[str, float | None]:
        """The JSON form kept under `Signal.details[SIGNAL_EXIT_PLAN]`."""
        return {
            "entry_underlying": self.entry_underlying,
            "stop": self.stop,
            "target": self.target,
            "entry_vix": self.entry_vix,
        }

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any] | None) -> RecordedExitPlan | None:
        """The plan read back from an audited signal; None when absent or incomplete (older rows)."""
        if not isinstance(detail, Mapping):
            return None
        try:
            entry, stop, target = (float(detail[key]) for key in ("entry_underlying", "stop", "target"))
        except (KeyError, TypeError, ValueError):
            return None
        vix = detail.get("entry_vix")
        return cls(entry, stop, target, float(vix) if isinstance(vix, int | float) else None)


@dataclass(frozen=True, slots=True)
class PositionOrigin:
    """An open position and what the store records of the entry behind it.

    `owner` is the strategy of the contract's last entry intent ("" when none: opened by hand).
    `entry_underlying` is the underlying's level the entry intent was decided at (None when the intent
    did not record one); `recorded_plan` is the exit plan audited with the entry's signal (None for
    entries made before plans were recorded); `entry_vix` is the VIX at entry (the plan's, else the
    order's baseline).
    """

    exchange: Exchange
    token: str
    symbol: str
    underlying: str
    net_quantity: int
    average_price: float
    owner: str
    contract: Instrument | None = None
    entry_intent_id: str = ""
    entry_time: datetime | None = None
    entry_price: float | None = None
    entry_quantity: int = 0
    entry_underlying: float | None = None
    entry_vix: float | None = None
    recorded_plan: RecordedExitPlan | None = None

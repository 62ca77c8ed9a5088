"""A scripted `DashboardProvider` for dashboard tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from optbot.ops.dashboard.provider import DashboardSnapshot


@dataclass
class ScriptedDashboardProvider:
    snapshot_value: DashboardSnapshot
    reports: list[Path] = field(default_factory=list)
    kills: list[tuple[str, str]] = field(default_factory=list)

    def snapshot(self) -> DashboardSnapshot:
        return self.snapshot_value

    async def kill_switch(self, reason: str, actor: str) -> str:
        self.kills.append((reason, actor))
        self.snapshot_value = DashboardSnapshot(
            ts_utc=self.snapshot_value.ts_utc,
            mode=self.snapshot_value.mode,
            risk={"state": "HALTED", "reason": reason},
            positions=[],
        )
        return "halted; 1 order cancelled; 1 position flattened"

    def report_files(self) -> list[Path]:
        return self.reports


def sample_snapshot() -> DashboardSnapshot:
    return DashboardSnapshot(
        ts_utc="2026-08-07T05:00:00.000Z",
        mode="paper",
        session={"session": "open", "close_ist": "15:40", "auth_valid_until": "2026-08-08T00:00+05:30"},
        feed={"connected": True, "stale_seconds": 0.4, "reconnects": 0, "ticks_per_second": 12.5},
        risk={"state": "ACTIVE", "size_multiplier": 1.0, "recent_decisions": []},
        exposure={"margin_used": 14_625.0, "margin_available": 485_375.0, "margin_used_pct": 2.9},
        positions=[
            {
                "symbol": "NIFTY11AUG2624550CE",
                "quantity": 75,
                "average_price": 195.0,
                "ltp": 210.5,
                "unrealised_pnl": 1162.5,
                "realised_pnl": 0.0,
                "delta": 39.4,
                "theta_per_day": -612.0,
            }
        ],
        orders=[],
        trades=[
            {
                "time": "10:31:02",
                "symbol": "NIFTY11AUG2624550CE",
                "side": "BUY",
                "quantity": 75,
                "price": 195.0,
            }
        ],
        pnl_series=[
            ("2026-08-07T05:00:00Z", 0.0),
            ("2026-08-07T05:01:00Z", 500.0),
            ("2026-08-07T05:02:00Z", 1162.5),
        ],
    )

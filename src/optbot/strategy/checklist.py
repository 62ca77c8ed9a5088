"""The pre-entry validation checklist (spec §10.3), every item with its verdict and detail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from optbot.config.sections.strategy import StrategySettings
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_datetime, to_ist
from optbot.risk.views import SessionTimes


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ChecklistResult:
    items: tuple[ChecklistItem, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(item.passed for item in self.items)

    @property
    def failures(self) -> list[str]:
        return [f"{item.name}: {item.detail}" for item in self.items if not item.passed]

    def summary(self) -> str:
        return "; ".join(
            f"{'ok' if item.passed else 'FAIL'} {item.name} ({item.detail})" for item in self.items
        )


def entry_checklist(
    settings: StrategySettings,
    now: datetime,
    session: SessionTimes | None,
    no_new_entries_before_close_minutes: float,
    contract: Instrument | None,
    open_interest: int | None,
    vix: float | None,
    higher_timeframe_aligned: bool,
    higher_timeframe_detail: str,
    near_level: bool,
    level_detail: str,
    *,
    volume: int | None,
    min_volume: int,
) -> ChecklistResult:
    """Spec §10.3's items; `volume` of the chosen contract is held to `min_volume` (spec §3.3/§5.4
    "sufficient OI/volume", `instruments.liquidity_min_volume`; 0 = no volume requirement)."""
    items: list[ChecklistItem] = []
    if session is None:
        items.append(ChecklistItem("market hours", False, "no session today"))
    else:
        latest = session.close_utc - timedelta(minutes=no_new_entries_before_close_minutes)
        inside = session.open_utc <= now < latest
        items.append(
            ChecklistItem(
                "market hours",
                inside,
                f"{to_ist(now):%H:%M} IST, entries {to_ist(session.open_utc):%H:%M}-{to_ist(latest):%H:%M}",
            )
        )
    today = to_ist(now).date()
    if contract is None:
        items.append(ChecklistItem("token validity", False, "no listed contract"))
    else:
        valid = contract.expiry is None or contract.expiry >= today
        items.append(ChecklistItem("token validity", valid, f"{contract.symbol} expiry {contract.expiry}"))
    if open_interest is None:
        items.append(ChecklistItem("liquidity", False, "open interest unknown"))
    else:
        items.append(
            ChecklistItem(
                "liquidity",
                open_interest >= settings.min_open_interest,
                f"OI {open_interest} vs minimum {settings.min_open_interest}",
            )
        )
    if min_volume > 0:
        items.append(_volume_item(volume, min_volume))
    if vix is None:
        items.append(ChecklistItem("volatility", False, "VIX unknown"))
    else:
        inside_band = settings.entry_vix_min <= vix <= settings.entry_vix_max
        items.append(
            ChecklistItem(
                "volatility",
                inside_band,
                f"VIX {vix:.2f} vs {settings.entry_vix_min:g}-{settings.entry_vix_max:g}",
            )
        )
    items.append(ChecklistItem("trend confirmation", higher_timeframe_aligned, higher_timeframe_detail))
    items.append(ChecklistItem("support/resistance", near_level, level_detail))
    return ChecklistResult(tuple(items))


def _volume_item(volume: int | None, min_volume: int) -> ChecklistItem:
    if volume is None:
        return ChecklistItem("traded volume", False, f"volume unknown (minimum {min_volume})")
    return ChecklistItem("traded volume", volume >= min_volume, f"volume {volume} vs minimum {min_volume}")


def in_time_entry_window(settings: StrategySettings, now: datetime) -> str | None:
    """The time-based entry (spec §10.3: 10:30, 14:30 IST) whose window contains `now`, if any."""
    local = to_ist(now)
    for entry_time in settings.time_entries:
        start = ist_datetime(local.date(), entry_time)
        if start <= local < start + timedelta(minutes=settings.time_entry_window_minutes):
            return entry_time.strftime("%H:%M")
    return None


def days_to_expiry(expiry: date | None, now: datetime) -> int | None:
    return None if expiry is None else (expiry - to_ist(now).date()).days

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from optbot.config.sections.base import Section


class CalendarSettings(Section):
    """Market calendar upkeep (spec §1.1 holiday check, §8.2 holiday mode, §13.7 calendar upkeep)."""

    overrides_file: Path | None = Field(
        default=None,
        description=(
            "spec §13.7: an updated calendar override file (same format as the packaged "
            "nse_overrides.toml) to use instead of the packaged one; relative paths are under paths.data_root"
        ),
    )
    coverage_warning_days: int = Field(
        default=45,
        ge=0,
        le=366,
        description="spec §8.2/§13.7: warn when the calendar's known range ends within this many days",
    )
    provisional_years: int = Field(
        default=2,
        ge=0,
        le=5,
        description=(
            "§13.7: whole years past the known range answered provisionally (weekdays trade with the "
            "last known hours, confirmed on the day by the broker) instead of refusing to start"
        ),
    )
    provisional_confirm_minutes: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description=(
            "§13.7: on a provisional session, minutes after the open by which the market socket must "
            "have shown the exchange trading; until it does, new entries are paused"
        ),
    )
    sync_url: str = Field(
        default="https://www.nseindia.com/api/holiday-master?type=trading",
        description=(
            "§13.7: NSE's trading-holiday list (JSON by segment); its site's home page gives the cookie"
        ),
    )
    sync_timeout_seconds: float = Field(
        default=20.0, gt=0, le=300, description="§13.7: time limit for each request of a calendar sync"
    )
    sync_user_agent: str = Field(
        default=(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0 Safari/537.36"
        ),
        description="§13.7: NSE's site refuses clients without a browser-like User-Agent",
    )
    synced_dir: Path = Field(
        default=Path("calendar"),
        description=(
            "§13.7: where synced NSE holiday lists are kept (dated files); relative to paths.data_root"
        ),
    )
    synced_keep: int = Field(
        default=5, ge=1, le=100, description="§13.7: how many dated synced lists to keep (older good copies)"
    )
    sync_min_holidays_per_year: int = Field(
        default=8,
        ge=1,
        le=40,
        description="§13.7: fewer weekday holidays than this in a year of NSE's list means a partial list",
    )
    sync_max_holidays_per_year: int = Field(
        default=25,
        ge=1,
        le=60,
        description="§13.7: more weekday holidays than this in a year of NSE's list means a wrong list",
    )
    sync_in_data_management: bool = Field(
        default=True,
        description="§13.7: data-management mode syncs NSE's holiday list (at most once a day)",
    )

from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class DataSettings(Section):
    """Market-data pipeline (spec §2): retention, history depth, gaps, quality. Owned by optbot.data."""

    raw_tick_retention_days: int = Field(default=2, ge=1, description="spec §2.3: 2 days of raw ticks")
    intraday_retention_days: int = Field(default=92, ge=1, description="spec §2.3: 3 months of 1m..1h")
    daily_retention_days: int = Field(default=366, ge=30, description="spec §2.3: 1 year of daily bars")
    history_daily_days: int = Field(default=730, ge=30, description="spec §2.2: 1-2 years of daily")
    history_hourly_days: int = Field(default=92, ge=1, description="spec §2.1: 3 months of 1h")
    history_option_days: int = Field(default=92, ge=1, description="spec §2.2: 3 months of options")
    opening_gap_pct: float = Field(default=2.0, gt=0, description="spec §2.4: gap > 2 %")
    interpolate_max_gap_minutes: float = Field(default=5.0, ge=0, description="spec §2.4: fill < 5 min")
    discard_gap_minutes: float = Field(default=10.0, gt=0, description="spec §2.4: discard > 10 min")
    stale_master_days: int = Field(default=7, ge=1, description="spec §8.1: stale cache > 7 days")
    bar_close_grace_seconds: float = Field(
        default=1.0,
        ge=0,
        le=10,
        description="spec §2.3: 1m bar closes this long after its minute ends (in-flight ticks)",
    )
    feed_stall_seconds: float = Field(
        default=20.0, gt=0, description="spec §2.4: no tick for this long during a minute = incomplete bar"
    )
    outlier_pct: float = Field(
        default=10.0, gt=0, description="spec §10.7 'Outlier Detection': bar-to-bar jump flagged above this %"
    )
    outlier_robust_multiple: float = Field(
        default=12.0,
        gt=0,
        description="a jump is an outlier only above this many robust std devs of the series' own returns",
    )
    fsync_appends: bool = Field(
        default=True, description="spec §2.1: fsync every persisted bar (durability over throughput)"
    )
    raw_flush_ticks: int = Field(
        default=500, ge=1, description="spec §2.3: raw ticks flushed every N ticks and on bar close"
    )
    download_requests_per_second: float = Field(
        default=3.0, gt=0, le=3, description="reference §7: getCandleData 3/s"
    )
    download_requests_per_minute: int = Field(
        default=180, ge=1, le=180, description="reference §7: getCandleData 180/min"
    )
    backups_keep: int = Field(default=7, ge=1, description="spec §8.3: data backups kept")
    record_option_bars: bool = Field(
        default=True,
        description="record every subscribed option contract's closed 1m bars into the option archive",
    )
    import_max_outside_session_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="an import with a forced --tz is refused when more than this share of its rows falls "
        "outside the session under that zone (the stamps are in the other zone)",
    )
    archive_flush_minutes: float = Field(
        default=15.0,
        ge=1,
        le=375,
        description="recorded option bars are written to the archive this often (and at the close/shutdown)",
    )

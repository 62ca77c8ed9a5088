from __future__ import annotations

from pathlib import Path

from pydantic import Field

from optbot.config.sections.base import Section


class InstrumentsSettings(Section):
    """Strike selection and token pools (spec §3). Owned by optbot.instruments."""

    atm_check_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="spec §3.3: every 5-10 s each underlying's ATM is checked against the centre of its feed "
        "window (the full refresh stays once a minute)",
    )
    atm_move_strikes: int = Field(
        default=1,
        ge=1,
        description="spec §3.3: the feed window is re-centred at the next ATM check once the ATM is more "
        "than this many listed strikes from its centre",
    )
    strikes_around_atm: int | None = Field(
        default=None,
        ge=1,
        description="deprecated alias of engine.atm_strike_window (strikes either side of ATM, spec §3.3); "
        "a value set here is applied there when engine.atm_strike_window is not set",
    )
    normal_range_points: float = Field(default=50.0, gt=0, description="spec §5.4: ±50 points")
    gap_range_points: float = Field(default=100.0, gt=0, description="spec §3.4: ±100 points in gaps")
    gap_pool_strikes: int = Field(default=15, ge=10, le=30, description="spec §3.4: 10-15 strikes")
    gap_stability_minutes: float = Field(default=3.0, gt=0, description="spec §3.4: 2-3 minutes")
    replacement_window_seconds: float = Field(
        default=90.0,
        gt=0,
        description="spec §3.3 gradual replacement over 1-2 min: a strike that left the window is "
        "unsubscribed this long after a refresh first found it unwanted (held or ordered contracts never)",
    )
    min_open_interest: int | None = Field(
        default=None,
        ge=0,
        description="deprecated alias of strategy.min_open_interest (the entry checklist's OI > 1000, "
        "spec §10.3); a value set here is applied there when strategy.min_open_interest is not set",
    )
    liquidity_min_volume: int = Field(
        default=0,
        ge=0,
        description="spec §3.3/§5.4 'Liquidity Check': an entry needs at least this traded volume on the "
        "chosen contract (an entry-checklist item); 0 = no volume requirement",
    )
    subscription_token_limit: int | None = Field(
        default=None,
        ge=1,
        le=3000,
        description="deprecated alias of broker.max_tokens_per_connection (reference §5: 1000 tokens per "
        "socket connection); a value set here is applied there when that is not set",
    )
    download_timeout_seconds: float = Field(
        default=60.0, gt=0, description="spec §3.1: scrip master download timeout (file is tens of MB)"
    )
    fallback_master_file: Path | None = Field(
        default=None,
        description="spec §8.1 'fallback to a manual token list': a scrip-master JSON you keep (Angel "
        "One's OpenAPIScripMaster.json format: a saved copy, or only the rows of the contracts you "
        "trade), used when today's download fails and no saved daily master is usable; its date is "
        "the file's modification time (older than data.stale_master_days = stale); relative paths are "
        "under paths.data_root",
    )
    master_keep_days: int = Field(
        default=10, ge=1, description="spec §13.7: how many daily master artifacts to keep on disk"
    )

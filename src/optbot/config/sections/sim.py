from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from optbot.config.sections.base import Section
from optbot.config.sections.margin import default_scan_pct_by_underlying


class EndpointRateLimit(BaseModel):
    """One row of reference §7: requests allowed per second / minute / hour (None = no published cap)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: int | None = Field(default=None, ge=1)
    per_minute: int | None = Field(default=None, ge=1)
    per_hour: int | None = Field(default=None, ge=1)


def _limit(second: int | None, minute: int | None = None, hour: int | None = None) -> EndpointRateLimit:
    return EndpointRateLimit(per_second=second, per_minute=minute, per_hour=hour)


class CautionaryScrip(BaseModel):
    """One row of the cautionaryScrips reply (reference §2): {token, symbol, message}."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    message: str = Field(min_length=1)


def default_rate_limits() -> dict[str, EndpointRateLimit]:
    """Reference §7 (docs "Rate Limit" page), keyed by the simulator's endpoint bucket names.

    `orders` is the one bucket placeOrder, modifyOrder and cancelOrder share (cumulative 9/s).
    """
    return {
        "login": _limit(1),
        "generate_tokens": _limit(1, None, 1000),
        "profile": _limit(3, None, 1000),
        "logout": _limit(1),
        "rms": _limit(2),
        "orders": _limit(9, 500, 1000),
        "order_book": _limit(1),
        "trade_book": _limit(1),
        "positions": _limit(1),
        "ltp": _limit(10, 500, 5000),
        "convert_position": _limit(10, 500, 5000),
        "search_scrip": _limit(1),
        "order_details": _limit(10, 500, 5000),
        "holdings": _limit(1),
        "quote": _limit(10, 500, 5000),
        "margin": _limit(10, 500, 5000),
        "gtt_write": _limit(9, 500, 5000),
        "gtt_read": _limit(10, 500, 5000),
        "candles": _limit(3, 180, 5000),
        "option_greek": _limit(1),
    }


def default_candle_max_days() -> dict[str, int]:
    """Reference §4 "Historical candles": max days per getCandleData request by interval."""
    return {
        "ONE_MINUTE": 30,
        "THREE_MINUTE": 60,
        "FIVE_MINUTE": 100,
        "TEN_MINUTE": 100,
        "FIFTEEN_MINUTE": 200,
        "THIRTY_MINUTE": 200,
        "ONE_HOUR": 400,
        "ONE_DAY": 2000,
    }


class SimSettings(Section):
    """The local SmartAPI simulator."""

    host: str = "127.0.0.1"
    port: int = Field(default=8720, ge=0, le=65535)
    speed: float = Field(default=0.0, ge=0, description="0 = as fast as possible; N = N x real time")
    rate_limits_enabled: bool = Field(default=True, description="reference §7: per-endpoint limits on")
    rate_limits: dict[str, EndpointRateLimit] = Field(
        default_factory=default_rate_limits, description="reference §7 table, per client code"
    )
    candle_max_days: dict[str, int] = Field(
        default_factory=default_candle_max_days, description="reference §4: max span per interval"
    )
    quote_max_tokens: int = Field(default=50, ge=1, description="reference §4: up to 50 tokens per quote")
    ordertag_max_length: int = Field(
        default=19, ge=1, description="reference §3: ordertag < 20 chars, else AB4008"
    )
    totp_valid_window_steps: int = Field(
        default=1, ge=0, le=3, description="issue 4: RFC 6238 TOTP accepted within ±1 30-s step"
    )
    session_ttl_seconds: float | None = Field(
        default=None, gt=0, description="reference §1: None = sessions end at midnight IST"
    )
    refresh_rotates_tokens: bool = Field(
        default=True, description="reference §1 [U]: generateTokens invalidates the previous jwt/refresh"
    )
    market_protection_pct: float = Field(
        default=2.0, gt=0, le=20, description="reference §3: MARKET becomes a LIMIT this far beyond LTP"
    )
    option_short_span_pct: float = Field(
        default=9.0,
        gt=0,
        le=100,
        description="margin model: SPAN scan % of underlying for short options not listed by index below",
    )
    option_scan_pct_by_underlying: dict[str, float] = Field(
        default_factory=default_scan_pct_by_underlying,
        description="margin model: SPAN scan % of the underlying for short index options, by index",
    )
    option_short_min_span_pct: float = Field(
        default=1.5, gt=0, le=100, description="margin model: short-option minimum % for deep OTM shorts"
    )
    exposure_margin_pct: float = Field(
        default=2.0, ge=0, le=100, description="margin model: exposure % of underlying for F&O shorts"
    )
    futures_span_pct: float = Field(default=12.0, gt=0, le=100, description="margin model: futures SPAN %")
    equity_intraday_margin_pct: float = Field(
        default=20.0, gt=0, le=100, description="margin model: MIS equity margin % of value"
    )
    max_order_value_rupees: float = Field(
        default=50_000_000.0, gt=0, description="RMS: single-order value cap (fat-finger guard)"
    )
    replay_dates: list[date] = Field(
        default_factory=lambda: [date(2025, 9, 10)],
        description="issue 4: sessions `optbot sim serve` replays without --date (sample 1-min data)",
    )
    replay_end_time_ist: str = Field(
        default="15:45", pattern=r"^\d{2}:\d{2}$", description="replay each date up to this IST time"
    )
    replay_start_time_ist: str = Field(
        default="09:00", pattern=r"^\d{2}:\d{2}$", description="replay each date from this IST time"
    )
    start_paused: bool = Field(
        default=False,
        description='hold the replay clock at the start time until POST /sim/v1/clock {"paused": false} '
        "(bots start up first, however long that takes)",
    )
    edis_auto_authorise: bool = Field(
        default=True,
        description="EDIS: verifyDis requests count as authorised at CDSL at once (there is no CDSL page)",
    )
    cautionary_scrips: list[CautionaryScrip] = Field(
        default_factory=list,
        description="rows served by securities/v1/cautionaryScrips ({token, symbol, message})",
    )
    housekeeping_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        description="sim-clock seconds between sweeps: AMOs sent at the open, DAY orders cancelled at close",
    )

    @field_validator("rate_limits")
    @classmethod
    def _known_buckets(cls, value: dict[str, EndpointRateLimit]) -> dict[str, EndpointRateLimit]:
        unknown = sorted(set(value) - set(default_rate_limits()))
        if unknown:
            known = ", ".join(sorted(default_rate_limits()))
            raise ValueError(f"unknown rate-limit bucket(s) {', '.join(unknown)}; known: {known}")
        return {**default_rate_limits(), **value}  # a partial table overrides, never drops, limits

    @field_validator("candle_max_days")
    @classmethod
    def _known_intervals(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(default_candle_max_days()))
        if unknown:
            raise ValueError(f"unknown candle interval(s) {', '.join(unknown)}")
        bad = sorted(name for name, days in value.items() if days < 1)
        if bad:
            raise ValueError(f"max days must be >= 1 for {', '.join(bad)}")
        return {**default_candle_max_days(), **value}

from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class EngineSettings(Section):
    """The supervised trading loop (spec §1, §8.2-8.4, §9, §10.8, §13.6). Owned by optbot.engine."""

    health_check_interval_minutes: float = Field(
        default=5.0, gt=0, description="spec §1.4: session health check every 5 minutes in market hours"
    )
    periodic_reconcile_minutes: float = Field(
        default=15.0, gt=0, description="spec §13.3: periodic reconciliation with the broker's books"
    )
    order_poll_seconds: float = Field(
        default=2.0, gt=0, description="verification poll of working orders (details / order book)"
    )
    atm_strike_window: int = Field(
        default=6, ge=1, description="strikes either side of ATM kept quoted in the engine's option chain"
    )
    warmup_daily_bars: int = Field(
        default=400, ge=50, description="daily bars loaded before the session for ADX categories (§5.4)"
    )
    warmup_intraday_days: int = Field(
        default=20, ge=1, description="trading days of intraday history loaded for indicator warm-up"
    )
    flatten_intraday_at_close: bool = Field(
        default=True, description="spec §10.4: close intraday positions before the close"
    )
    leave_positions_on_shutdown: bool = Field(
        default=True,
        description="spec §9: on SIGINT/SIGTERM keep open positions (broker-side) instead of flattening",
    )
    min_free_disk_mb: float = Field(
        default=200.0,
        ge=0,
        description="spec §1.4/§1.6: free space the data root needs; less is a critical startup FAIL, "
        "and a critical alert at each market-hours health check (ticks, bars and the state database "
        "are written all day)",
    )
    reject_spike_pause_minutes: float = Field(
        default=15.0,
        ge=0,
        description="spec §8.1 / runbook §3: a spike of order rejects (notifications.reject_spike_count "
        "within reject_spike_window_seconds) pauses new entries this long (exits still go); 0 = alert only",
    )
    cancel_entries_on_shutdown: bool = Field(
        default=True,
        description="spec §9: a stop requested before the close cancels working entry orders (exits "
        "stay working), so no position can open while nobody watches it",
    )
    watchdog_max_restarts: int = Field(
        default=5, ge=0, description="spec §10.8: restarts of a failed internal service before halting"
    )
    watchdog_backoff_seconds: float = Field(
        default=1.0, gt=0, description="first watchdog restart delay; doubles per restart"
    )
    watchdog_backoff_max_seconds: float = Field(default=60.0, gt=0, description="cap of the restart delay")
    warning_size_multiplier: float = Field(
        default=0.5, gt=0, le=1, description="spec §10.8: a warning-class error reduces size to this"
    )
    warning_cooldown_minutes: float = Field(
        default=30.0, ge=0, description="how long the warning size reduction lasts without new warnings"
    )
    feed_stale_seconds: float = Field(
        default=30.0, gt=0, description="no tick for this long in market hours = feed down (critical)"
    )
    max_reconnect_attempts: int = Field(
        default=10,
        ge=1,
        description="spec §13.6 circuit breaker: consecutive failed market-data socket reconnects after "
        "which a critical alert goes out and reconnects slow to reconnect_circuit_cooldown_seconds "
        "(entries already pause at the first interruption; the feed never stops reconnecting)",
    )
    startup_socket_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        description="spec §1.6 health check (WebSocket connection capability): at startup, how long "
        "(transport time) the session waits for a market-data socket to connect and send its "
        "subscriptions before reporting the 'market data socket' stage as a non-critical FAIL; the "
        "feed keeps reconnecting and entries stay paused in market hours until it delivers data",
    )
    reconnect_circuit_cooldown_seconds: float = Field(
        default=60.0,
        gt=0,
        description="spec §13.6: while the reconnect circuit breaker is open, one attempt this often "
        "instead of the backoff's cap; the broker allows 3 sockets per client code (429 beyond, "
        "reference §5-6) and a dropped socket it has not yet noticed may hold a slot, so a minute "
        "lets those clear instead of hammering the handshake",
    )
    freeze_startup_heap: bool = Field(
        default=True,
        description="spec §10.9: once the session has started (master, history, engine loaded), its "
        "heap is frozen out of the garbage collector's scans (gc.freeze), so a full collection during "
        "the day does not pause the loop for the whole master (~0.3 s with 150,000 contracts)",
    )
    session_recovery_check_seconds: float = Field(
        default=30.0,
        gt=0,
        description="runbook §1: while entries are paused for a lost broker session, the session is "
        "re-checked (re-login included) this often instead of at the health-check interval",
    )
    session_recovery_max_per_day: int = Field(
        default=3,
        ge=0,
        description="runbook §1: automatic resumes after a lost broker session per trading day; past it "
        "entries stay paused until a person resumes (a session that keeps dropping needs a look)",
    )
    session_recovery_min_gap_minutes: float = Field(
        default=5.0,
        ge=0,
        description="runbook §1: at least this long (engine clock) between a resume and the next one",
    )
    demo_days: int = Field(default=1, ge=1, le=5, description="sessions `optbot demo` replays")
    demo_speed: float = Field(
        default=3000.0,
        ge=0,
        description="replay speed of `optbot demo` (x real time) when --speed is not given; "
        "0 = as fast as the machine allows",
    )

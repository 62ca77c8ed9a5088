"""The risk engine: pre-trade checks, breakers, the trading state and the kill switch.

Every intent passes through `evaluate`. Risk-reducing intents (exits, stops, flattens) are never
blocked by the state or by limits; new risk is checked against every limit and the approved size is
the smallest any limit allows, in whole lots. Halts are latches, each with its own way out; the state
is derived from the latches and the size multiplier, and changes only along `state.TRANSITIONS`.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Generic, TypeVar

import structlog

from optbot.config import Settings
from optbot.config.sections.risk import RiskSettings
from optbot.core.clock import Clock
from optbot.core.enums import IntentPurpose, OrderType, RiskState, Side
from optbot.core.events import Bar, Event, OrderIntent, RiskDecision, RiskStateChanged, Tick
from optbot.core.ids import new_id
from optbot.core.timeutil import IST, ist_date
from optbot.risk.delta import HedgeSuggestion, delta_exposures, hedge_suggestions
from optbot.risk.killswitch import (
    RESUME_ACK_FILE_NAME,
    read_kill_flag,
    read_resume_ack,
    write_kill_flag,
)
from optbot.risk.state import TradingStateMachine
from optbot.risk.views import PositionSnapshot, RiskMarketView, RiskPortfolioView, exposure_by_underlying
from optbot.risk.windows import (
    PercentMoveDetector,
    RiseDetector,
    SpikeDetection,
    VolumeSurgeDetector,
)

log = structlog.get_logger("optbot.risk")


def _ignore(_: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RiskCallbacks:
    """How the engine acts on the world; the engine wires these to the order manager and the bus.
    `publish` carries risk state changes; decisions are returned to the caller, which publishes the
    final one (after its own session and basket checks) exactly once."""

    cancel_all: Callable[[str], None] = _ignore
    flatten: Callable[[OrderIntent], None] = _ignore
    publish: Callable[[Event], None] = _ignore


class LatchKind(StrEnum):
    KILL = "kill"
    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "daily_drawdown"
    CONSECUTIVE_LOSSES = "consecutive_losses"
    VIX_EXTREME = "vix_extreme"
    VIX_SPIKE = "vix_spike"
    VIX_BREAKER = "vix_breaker"
    PRICE_SPIKE = "price_spike"
    VOLUME_SPIKE = "volume_spike"


#: The newest decisions kept in memory for the dashboard's first rows; every decision is journalled
#: with its intent in the store (a months-long session would otherwise keep them all in memory).
RECENT_DECISIONS_KEPT = 200

#: Latches cleared by a new trading day (and, for consecutive losses, by an acknowledgement).
# A tuple, not a set: the latches are cleared (and their events published) in this order on every run.
DAY_LATCHES = (LatchKind.DAILY_LOSS, LatchKind.DRAWDOWN, LatchKind.CONSECUTIVE_LOSSES)

#: How a tick's symbol feeds the spike windows: not at all, as VIX, or as a watched underlying.
_IGNORED, _VIX, _WATCHED = 0, 1, 2

#: (inode, size, mtime, ctime) of a file, or None when it does not exist.
_FileSignature = tuple[int, int, int, int] | None


_Parsed = TypeVar("_Parsed")


def _file_signature(path: str) -> _FileSignature:
    """A cheap stat of a flag file; raises OSError (other than not-found) for the caller to read it."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class _StatMemo(Generic[_Parsed]):
    """A flag file's parsed content, re-read only when its stat changes (absent: one stat, no open).
    A file that exists but cannot be stat-ed is handed to the reader every time (it fails safe)."""

    def __init__(self, path: Path, reader: Callable[[Path], _Parsed | None]) -> None:
        self.path = path
        #: The path as a str, converted once: `os.stat` would convert a Path on every check (about
        #: half the cost of stat-ing an absent flag file, which is what a check usually finds).
        self._stat_path = os.fspath(path)
        self._reader = reader
        self._seen: tuple[_FileSignature, _Parsed | None] | None = None

    def read(self) -> _Parsed | None:
        try:
            signature = _file_signature(self._stat_path)
        except OSError:
            return self._reader(self.path)
        seen = self._seen
        if seen is not None and seen[0] == signature:
            return seen[1]
        parsed = None if signature is None else self._reader(self.path)
        self._seen = (signature, parsed)
        return parsed


@dataclass(slots=True)
class Latch:
    kind: LatchKind
    reason: str
    since: datetime
    recover_below_vix: float | None = None
    quiet_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RiskStatus:
    state: RiskState
    size_multiplier: float
    latches: tuple[str, ...]
    vix: float | None
    resume_started: datetime | None


@dataclass(slots=True)
class _Limiter:
    """Tracks the smallest lot count any limit allows, with the reason for each binding limit."""

    requested_lots: int
    allowed_lots: int = field(init=False)
    reasons: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.allowed_lots = self.requested_lots

    def cap(self, lots: float, description: str) -> None:
        whole = max(0, math.floor(lots + 1e-9))
        if whole < self.allowed_lots:
            self.allowed_lots = whole
            (self.failures if whole == 0 else self.reasons).append(f"{description} -> at most {whole} lots")

    def fail(self, description: str) -> None:
        self.allowed_lots = 0
        self.failures.append(description)


def flatten_intent(
    position: PositionSnapshot,
    reason: str,
    now: datetime,
    *,
    strategy: str = "risk",
    quantity: int | None = None,
) -> OrderIntent:
    """Close `quantity` (default: all) of a position; MARKET, sent as a depth-priced protected limit."""
    side = Side.SELL if position.net_quantity > 0 else Side.BUY
    size = abs(position.net_quantity) if quantity is None else quantity
    return OrderIntent(
        ts_utc=now,
        intent_id=new_id(),
        strategy=strategy,
        token=position.token,
        exchange=position.exchange,
        symbol=position.symbol,
        side=side,
        quantity=size,
        purpose=IntentPurpose.FLATTEN,
        order_type=OrderType.MARKET,
        underlying=position.underlying,
        reason=f"flatten {position.symbol} ({side} {size}): {reason}",
    )


def vix_band_level(vix: float, current: int, risk: RiskSettings) -> int:
    """The VIX size band (0 normal, 1 elevated, 2 high) with hysteresis: a band is entered as soon as
    VIX reaches its level and left only once VIX is `vix_hysteresis_points` below that level, so a
    VIX hovering on a boundary does not flip the risk state tick after tick."""
    levels = (risk.vix_elevated, risk.vix_high)
    raw = sum(1 for level in levels if vix >= level)
    band = max(raw, min(current, len(levels)))
    while band > raw and vix < levels[band - 1] - risk.vix_hysteresis_points:
        band -= 1
    return band


class RiskEngine:
    """Pre-trade risk checks and trading-state control for one account."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        callbacks: RiskCallbacks | None = None,
        portfolio: RiskPortfolioView | None = None,
    ) -> None:
        self.settings = settings
        self.risk = settings.risk
        self.clock = clock
        self.callbacks = callbacks or RiskCallbacks()
        self._portfolio = portfolio
        self._machine = TradingStateMachine()
        self._latches: dict[LatchKind, Latch] = {}
        self._resume_started: datetime | None = None
        self._size_multiplier = 1.0
        self._vix: float | None = None
        self._day: date | None = None
        self._day_start_utc: datetime | None = None  # IST midnight of `_day` (refresh skips ist_date)
        self._day_end_utc: datetime | None = None
        self._day_peak_pnl = 0.0
        self._acknowledged_trades = 0
        self._ack_seen: datetime | None = None
        self.decisions: deque[RiskDecision] = deque(maxlen=RECENT_DECISIONS_KEPT)
        self.state_changes: list[RiskStateChanged] = []
        self.flatten_intents: list[OrderIntent] = []
        state_dir = settings.paths.resolve(settings.paths.state_dir)
        self.kill_file: Path = state_dir / self.risk.kill_file_name
        self.resume_ack_file: Path = state_dir / RESUME_ACK_FILE_NAME
        r = self.risk
        self._vix_spike = RiseDetector(
            LatchKind.VIX_SPIKE, r.vix_spike_points, timedelta(minutes=r.vix_spike_window_minutes)
        )
        self._vix_breaker = RiseDetector(
            LatchKind.VIX_BREAKER, r.vix_breaker_points, timedelta(minutes=r.vix_breaker_window_minutes)
        )
        #: One price window per watched symbol, fed by every price of it (ticks and bar closes, in time
        #: order): a bar's close is a price the ticks already carried (or, in a bar-driven backtest, the
        #: same price its bar-close tick carried), so windows per source only repeated the same samples.
        self._price_detectors: dict[str, PercentMoveDetector] = {}
        self._volume_detectors: dict[tuple[str, str], VolumeSurgeDetector] = {}
        self._files_checked_at: float | None = None
        self._loss_limits_checked_at: float | None = None  # monotonic time of the price path's last check
        # The flag files' last stat signature and what was read then (re-read only when they change).
        self._kill_memo = _StatMemo(self.kill_file, read_kill_flag)
        self._ack_memo = _StatMemo(self.resume_ack_file, read_resume_ack)
        watched = [*settings.universe.underlyings, *settings.universe.stock_underlyings]
        self._watched_underlyings = {symbol.upper() for symbol in watched}
        self._vix_symbol = settings.universe.vix_symbol.upper().replace(" ", "")
        self._symbol_kinds: dict[str, int] = {}  # tick symbol -> _IGNORED / _VIX / _WATCHED
        self._band_vix: float | None = None  # the VIX the cached size band was derived from
        self._band_level = 0  # 0 normal, 1 elevated, 2 high: sticky by risk.vix_hysteresis_points
        self._band: tuple[float, str] = (1.0, "")
        #: The clock time of the last `refresh` while nothing it derives from changed since (a latch,
        #: VIX): a second price at the same instant (a bar's close after its tick) needs no refresh.
        self._refreshed_at: datetime | None = None

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> RiskState:
        return self._machine.state

    @property
    def size_multiplier(self) -> float:
        return self._size_multiplier

    def status(self) -> RiskStatus:
        self.refresh()
        return RiskStatus(
            self.state,
            self._size_multiplier,
            tuple(f"{latch.kind}: {latch.reason}" for latch in self._latches.values()),
            self._vix,
            self._resume_started,
        )

    def attach_portfolio(self, portfolio: RiskPortfolioView) -> None:
        """The portfolio flattened when a breaker fires between evaluations."""
        self._portfolio = portfolio

    def _latch(
        self,
        kind: LatchKind,
        reason: str,
        recover_below_vix: float | None = None,
        quiet_until: datetime | None = None,
    ) -> bool:
        """Set a latch; True when it is new (so the caller flattens only once)."""
        now = self.clock.now_utc()
        existing = self._latches.get(kind)
        if existing is not None:
            if quiet_until is not None:
                existing.quiet_until = quiet_until  # a repeat spike extends the quiet period
                self._refreshed_at = None
            return False
        self._latches[kind] = Latch(kind, reason, now, recover_below_vix, quiet_until)
        self._refreshed_at = None
        log.warning("risk_latch_set", latch=str(kind), reason=reason)
        self._resume_started = None
        return True

    def _unlatch(self, kind: LatchKind, reason: str) -> None:
        if self._latches.pop(kind, None) is None:
            return
        self._refreshed_at = None
        log.info("risk_latch_cleared", latch=str(kind), reason=reason)
        if not self._latches:
            self._resume_started = self.clock.now_utc()

    def _vix_band_multiplier(self) -> tuple[float, str]:
        vix = self._vix
        if vix is None:
            return 1.0, ""
        if vix != self._band_vix:
            self._band = self._vix_band(vix)
            self._band_vix = vix
        return self._band

    def _vix_band(self, vix: float) -> tuple[float, str]:
        r = self.risk
        self._band_level = vix_band_level(vix, self._band_level, r)
        if self._band_level == 0:
            return 1.0, ""
        name, level, multiplier = (
            ("high", r.vix_high, r.high_size_multiplier)
            if self._band_level == 2
            else ("elevated", r.vix_elevated, r.elevated_size_multiplier)
        )
        return (
            multiplier,
            f"VIX {vix:.2f} {name} (>= {level:g}, until below {level - r.vix_hysteresis_points:g}): "
            f"size x{multiplier:g}",
        )

    def _resume_multiplier(self, now: datetime) -> float:
        if self._resume_started is None:
            return 1.0
        r = self.risk
        steps = int((now - self._resume_started).total_seconds() // (r.resume_step_minutes * 60))
        fraction = (r.resume_initial_pct + steps * r.resume_step_pct) / 100
        if fraction >= 1.0:
            self._resume_started = None
            log.info("risk_resume_complete")
            return 1.0
        return fraction

    def refresh(self, check_files: bool = True) -> RiskState:
        """Re-derive latches that clear on time or files, the multiplier and the state.

        Runs on every tick, so the steady state is cheap: the IST day is re-derived only when the clock
        leaves the cached day, the VIX band only when VIX changes, and the state machine is asked to move
        (with its reason text) only when the derived state differs from the current one."""
        now = self._current_day_rolled()
        if check_files:
            self._files_checked_at = self.clock.monotonic()
            self._check_files()
        latches = self._latches
        if latches:
            for kind in (LatchKind.PRICE_SPIKE, LatchKind.VOLUME_SPIKE):
                latch = latches.get(kind)
                if latch is not None and latch.quiet_until is not None and now >= latch.quiet_until:
                    self._unlatch(kind, f"no new {kind} for {self.risk.flash_spike_cooldown_minutes:g} min")
        vix_multiplier, vix_reason = self._vix_band_multiplier()
        resume_multiplier = 1.0 if self._resume_started is None else self._resume_multiplier(now)
        self._size_multiplier = 0.0 if latches else vix_multiplier * resume_multiplier
        state = self._machine.state
        if latches:
            if state is not RiskState.HALTED:
                self._move(RiskState.HALTED, "; ".join(latch.reason for latch in latches.values()))
        elif self._size_multiplier < 1.0:
            if state is not RiskState.REDUCING:
                parts = [vix_reason] if vix_reason else []
                if resume_multiplier < 1.0:
                    parts.append(f"gradual resume at {resume_multiplier:.0%}")
                self._move(RiskState.REDUCING, "; ".join(parts))
        elif state is not RiskState.ACTIVE:
            self._move(RiskState.ACTIVE, "all limits clear")
        self._refreshed_at = now
        return self._machine.state

    def _current_day_rolled(self) -> datetime:
        """The clock's time, with the day's latches and peak reset first when it is a new IST day."""
        now = self.clock.now_utc()
        start, end = self._day_start_utc, self._day_end_utc
        if start is None or end is None or not start <= now < end:
            self._roll_day(now)
        return now

    def _move(self, target: RiskState, reason: str) -> None:
        if self.state is RiskState.HALTED and target is RiskState.ACTIVE:
            self._move(RiskState.REDUCING, f"leaving HALTED: {reason}")
        previous = self.state
        transition = self._machine.move(target, reason)
        if transition is None:
            return
        event = RiskStateChanged(self.clock.now_utc(), previous, target, reason, self._size_multiplier)
        self.state_changes.append(event)
        log.warning(
            "risk_state_changed",
            previous=str(previous),
            current=str(target),
            reason=reason,
            size_multiplier=self._size_multiplier,
        )
        self.callbacks.publish(event)

    def _roll_day(self, now: datetime) -> None:
        today = ist_date(now)
        self._day_start_utc = datetime.combine(today, time(), tzinfo=IST).astimezone(UTC)
        self._day_end_utc = self._day_start_utc + timedelta(days=1)
        if self._day == today:
            return
        if self._day is not None:
            for kind in DAY_LATCHES:
                self._unlatch(kind, f"new trading day {today.isoformat()}")
        self._day = today
        self._day_peak_pnl = 0.0
        self._acknowledged_trades = 0

    def _check_files(self) -> None:
        flag = self._kill_memo.read()
        if flag is not None:
            if self._latch(LatchKind.KILL, f"kill switch: {flag.reason}"):
                self._flatten_everything(f"kill switch: {flag.reason}")
        elif LatchKind.KILL in self._latches:
            self._unlatch(LatchKind.KILL, "kill flag removed (resume acknowledged)")
        ack = self._ack_memo.read()
        if ack is not None and ack != self._ack_seen:
            self._ack_seen = ack
            self._apply_acknowledgement(ack)

    def _apply_acknowledgement(self, ack: datetime) -> None:
        latch = self._latches.get(LatchKind.CONSECUTIVE_LOSSES)
        if latch is not None and latch.since <= ack and self._portfolio is not None:
            self._acknowledged_trades = len(self._portfolio.recent_trade_results())
            self._unlatch(LatchKind.CONSECUTIVE_LOSSES, "consecutive-loss lockout acknowledged")

    def acknowledge_resume(self, portfolio: RiskPortfolioView) -> None:
        """Operator lifts the consecutive-loss lockout (the kill flag is lifted by removing its file)."""
        self._acknowledged_trades = len(portfolio.recent_trade_results())
        self._unlatch(LatchKind.CONSECUTIVE_LOSSES, "consecutive-loss lockout acknowledged")
        self.refresh()

    # ---------------------------------------------------------------- actions
    def kill(self, reason: str) -> None:
        """Global kill switch: persist the flag, cancel everything, flatten, halt."""
        write_kill_flag(self.kill_file, reason, self.clock.now_utc())
        self.refresh()

    def _flatten_everything(self, reason: str) -> None:
        log.error("risk_flatten", reason=reason)
        self.callbacks.cancel_all(reason)
        if self._portfolio is None:
            return
        for position in self._portfolio.open_positions():
            if position.net_quantity == 0:
                continue
            intent = self._flatten_intent(position, reason)
            self.flatten_intents.append(intent)
            self.callbacks.flatten(intent)

    def _flatten_intent(self, position: PositionSnapshot, reason: str) -> OrderIntent:
        return flatten_intent(position, reason, self.clock.now_utc())

    # ------------------------------------------------------------ market feed
    def on_tick(self, tick: Tick) -> list[SpikeDetection]:
        """Ticks feed the VIX and price-spike windows (no volume: tick volume is cumulative)."""
        return self._observe_price(tick.symbol, "tick", tick.ts_utc, tick.ltp, None)

    def on_price(self, symbol: str, when: datetime, price: float) -> list[SpikeDetection]:
        """A last price without a tick (a bar-driven run's bar close): what `on_tick` does with it."""
        return self._observe_price(symbol, "tick", when, price, None)

    def on_bar(self, bar: Bar) -> list[SpikeDetection]:
        """A closed bar's close feeds its symbol's one price window (beside the ticks); its volume feeds
        a volume window kept per timeframe (a 1-hour volume is not compared with 1-minute ones)."""
        volume = float(bar.volume) if bar.volume else None
        return self._observe_price(bar.symbol, str(bar.timeframe), bar.ts_utc, bar.close, volume)

    def _is_vix(self, symbol: str) -> bool:
        return symbol.upper().replace(" ", "") == self._vix_symbol

    def _symbol_kind(self, symbol: str) -> int:
        """Whether a symbol's prices feed the VIX windows, a watched underlying's windows or nothing
        (option legs and unwatched instruments), memoised per symbol for the tick path."""
        kind = self._symbol_kinds.get(symbol)
        if kind is None:
            if self._is_vix(symbol):
                kind = _VIX
            elif symbol.upper() in self._watched_underlyings:
                kind = _WATCHED
            else:
                kind = _IGNORED
            self._symbol_kinds[symbol] = kind
        return kind

    def _observe_price(
        self, symbol: str, source: str, when: datetime, price: float, volume: float | None
    ) -> list[SpikeDetection]:
        """Every tick and bar passes here, so the common case (a price inside its window's bounds, files
        not due, nothing to re-derive) is a dictionary read, one window update and two clock reads."""
        kind = self._symbol_kinds.get(symbol)
        if kind is None:
            kind = self._symbol_kind(symbol)
        if kind == _WATCHED:
            detections = self._observe_watched(symbol, source, when, price, volume)
        elif kind == _VIX:
            detections = self._observe_vix(symbol, when, price)
        else:
            detections = []
        portfolio = self._portfolio
        if portfolio is not None and self._loss_limits_due():
            self._observe_portfolio(portfolio, open_risk_only=True)
        # the kill flag is read at most every `kill_file_check_seconds` on the tick path
        last_check = self._files_checked_at
        files_due = last_check is None or (
            self.clock.monotonic() - last_check >= self.risk.kill_file_check_seconds
        )
        if detections or files_due or self._refresh_due():
            self.refresh(check_files=files_due)
        return detections

    def _loss_limits_due(self) -> bool:
        """Whether `loss_limits_check_seconds` have passed since the price path last checked the loss
        limits: the marked portfolio moves with every price, but summing it on every tick is waste."""
        now = self.clock.monotonic()
        last = self._loss_limits_checked_at
        if last is not None and now - last < self.risk.loss_limits_check_seconds:
            return False
        self._loss_limits_checked_at = now
        return True

    def _observe_vix(self, symbol: str, when: datetime, price: float) -> list[SpikeDetection]:
        """A VIX price: the VIX levels, then the breaker and spike windows (each may latch)."""
        detections: list[SpikeDetection] = []
        self.update_vix(price, when)
        for detector in (self._vix_breaker, self._vix_spike):
            found = detector.update(symbol, when, price)
            if found is not None:
                detections.append(found)
        for found in detections:
            recover_below = found.baseline + self.risk.vix_recovery_margin_points
            self._on_spike(LatchKind(found.kind), found, recover_below_vix=recover_below)
        return detections

    def _observe_watched(
        self, symbol: str, source: str, when: datetime, price: float, volume: float | None
    ) -> list[SpikeDetection]:
        """A watched underlying's price (and a bar's volume, per timeframe): the flash-spike windows."""
        price_detector = self._price_detectors.get(symbol)
        if price_detector is None:
            price_detector = self._price_detectors[symbol] = PercentMoveDetector(
                self.risk.price_spike_pct, timedelta(minutes=self.risk.price_spike_window_minutes)
            )
        found_price = price_detector.update(symbol, when, price)
        if volume is None and found_price is None:  # a tick, or a bar without volume: nothing moved
            return []
        detections: list[SpikeDetection] = [] if found_price is None else [found_price]
        if volume is not None:
            volume_detector = self._volume_detectors.get((symbol, source))
            if volume_detector is None:
                volume_detector = self._volume_detectors[(symbol, source)] = VolumeSurgeDetector(
                    self.risk.volume_spike_pct,
                    timedelta(minutes=self.risk.volume_spike_window_minutes),
                    self.risk.volume_spike_min_samples,
                )
            found_volume = volume_detector.update(symbol, when, volume)
            if found_volume is not None:
                detections.append(found_volume)
        if detections:
            quiet = when + timedelta(minutes=self.risk.flash_spike_cooldown_minutes)
            for found in detections:
                self._on_spike(LatchKind(found.kind), found, quiet_until=quiet)
        return detections

    def _refresh_due(self) -> bool:
        """Whether a price at the clock's time needs `refresh` (files aside). What refresh derives
        moves with time only through the IST day, a latch's quiet period and the gradual resume; with
        none of them live and nothing changed since the last refresh (a latch, VIX: both clear
        `_refreshed_at`), a later price would re-derive the same state, so the per-bar path skips it."""
        refreshed = self._refreshed_at
        if refreshed is None:
            return True
        now = self.clock.now_utc()
        if refreshed == now:
            return False
        if self._latches or self._resume_started is not None:
            return True
        start, end = self._day_start_utc, self._day_end_utc
        return start is None or end is None or not start <= now < end

    def _on_spike(
        self,
        kind: LatchKind,
        found: SpikeDetection,
        recover_below_vix: float | None = None,
        quiet_until: datetime | None = None,
    ) -> None:
        reason = f"flash spike ({kind}): {found.detail}"
        if self._latch(kind, reason, recover_below_vix, quiet_until):
            self._flatten_everything(reason)

    def update_vix(self, vix: float, when: datetime | None = None) -> None:
        """Apply VIX levels (spec §4.3) and clear VIX latches whose recovery level is reached."""
        if vix <= 0:
            return
        if vix != self._vix:
            self._refreshed_at = None
        self._vix = vix
        r = self.risk
        if vix > r.vix_extreme:
            if self._latch(LatchKind.VIX_EXTREME, f"VIX {vix:.2f} extreme (> {r.vix_extreme:g})") and (
                r.flatten_on_extreme_vix
            ):
                self._flatten_everything(f"VIX {vix:.2f} extreme (> {r.vix_extreme:g})")
        elif LatchKind.VIX_EXTREME in self._latches:
            self._unlatch(LatchKind.VIX_EXTREME, f"VIX {vix:.2f} back at or below {r.vix_extreme:g}")
        for kind in (LatchKind.VIX_SPIKE, LatchKind.VIX_BREAKER):
            latch = self._latches.get(kind)
            if latch is not None and latch.recover_below_vix is not None and vix < latch.recover_below_vix:
                self._unlatch(
                    kind, f"VIX {vix:.2f} back below {latch.recover_below_vix:.2f} (threshold + margin)"
                )

    # ---------------------------------------------------------- portfolio
    def _observe_portfolio(self, portfolio: RiskPortfolioView, open_risk_only: bool = False) -> None:
        """Latch the day's loss, drawdown and losing-streak limits the marked portfolio has reached.

        `open_risk_only` (the price path): skip a flat book, whose P&L only moves with fills, and every
        fill is of an order that `evaluate` checked the portfolio for."""
        r = self.risk
        unrealised = portfolio.day_unrealised_pnl()
        if open_risk_only and unrealised == 0.0:
            return
        account = portfolio.account_value()
        if account <= 0:
            return
        self._current_day_rolled()  # a new day's first figure is its first peak, not reset after it
        day_pnl = portfolio.day_realised_pnl() + unrealised
        self._day_peak_pnl = max(self._day_peak_pnl, day_pnl)
        loss_pct = -day_pnl / account * 100
        if loss_pct >= r.daily_loss_limit_pct:
            self._latch(
                LatchKind.DAILY_LOSS,
                f"daily loss {loss_pct:.2f}% >= limit {r.daily_loss_limit_pct:g}% (until next day)",
            )
        drawdown_pct = (self._day_peak_pnl - day_pnl) / account * 100
        if drawdown_pct >= r.max_daily_drawdown_pct:
            reason = f"drawdown {drawdown_pct:.2f}% >= limit {r.max_daily_drawdown_pct:g}% (until next day)"
            if self._latch(LatchKind.DRAWDOWN, reason) and r.flatten_on_daily_drawdown:
                self._flatten_everything(reason)
        results = list(portfolio.recent_trade_results())[self._acknowledged_trades :]
        streak = 0
        for result in reversed(results):
            if result >= 0:
                break
            streak += 1
        if streak >= r.consecutive_loss_limit:
            self._latch(
                LatchKind.CONSECUTIVE_LOSSES,
                f"{streak} consecutive losing trades >= limit {r.consecutive_loss_limit} "
                "(resume with `optbot risk resume --ack` or next day)",
            )

    def hedge_suggestions(
        self, portfolio: RiskPortfolioView, market: RiskMarketView
    ) -> list[HedgeSuggestion]:
        positions = portfolio.open_positions()
        prices: dict[str, float] = {}
        lots: dict[str, int] = {}
        for position in positions:
            price = market.underlying_price(position.underlying)
            if price is not None:
                prices[position.underlying] = price
            lot = market.lot_size(position.token)
            if lot:
                lots.setdefault(position.underlying, lot)
        exposures = delta_exposures(
            positions, prices, portfolio.account_value(), self.risk.max_delta_notional_pct
        )
        suggestions = hedge_suggestions(exposures, lots, self.risk.hedge_option_delta)
        for suggestion in suggestions:
            log.warning("risk_hedge_suggestion", underlying=suggestion.underlying, reason=suggestion.reason)
        return suggestions

    # --------------------------------------------------------------- evaluate
    def evaluate(
        self,
        intent: OrderIntent,
        portfolio: RiskPortfolioView,
        market: RiskMarketView,
        margin_per_lot: float | None = None,
    ) -> RiskDecision:
        """`margin_per_lot`: the broker's margin calculator's figure for this trade (per lot), asked
        by the caller before the entry; without it the market view's estimate is used."""
        self._portfolio = portfolio
        vix = market.vix()
        if vix is not None:
            self.update_vix(vix)
        self._observe_portfolio(portfolio)
        self.refresh()
        if intent.purpose.reduces_risk:
            decision = self._evaluate_reducing(intent, portfolio)
        else:
            decision = self._evaluate_entry(intent, portfolio, market, margin_per_lot)
        self._record(intent, decision)
        return decision

    def _decision(
        self, intent: OrderIntent, approved: bool, quantity: int, reasons: Sequence[str]
    ) -> RiskDecision:
        return RiskDecision(
            ts_utc=self.clock.now_utc(),
            intent_id=intent.intent_id,
            approved=approved and quantity > 0,
            reasons=tuple(reasons),
            approved_quantity=quantity if approved else 0,
            risk_state=self.state,
            trace_id=intent.trace_id,
        )

    def _evaluate_reducing(self, intent: OrderIntent, portfolio: RiskPortfolioView) -> RiskDecision:
        """Exits are never blocked by state or limits; they are only kept from flipping the position:
        capped at the open quantity less what working orders on the same side may still close (an exit
        resumed after a restart, a flatten or an operator exit), so two exits never sell the same lots."""
        net = portfolio.net_quantity(intent.token)
        reduces = (net > 0 and intent.side is Side.SELL) or (net < 0 and intent.side is Side.BUY)
        if not reduces:
            return self._decision(
                intent,
                False,
                0,
                [
                    f"{intent.purpose} {intent.side} {intent.quantity} {intent.symbol} would open or add to "
                    "a "
                    f"position (net {net}), not reduce it: rejected as new risk in disguise"
                ],
            )
        working = portfolio.working_quantity(intent.token, intent.side)
        closable = max(0, abs(net) - working)
        if closable == 0:
            return self._decision(
                intent,
                False,
                0,
                [
                    f"an exit is already working for the whole open {abs(net)} {intent.symbol} ({working} "
                    f"on {intent.side} orders in flight): not sent twice, so the position cannot reverse"
                ],
            )
        quantity = min(intent.quantity, closable)
        reasons = [f"{intent.purpose} reduces risk: allowed in state {self.state}"]
        if quantity < intent.quantity:
            already = f"; an exit is already working for the other {working}" if working else ""
            reasons.append(
                f"capped at {quantity} of the open {abs(net)} so the exit cannot reverse the position"
                + already
            )
        return self._decision(intent, True, quantity, reasons)

    def _evaluate_entry(
        self,
        intent: OrderIntent,
        portfolio: RiskPortfolioView,
        market: RiskMarketView,
        margin_per_lot: float | None,
    ) -> RiskDecision:
        r = self.risk
        if self.state is RiskState.HALTED:
            return self._decision(
                intent,
                False,
                0,
                ["trading HALTED: no new risk", *(latch.reason for latch in self._latches.values())],
            )
        lot = market.lot_size(intent.token)
        if not lot or lot <= 0:
            return self._decision(
                intent, False, 0, [f"lot size of {intent.symbol} unknown: cannot size in lots"]
            )
        if intent.quantity <= 0 or intent.quantity % lot:
            return self._decision(
                intent,
                False,
                0,
                [f"quantity {intent.quantity} is not a positive whole number of lots of {lot}"],
            )
        limiter = _Limiter(intent.quantity // lot)
        now = self.clock.now_utc()
        self._check_session(limiter, market, now)
        positions = portfolio.open_positions()
        open_count = open_position_count(positions)
        adds_a_leg = any(p.owner == intent.strategy and p.net_quantity != 0 for p in positions)
        if not adds_a_leg and open_count >= r.max_concurrent_positions:
            limiter.fail(f"{open_count} open positions >= max {r.max_concurrent_positions}")
        if r.require_vix_for_entries and market.vix() is None and self._vix is None:
            limiter.fail("VIX unknown: volatility breakers are blind, no new risk")
        if market.is_option(intent.token):
            oi = market.open_interest(intent.token)
            if oi is None:
                limiter.fail(f"open interest of {intent.symbol} unknown: liquidity breaker cannot pass")
            elif oi < r.min_open_interest:
                limiter.fail(f"liquidity breaker: OI {oi} < {r.min_open_interest} contracts")
        price = intent.limit_price if intent.limit_price is not None else market.last_price(intent.token)
        account = portfolio.account_value()
        if price is None or price <= 0:
            limiter.fail(f"no price for {intent.symbol}: cannot value the trade")
        elif account <= 0:
            limiter.fail("account value unknown or not positive")
        else:
            self._check_notional(limiter, intent, positions, price * lot, account)
            self._check_margin(limiter, intent, portfolio, market, price, lot, margin_per_lot)
            self._check_naked_shorts(limiter, intent, positions, market, lot)
        if limiter.failures or limiter.allowed_lots <= 0:
            return self._decision(intent, False, 0, ["rejected", *limiter.failures, *limiter.reasons])
        approved = limiter.allowed_lots * lot
        lots = f"{limiter.allowed_lots} of {limiter.requested_lots} lots"
        summary = f"approved {lots} ({approved} qty) in state {self.state}"
        return self._decision(intent, True, approved, [summary, *limiter.reasons])

    def _check_session(self, limiter: _Limiter, market: RiskMarketView, now: datetime) -> None:
        if not self.risk.require_session_for_entries:
            return
        session = market.session()
        if session is None:
            limiter.fail("no trading session today")
            return
        buffers = self.settings.session
        earliest = session.open_utc + timedelta(minutes=buffers.no_entry_after_open_minutes)
        latest = session.close_utc - timedelta(minutes=buffers.no_new_entries_before_close_minutes)
        if not earliest <= now < latest:
            limiter.fail(
                f"outside the entry window {earliest.isoformat()} - {latest.isoformat()} "
                + f"(now {now.isoformat()})"
            )

    def _check_notional(
        self,
        limiter: _Limiter,
        intent: OrderIntent,
        positions: Sequence[PositionSnapshot],
        notional_per_lot: float,
        account: float,
    ) -> None:
        r = self.risk
        multiplier = self._size_multiplier
        per_trade_cap = account * r.max_trade_notional_pct / 100 * multiplier
        limiter.cap(
            self._scaled_lots(account * r.max_trade_notional_pct / 100, multiplier, notional_per_lot),
            f"per-trade cap {r.max_trade_notional_pct:g}% x size {multiplier:.2f} = {per_trade_cap:,.0f}",
        )
        if r.max_trade_notional_rupees is not None:
            rupee_cap = r.max_trade_notional_rupees * multiplier
            limiter.cap(
                self._scaled_lots(r.max_trade_notional_rupees, multiplier, notional_per_lot),
                f"per-trade rupee cap {rupee_cap:,.0f}",
            )
        gross = sum(p.notional for p in positions)
        total_room = account * r.max_total_notional_pct / 100 - gross
        limiter.cap(
            total_room / notional_per_lot,
            f"portfolio notional cap {r.max_total_notional_pct:g}% "
            + f"(open {gross:,.0f}, room {total_room:,.0f})",
        )
        exposure = exposure_by_underlying(positions)
        underlying = intent.underlying or intent.symbol
        used = exposure.get(underlying, 0.0)
        room = account * r.max_single_underlying_pct / 100 - used
        limiter.cap(
            room / notional_per_lot,
            f"{underlying} concentration cap {r.max_single_underlying_pct:g}% "
            + f"(open {used:,.0f}, room {room:,.0f})",
        )
        for group in r.correlation_groups:
            members = {name.upper() for name in group}
            if underlying.upper() not in members:
                continue
            group_used = sum(value for name, value in exposure.items() if name.upper() in members)
            group_room = account * r.max_correlated_exposure_pct / 100 - group_used
            limiter.cap(
                group_room / notional_per_lot,
                f"correlated group {'/'.join(group)} cap {r.max_correlated_exposure_pct:g}% "
                f"(open {group_used:,.0f}, room {group_room:,.0f})",
            )

    def margin_room(self, portfolio: RiskPortfolioView) -> tuple[float, float]:
        """(rupees of margin new risk may still use, the utilisation cap % in force): §10.5's cap on
        used / (used + available), shrunk by §4.4's buffer while VIX is at or above elevated."""
        r = self.risk
        used, available = portfolio.margin_used(), portfolio.margin_available()
        cap_pct = r.max_margin_utilisation_pct
        if self._vix is not None and self._vix >= r.vix_elevated:
            cap_pct *= 1 - r.high_vix_margin_buffer_pct / 100
        return min((used + available) * cap_pct / 100 - used, available), cap_pct

    def _scaled_lots(self, cap: float, multiplier: float, per_lot: float) -> float:
        """Lots a per-trade cap admits after the size multiplier; one lot stays allowed when the
        unscaled cap admits it and `size_multiplier_keeps_one_lot` is set (a multiplier > 0)."""
        lots = cap * multiplier / per_lot
        if self.risk.size_multiplier_keeps_one_lot and multiplier > 0 and cap / per_lot >= 1:
            return max(lots, 1.0)
        return lots

    def _check_naked_shorts(
        self,
        limiter: _Limiter,
        intent: OrderIntent,
        positions: Sequence[PositionSnapshot],
        market: RiskMarketView,
        lot: int,
    ) -> None:
        """Short option lots of one underlying and type not covered by bought ones stay within
        `max_naked_short_lots` (a hedged basket places its bought legs first)."""
        if intent.side is not Side.SELL or not market.is_option(intent.token):
            return
        option_type = market.option_type(intent.token)
        underlying = intent.underlying or intent.symbol
        net = 0
        for position in positions:
            if position.underlying == underlying and market.option_type(position.token) == option_type:
                net += position.net_quantity
        naked_before = max(-net, 0) / lot
        room = self.risk.max_naked_short_lots - naked_before
        covered = max(net, 0) / lot  # bought lots this sell can still be written against
        limiter.cap(
            room + covered,
            f"naked short cap {self.risk.max_naked_short_lots} lots of {underlying} {option_type} "
            f"(naked now {naked_before:g}, covered room {covered:g})",
        )

    def _check_margin(
        self,
        limiter: _Limiter,
        intent: OrderIntent,
        portfolio: RiskPortfolioView,
        market: RiskMarketView,
        price: float,
        lot: int,
        quoted_per_lot: float | None = None,
    ) -> None:
        r = self.risk
        used, available = portfolio.margin_used(), portfolio.margin_available()
        total = used + available
        if total <= 0:
            limiter.fail("margin unknown (used + available is 0)")
            return
        room, cap_pct = self.margin_room(portfolio)
        per_lot = quoted_per_lot
        if per_lot is None:
            per_lot = market.margin_required(intent.token, str(intent.side), lot, price)
        if per_lot is None:
            if intent.side is not Side.BUY:
                limiter.fail(f"margin for selling {intent.symbol} unknown: refusing to write options blind")
                return
            per_lot = price * lot
        if per_lot <= 0:
            return
        limiter.cap(
            room / per_lot,
            f"margin utilisation cap {cap_pct:.1f}% (used {used:,.0f} of {total:,.0f}, {per_lot:,.0f}/lot)",
        )
        if intent.side is Side.SELL:
            trade_cap = portfolio.account_value() * r.max_trade_margin_pct / 100
            limiter.cap(
                self._scaled_lots(trade_cap, self._size_multiplier, per_lot),
                f"per-trade margin cap {r.max_trade_margin_pct:g}% = {trade_cap:,.0f} ({per_lot:,.0f}/lot)",
            )

    def _record(self, intent: OrderIntent, decision: RiskDecision) -> None:
        self.decisions.append(decision)
        log.info(
            "risk_decision",
            intent_id=intent.intent_id,
            strategy=intent.strategy,
            symbol=intent.symbol,
            side=str(intent.side),
            purpose=str(intent.purpose),
            requested=intent.quantity,
            approved=decision.approved,
            approved_quantity=decision.approved_quantity,
            state=str(decision.risk_state),
            reasons=list(decision.reasons),
            intent_reason=intent.reason,
        )


def open_position_count(positions: Sequence[PositionSnapshot]) -> int:
    """Open positions as spec section 4.4 counts them: all contracts one strategy entered (a straddle's
    or a condor's legs) are one position; a contract with no known owner is one on its own."""
    owners = {p.owner or f"{p.exchange}:{p.token}" for p in positions if p.net_quantity != 0}
    return len(owners)

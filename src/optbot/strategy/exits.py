"""Exit management for one open option position, decided on the underlying (spec §10.4, §7.2, §4.2).

Initial stop 1 % of the underlying (0.5 % in high VIX, where the target may be set further out),
tightened to just beyond a key level when one lies inside it; breakeven after 0.5 % in favour; 50 % out
at 1:1 then trail; target at the configured reward/risk (minimum 1:2); time stop after 30 minutes
without movement; flat before the calendar close; exit on a VIX jump; close N days before expiry
(stock options always before expiry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from optbot.config.sections.strategy import StrategySettings
from optbot.core.enums import IntentPurpose, SignalDirection
from optbot.core.timeutil import to_ist
from optbot.risk.views import SessionTimes


class ExitKind(StrEnum):
    STOP = "stop"
    TARGET = "target"
    PARTIAL = "partial"
    TIME_STOP = "time_stop"
    SESSION_CLOSE = "session_close"
    VIX_JUMP = "vix_jump"
    EXPIRY = "expiry"


@dataclass(frozen=True, slots=True)
class ExitAction:
    kind: ExitKind
    quantity: int
    purpose: IntentPurpose
    reason: str


@dataclass(slots=True)
class ExitPlan:
    """Mutable per-position exit state; `evaluate` returns at most one action per call."""

    direction: SignalDirection  # BULLISH for a long CE, BEARISH for a long PE
    entry_time: datetime
    entry_underlying: float
    stop: float
    target: float
    initial_risk: float
    quantity: int
    lot_size: int
    entry_vix: float | None
    expiry: date | None
    physical_settlement: bool
    best_price: float
    partial_done: bool = False
    at_breakeven: bool = False
    notes: tuple[str, ...] = ()
    #: the rolling time stop's last step of progress: the price that made it and when (None: the entry)
    progress_price: float | None = None
    progress_time: datetime | None = None

    @property
    def sign(self) -> int:
        return 1 if self.direction is SignalDirection.BULLISH else -1

    def favourable_pct(self, price: float) -> float:
        return self.sign * (price - self.entry_underlying) / self.entry_underlying * 100


def plan_exits(
    settings: StrategySettings,
    direction: SignalDirection,
    entry_time: datetime,
    entry_underlying: float,
    quantity: int,
    lot_size: int,
    vix: float | None,
    high_vix_level: float,
    expiry: date | None,
    physical_settlement: bool,
    key_level: float | None = None,
    low_vix_level: float | None = None,
) -> ExitPlan:
    """Build the plan: stop on the underlying, target at >= min reward/risk, all reasons noted.
    `low_vix_level` (risk.vix_low): below it, `low_vix_stop_pct` (when set) replaces the initial stop."""
    if direction is SignalDirection.NEUTRAL:
        raise ValueError("an exit plan needs a BULLISH or BEARISH direction")
    sign = 1 if direction is SignalDirection.BULLISH else -1
    stop_pct = settings.initial_stop_pct
    notes = [f"initial stop {stop_pct:g}% of underlying"]
    reward_risk = settings.target_reward_risk
    if vix is not None and vix >= high_vix_level:
        stop_pct = min(stop_pct, settings.high_vix_stop_pct)
        notes.append(f"high VIX {vix:.2f}: stop tightened to {stop_pct:g}%")
        if settings.high_vix_target_reward_risk is not None:
            reward_risk = settings.high_vix_target_reward_risk
            notes.append(f"high VIX {vix:.2f}: target at 1:{reward_risk:g}")
    elif (
        vix is not None
        and low_vix_level is not None
        and vix < low_vix_level
        and settings.low_vix_stop_pct is not None
    ):
        stop_pct = settings.low_vix_stop_pct
        notes.append(f"low VIX {vix:.2f} (< {low_vix_level:g}): stop at {stop_pct:g}%")
    stop = entry_underlying * (1 - sign * stop_pct / 100)
    if key_level is not None:
        level_stop = key_level * (1 - sign * settings.level_stop_buffer_pct / 100)
        nearest = entry_underlying * (1 - sign * settings.min_stop_pct / 100)
        if sign * (nearest - level_stop) >= 0 and sign * (level_stop - stop) > 0:
            stop = level_stop
            notes.append(f"stop moved to {level_stop:.2f}, just beyond key level {key_level:.2f}")
        elif sign * (level_stop - nearest) > 0:
            stop = _nearer_to_entry(sign, stop, nearest)
            notes.append(
                f"key level {key_level:.2f} inside the {settings.min_stop_pct:g}% minimum: stop {stop:.2f}"
            )
    risk = abs(entry_underlying - stop)
    reward_risk = max(reward_risk, settings.min_reward_risk)
    target = entry_underlying + sign * risk * reward_risk
    notes.append(f"stop {stop:.2f}, target {target:.2f} (1:{reward_risk:g})")
    return ExitPlan(
        direction,
        entry_time,
        entry_underlying,
        stop,
        target,
        risk,
        quantity,
        lot_size,
        vix,
        expiry,
        physical_settlement,
        entry_underlying,
        notes=tuple(notes),
    )


def evaluate_exit(
    plan: ExitPlan,
    settings: StrategySettings,
    now: datetime,
    price: float,
    vix: float | None,
    session: SessionTimes | None,
    flatten_before_close_minutes: float,
) -> ExitAction | None:
    """Check every exit rule against the latest underlying price; the first rule that fires wins."""
    if plan.quantity <= 0:
        return None
    sign = plan.sign
    if sign * (price - plan.best_price) > 0:
        plan.best_price = price
    days_left = None if plan.expiry is None else (plan.expiry - to_ist(now).date()).days
    if days_left is not None:
        limit = settings.close_days_before_expiry
        if plan.physical_settlement:
            limit = max(limit, settings.stock_close_days_before_expiry)
        if days_left <= limit:
            kind = "stock option (physical settlement)" if plan.physical_settlement else "option"
            return _all(plan, ExitKind.EXPIRY, f"{kind} {days_left} day(s) to expiry <= {limit}: close")
    if session is not None:
        flat_at = session.close_utc - timedelta(minutes=flatten_before_close_minutes)
        if now >= flat_at:
            return _all(
                plan,
                ExitKind.SESSION_CLOSE,
                f"{flatten_before_close_minutes:g} min before the "
                f"{to_ist(session.close_utc):%H:%M} close: flat",
            )
    if (
        vix is not None
        and plan.entry_vix is not None
        and vix - plan.entry_vix > settings.vix_jump_exit_points
    ):
        return _all(
            plan,
            ExitKind.VIX_JUMP,
            f"VIX jumped {vix - plan.entry_vix:.2f} points since entry (> {settings.vix_jump_exit_points:g})",
        )
    if sign * (price - plan.stop) <= 0:
        if plan.partial_done and sign * (plan.stop - plan.entry_underlying) > 0:
            label = "trailing stop"
        elif plan.at_breakeven:
            label = "breakeven stop"
        else:
            label = "stop"
        return _all(
            plan, ExitKind.STOP, f"underlying {price:.2f} hit {label} {plan.stop:.2f}", IntentPurpose.STOP
        )
    if sign * (price - plan.target) >= 0:
        return _all(
            plan,
            ExitKind.TARGET,
            f"underlying {price:.2f} reached target {plan.target:.2f}",
            IntentPurpose.TARGET,
        )
    favourable = plan.favourable_pct(price)
    if (
        not plan.partial_done
        and sign * (price - plan.entry_underlying) >= plan.initial_risk * settings.partial_exit_reward_risk
    ):
        plan.partial_done = True
        plan.at_breakeven = True
        plan.stop = _tighter(plan, plan.entry_underlying)
        lots = plan.quantity // plan.lot_size
        partial_lots = math.floor(lots * settings.partial_exit_fraction)
        if partial_lots >= 1:
            quantity = partial_lots * plan.lot_size
            plan.quantity -= quantity
            return ExitAction(
                ExitKind.PARTIAL,
                quantity,
                IntentPurpose.TARGET,
                f"1:{settings.partial_exit_reward_risk:g} reached at {price:.2f}: take "
                f"{settings.partial_exit_fraction:.0%} ({partial_lots} of {lots} lots), trail the rest from "
                f"{plan.stop:.2f}",
            )
    if not plan.at_breakeven and favourable >= settings.breakeven_after_pct:
        plan.at_breakeven = True
        plan.stop = _tighter(plan, plan.entry_underlying)
    if plan.partial_done:
        trail = plan.best_price * (1 - sign * settings.trail_stop_pct / 100)
        plan.stop = _tighter(plan, trail)
    if settings.time_stop_rolling:
        return _rolling_time_stop(plan, settings, now, price)
    best_move = plan.favourable_pct(plan.best_price)
    if now - plan.entry_time >= timedelta(minutes=settings.time_stop_minutes) and (
        best_move < settings.time_stop_min_move_pct
    ):
        return _all(
            plan,
            ExitKind.TIME_STOP,
            f"no movement in {settings.time_stop_minutes:g} min (best {best_move:+.2f}% < "
            f"{settings.time_stop_min_move_pct:g}%)",
        )
    return None


def _rolling_time_stop(
    plan: ExitPlan, settings: StrategySettings, now: datetime, price: float
) -> ExitAction | None:
    """Spec §10.4 'close if no movement in 30 minutes', as a rolling window: each further
    time_stop_min_move_pct in favour (of the entry price) beyond the last step restarts the clock, so a
    trade that moved early and then stalled is closed too, not only one that never moved."""
    mark = plan.entry_underlying if plan.progress_price is None else plan.progress_price
    since = plan.entry_time if plan.progress_time is None else plan.progress_time
    step_pct = plan.sign * (price - mark) / plan.entry_underlying * 100
    if step_pct >= settings.time_stop_min_move_pct:
        plan.progress_price, plan.progress_time = price, now
        return None
    if now - since < timedelta(minutes=settings.time_stop_minutes):
        return None
    return _all(
        plan,
        ExitKind.TIME_STOP,
        f"no movement in the last {settings.time_stop_minutes:g} min "
        f"(under {settings.time_stop_min_move_pct:g}% beyond {mark:.2f} since {to_ist(since):%H:%M})",
    )


def _nearer_to_entry(sign: int, current: float, candidate: float) -> float:
    """The stop closer to the entry of the two, for a position of direction `sign`."""
    return max(current, candidate) if sign > 0 else min(current, candidate)


def _tighter(plan: ExitPlan, candidate: float) -> float:
    """Stops only ever move in the position's favour."""
    return max(plan.stop, candidate) if plan.sign > 0 else min(plan.stop, candidate)


def _all(
    plan: ExitPlan, kind: ExitKind, reason: str, purpose: IntentPurpose = IntentPurpose.EXIT
) -> ExitAction:
    quantity = plan.quantity
    plan.quantity = 0
    return ExitAction(kind, quantity, purpose, reason)


def restored_plan(
    settings: StrategySettings,
    direction: SignalDirection,
    entry_time: datetime,
    entry_underlying: float,
    quantity: int,
    lot_size: int,
    expiry: date | None,
    physical_settlement: bool,
    recorded: tuple[float, float] | None,
    entry_vix: float | None,
) -> ExitPlan:
    """The plan of a position entered before a restart. With the (stop, target) `recorded` at entry it
    is that plan again; without them (entries made before plans were recorded) a conservative one: the
    tightest initial stop the settings allow at any VIX, and its target at the configured reward/risk."""
    if direction is SignalDirection.NEUTRAL:
        raise ValueError("an exit plan needs a BULLISH or BEARISH direction")
    sign = 1 if direction is SignalDirection.BULLISH else -1
    if recorded is not None:
        stop, target = recorded
        note = f"restored after a restart: stop {stop:.2f}, target {target:.2f} as planned at entry"
    else:
        stop_pct = min(
            settings.initial_stop_pct,
            settings.high_vix_stop_pct,
            settings.low_vix_stop_pct if settings.low_vix_stop_pct is not None else math.inf,
        )
        stop = entry_underlying * (1 - sign * stop_pct / 100)
        reward_risk = max(settings.target_reward_risk, settings.min_reward_risk)
        target = entry_underlying + sign * abs(entry_underlying - stop) * reward_risk
        note = (
            f"restored after a restart without the entry's recorded plan: conservative stop {stop_pct:g}% "
            f"({stop:.2f}), target {target:.2f} (1:{reward_risk:g})"
        )
    return ExitPlan(
        direction,
        entry_time,
        entry_underlying,
        stop,
        target,
        abs(entry_underlying - stop),
        quantity,
        lot_size,
        entry_vix,
        expiry,
        physical_settlement,
        entry_underlying,
        notes=(note,),
    )


def resume_progress(
    plan: ExitPlan, settings: StrategySettings, best_price: float, partly_closed: bool
) -> None:
    """Carry a restored plan's one-way state forward to what happened before the restart: the best
    underlying price since entry (the trail's anchor), breakeven once it was reached, and the partial
    exit when part of the position was already sold. Stops only tighten."""
    if plan.sign * (best_price - plan.best_price) > 0:
        plan.best_price = best_price
    if partly_closed:
        plan.partial_done = True
    if partly_closed or plan.favourable_pct(plan.best_price) >= settings.breakeven_after_pct:
        plan.at_breakeven = True
        plan.stop = _tighter(plan, plan.entry_underlying)
    if plan.partial_done:
        plan.stop = _tighter(plan, plan.best_price * (1 - plan.sign * settings.trail_stop_pct / 100))

"""What a strategy may see and do, and a reference context that makes look-ahead impossible.

`StrategyContext` is the only door to the world: closed bars, option chains, positions, risk state,
the clock, and `submit(intent)`. `BarHistoryContext` holds *only* bars whose interval has ended on
the clock, refuses anything else when it is added, and filters again when read, so a strategy cannot
see a bar before it closed even if a caller feeds history early.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Protocol

import structlog

from optbot.core.clock import Clock
from optbot.core.enums import RiskState, Side, Timeframe
from optbot.core.events import Bar, OrderIntent, Signal
from optbot.core.instrument import Instrument
from optbot.instruments.chain import OptionChain
from optbot.instruments.expiry_choice import ExpiryChoice
from optbot.risk.views import PositionSnapshot, SessionTimes

log = structlog.get_logger("optbot.strategy")


class LookAheadError(ValueError):
    """A bar was offered to a strategy before its interval ended on the clock."""


class StrategyContext(Protocol):
    """Everything a strategy may see or do. Bars are closed bars only, oldest first."""

    def now_utc(self) -> datetime: ...

    def bars(self, symbol: str, timeframe: Timeframe, count: int) -> Sequence[Bar]: ...

    def chain(self, underlying: str, expiry: ExpiryChoice | None = None) -> OptionChain | None:
        """The listed chain of the trading expiry, or of `expiry` (current/next weekly, monthly, next
        monthly); raises instruments.expiry_choice.ExpiryUnavailable when that expiry is not listed."""
        ...

    def positions(self) -> Sequence[PositionSnapshot]: ...

    def risk_state(self) -> RiskState: ...

    def size_multiplier(self) -> float:
        """The risk engine's current size multiplier (VIX bands, gradual resume)."""
        ...

    def vix(self) -> float | None: ...

    def account_value(self) -> float: ...

    def session(self) -> SessionTimes | None: ...

    def submit(self, intent: OrderIntent) -> None: ...

    def submit_basket(self, intents: Sequence[OrderIntent], label: str) -> None:
        """Legs placed as one unit: margin for all first, bought legs first, unwound if one fails."""
        ...

    def emit(self, signal: Signal) -> None: ...


@dataclass
class BarHistoryContext:
    """In-memory context over closed bars. Used by tests, replays and (later) the engine and backtest.

    `submit_sink` receives every submitted intent (e.g. the risk engine + order manager); submitted
    intents and emitted signals are also kept in `intents` / `signals` for inspection.
    """

    clock: Clock
    max_bars: int = 5000
    account: float = 1_000_000.0
    current_vix: float | None = None
    current_risk_state: RiskState = RiskState.ACTIVE
    current_size_multiplier: float = 1.0
    current_session: SessionTimes | None = None
    submit_sink: Callable[[OrderIntent], None] | None = None
    intents: list[OrderIntent] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    open_positions: dict[str, PositionSnapshot] = field(default_factory=dict)
    chains: dict[str, OptionChain] = field(default_factory=dict)
    #: chains for an explicit expiry choice, keyed (underlying, choice); `chains` answers the rest
    chains_by_expiry: dict[tuple[str, str], OptionChain] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    _history: dict[tuple[str, Timeframe], deque[Bar]] = field(default_factory=dict)

    def forget_symbols(self, symbols: Iterable[str]) -> int:
        """Drop the bar history of symbols that will not trade again (expired contracts), so a long
        backtest keeps history for the listed contracts only. Returns the histories dropped."""
        gone = {symbol.upper() for symbol in symbols}
        keys = [key for key in self._history if key[0].upper() in gone]
        for key in keys:
            del self._history[key]
        return len(keys)

    def add_bar(self, bar: Bar) -> None:
        """Record a closed bar. Raises LookAheadError for an incomplete or not-yet-ended bar."""
        now = self.clock.now_utc()
        if not bar.complete:
            raise LookAheadError(f"{bar.symbol} {bar.timeframe} bar at {bar.start_utc} is not complete")
        if bar.end_utc > now:
            raise LookAheadError(
                f"{bar.symbol} {bar.timeframe} bar ending {bar.end_utc.isoformat()} "
                f"offered at {now.isoformat()}"
            )
        key = (bar.symbol, bar.timeframe)
        history = self._history.get(key)
        if history is None:  # not setdefault: that would build an empty deque at every bar
            history = self._history[key] = deque(maxlen=self.max_bars)
        elif history and bar.start_utc <= history[-1].start_utc:
            raise ValueError(
                f"{bar.symbol} {bar.timeframe} bar at {bar.start_utc.isoformat()} is not after the last one"
            )
        history.append(bar)

    def now_utc(self) -> datetime:
        return self.clock.now_utc()

    def bars(self, symbol: str, timeframe: Timeframe, count: int) -> Sequence[Bar]:
        if count <= 0:
            return []
        history = self._history.get((symbol, timeframe))
        if not history:
            return []
        now = self.clock.now_utc()
        # the last count + 1 bars, taken from the deque's end (not a copy of all `max_bars` of it)
        recent = list(islice(reversed(history), count + 1))
        recent.reverse()
        closed = [bar for bar in recent if bar.end_utc <= now]
        return closed[-count:]

    def latest_bar(self, symbol: str, timeframe: Timeframe) -> Bar | None:
        found = self.bars(symbol, timeframe, 1)
        return found[-1] if found else None

    def chain(self, underlying: str, expiry: ExpiryChoice | None = None) -> OptionChain | None:
        if expiry is not None and (underlying, expiry) in self.chains_by_expiry:
            return self.chains_by_expiry[(underlying, expiry)]
        return self.chains.get(underlying)

    def positions(self) -> Sequence[PositionSnapshot]:
        return [position for position in self.open_positions.values() if position.net_quantity != 0]

    def risk_state(self) -> RiskState:
        return self.current_risk_state

    def size_multiplier(self) -> float:
        return self.current_size_multiplier

    def vix(self) -> float | None:
        return self.current_vix

    def account_value(self) -> float:
        return self.account

    def session(self) -> SessionTimes | None:
        return self.current_session

    def submit(self, intent: OrderIntent) -> None:
        log.info(
            "strategy_intent",
            strategy=intent.strategy,
            symbol=intent.symbol,
            side=str(intent.side),
            quantity=intent.quantity,
            purpose=str(intent.purpose),
            reason=intent.reason,
        )
        self.intents.append(intent)
        if self.submit_sink is not None:
            self.submit_sink(intent)

    def submit_basket(self, intents: Sequence[OrderIntent], label: str) -> None:
        """Without an execution layer behind it, the legs are submitted bought (hedge) legs first."""
        log.info("strategy_basket", label=label, legs=len(intents))
        for intent in sorted(intents, key=lambda item: item.side is not Side.BUY):
            self.submit(intent)

    def emit(self, signal: Signal) -> None:
        log.info(
            "strategy_signal",
            strategy=signal.strategy,
            underlying=signal.underlying,
            direction=str(signal.direction),
            reason=signal.reason,
        )
        self.signals.append(signal)

    def set_position(self, position: PositionSnapshot) -> None:
        """Positions change only on confirmed fills: the caller (portfolio / replay) sets them."""
        if position.net_quantity == 0:
            self.open_positions.pop(position.token, None)
        else:
            self.open_positions[position.token] = position

"""Runs several strategies side by side; one failing strategy is paused, the rest keep running."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import structlog

from optbot.core.events import Bar, Fill, OrderIntent, Tick
from optbot.strategy.adoption import PositionOrigin
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext

log = structlog.get_logger("optbot.strategy.runner")


@dataclass(frozen=True, slots=True)
class PausedStrategy:
    name: str
    hook: str
    error: str


class StrategyRunner:
    """Dispatches every hook to every active strategy, isolating failures."""

    def __init__(
        self,
        strategies: Sequence[Strategy],
        ctx: StrategyContext,
        on_pause: Callable[[PausedStrategy], None] | None = None,
    ) -> None:
        """`on_pause` lets the engine act on a paused strategy's open positions (no longer managed)."""
        names = [strategy.name for strategy in strategies]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"strategy names must be unique, repeated: {', '.join(duplicates)}")
        self.strategies = list(strategies)
        # Ticks arrive for every subscribed contract; only strategies that want them get them.
        self._tick_strategies = [strategy for strategy in self.strategies if strategy.wants_ticks()]
        #: Whether any strategy wants ticks (a bar-driven run builds a tick from a bar's close only then).
        self.wants_ticks = bool(self._tick_strategies)
        self.ctx = ctx
        self.paused: dict[str, PausedStrategy] = {}
        self.on_pause = on_pause

    def active(self) -> list[Strategy]:
        return [strategy for strategy in self.strategies if strategy.name not in self.paused]

    def _call(self, strategy: Strategy, hook: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # one strategy's bug must not stop the others
            self._pause(strategy, hook, exc)

    def _pause(self, strategy: Strategy, hook: str, exc: Exception) -> None:
        detail = f"{type(exc).__name__}: {exc}"
        paused = PausedStrategy(strategy.name, hook, detail)
        first_time = strategy.name not in self.paused
        self.paused[strategy.name] = paused
        log.exception("strategy_paused", strategy=strategy.name, hook=hook, error=detail)
        if first_time and self.on_pause is not None:
            self.on_pause(paused)

    def start(self) -> None:
        for strategy in self.active():
            self._call(strategy, "on_start", partial(strategy.on_start, self.ctx))

    def on_bar(self, bar: Bar) -> None:
        """Every closed bar to every active strategy (inline, not through `_call`: it runs per bar)."""
        ctx, paused = self.ctx, self.paused
        for strategy in self.strategies:
            if strategy.name in paused:
                continue
            try:
                strategy.on_bar(ctx, bar)
            except Exception as exc:  # one strategy's bug must not stop the others
                self._pause(strategy, "on_bar", exc)

    def on_tick(self, tick: Tick) -> None:
        ctx, paused = self.ctx, self.paused
        for strategy in self._tick_strategies:
            if strategy.name in paused:
                continue
            try:
                strategy.on_tick(ctx, tick)
            except Exception as exc:  # one strategy's bug must not stop the others
                self._pause(strategy, "on_tick", exc)

    def on_fill(self, fill: Fill, strategy_name: str) -> None:
        """Route a fill to the strategy that owns the intent (even a paused one must learn its fills)."""
        for strategy in self.strategies:
            if strategy.name == strategy_name:
                self._call(strategy, "on_fill", partial(strategy.on_fill, self.ctx, fill))

    def on_reject(self, intent: OrderIntent, reasons: tuple[str, ...]) -> None:
        """Tell the owning strategy its intent was refused (by risk, RMS or the broker)."""
        for strategy in self.strategies:
            if strategy.name == intent.strategy:
                self._call(strategy, "on_reject", partial(strategy.on_reject, self.ctx, intent, reasons))

    def on_exit_capped(self, intent: OrderIntent, approved_quantity: int, reasons: tuple[str, ...]) -> None:
        """Tell the owning strategy only part of its exit was sent (see `Strategy.on_exit_capped`)."""
        for strategy in self.strategies:
            if strategy.name == intent.strategy:
                self._call(
                    strategy,
                    "on_exit_capped",
                    partial(strategy.on_exit_capped, self.ctx, intent, approved_quantity, reasons),
                )

    def running(self, name: str) -> Strategy | None:
        """The active (not paused) strategy of that name, if any: the one that may take back a position."""
        if not name or name in self.paused:
            return None
        return next((strategy for strategy in self.strategies if strategy.name == name), None)

    def adopt(self, strategy: Strategy, origin: PositionOrigin) -> bool:
        """Hand `strategy` an open position it entered before a restart; False when it declined or
        failed (a failure pauses it, as any hook's does)."""
        adopted: list[bool] = []
        self._call(
            strategy, "adopt_position", lambda: adopted.append(strategy.adopt_position(self.ctx, origin))
        )
        return bool(adopted and adopted[0])

    def on_timer(self, name: str) -> None:
        for strategy in self.active():
            self._call(strategy, "on_timer", partial(strategy.on_timer, self.ctx, name))

    def stop(self) -> None:
        for strategy in self.strategies:
            self._call(strategy, "on_stop", partial(strategy.on_stop, self.ctx))

    def resume(self, name: str) -> bool:
        """Un-pause a strategy after its problem was fixed; False if it was not paused."""
        if self.paused.pop(name, None) is None:
            return False
        log.warning("strategy_resumed", strategy=name)
        return True

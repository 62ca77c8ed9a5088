"""The Strategy interface. Strategies are pure decision code: they read the context and submit intents."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel

from optbot.config import Settings
from optbot.core.enums import Timeframe
from optbot.core.events import Bar, Fill, OrderIntent, Tick
from optbot.instruments.expiry_choice import ExpiryChoice
from optbot.strategy.adoption import PositionOrigin
from optbot.strategy.context import StrategyContext
from optbot.strategy.tunable import Tunable


class Strategy(ABC):
    """Base class. `on_bar` is required; the other hooks default to doing nothing on purpose.

    A strategy must never do I/O or read the wall clock: `ctx.now_utc()` is the only time, and
    `ctx.submit(...)` the only way to act.
    """

    #: Registry name (settings.strategy.enabled uses it); an instance `NAME@ID` is named `NAME@ID`.
    name: ClassVar[str] = ""
    #: True when the strategy holds nothing overnight and its decisions in a session depend only on
    #: market data, never on earlier sessions' trading (P&L, trade counts): a backtest may then replay
    #: its sessions in separate processes with the same result (`optbot.backtest.parallel`).
    sessions_independent: ClassVar[bool] = False
    #: This strategy's own typed, frozen settings model (a pydantic model with defaults), if any;
    #: `[strategy.instances.ID]` values are validated against it for each `NAME@ID` instance.
    settings_model: ClassVar[type[BaseModel] | None] = None
    #: Settings a parameter search may vary (`optbot research optimise`), with their ranges.
    tunables: ClassVar[tuple[Tunable, ...]] = ()

    def __init__(self, settings: Settings, config: BaseModel | None = None) -> None:
        self.settings = settings
        model = type(self).settings_model
        #: The instance's validated settings (the model's defaults when no instance values are given).
        self.config = config if config is not None or model is None else model()

    def decision_timeframe(self) -> Timeframe | None:
        """The bar timeframe this strategy enters and manages trades on, or None when any intraday
        bar will do (the default). A backtest checks its data against it: built from finer bars where
        they exist, and a day whose bars are coarser is declared as one where it cannot enter."""
        return None

    def decision_timeframe_adapts(self) -> bool:
        """Whether, on a day whose finest bars are coarser than `decision_timeframe()` (e.g. 15-minute
        history under 5-minute entries), the strategy decides on the finest bars the day has that are
        at least as coarse instead of not entering; default False (the backtest declares such days)."""
        return False

    def underlyings_traded(self) -> tuple[str, ...] | None:
        """The underlyings this strategy trades whatever the run's universe is (a legs file's own
        underlying), or None when it trades the universe it is given (the default: the directional
        strategies). A backtest without `--underlying` replays only these when every strategy names
        its own, so it neither replays nor warns about an index nobody trades."""
        return None

    def expiries_watched(self) -> dict[str, tuple[ExpiryChoice, ...]]:
        """Expiries (by choice, per underlying) whose strikes near the money the feed must carry besides
        the trading expiry; default none (a strategy that reads only `ctx.chain(underlying)`)."""
        return {}

    def on_start(self, ctx: StrategyContext) -> None:
        """Called once before the first bar; default keeps no start-up state."""
        return None

    @abstractmethod
    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """Called for every closed bar of a subscribed symbol/timeframe."""

    def wants_ticks(self) -> bool:
        """Whether the runner calls `on_tick` (a bar-driven run makes a tick of each bar close only for
        strategies that want them); default: when the class overrides `on_tick`."""
        return type(self).on_tick is not Strategy.on_tick

    def on_tick(self, ctx: StrategyContext, tick: Tick) -> None:
        """Optional: most strategies decide on closed bars only and ignore ticks."""
        return None

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        """Called for each confirmed fill of this strategy's orders; default tracks nothing."""
        return None

    def on_reject(self, ctx: StrategyContext, intent: OrderIntent, reasons: tuple[str, ...]) -> None:
        """Called when risk or the broker refused one of this strategy's intents; default forgets it."""
        return None

    def on_exit_capped(
        self, ctx: StrategyContext, intent: OrderIntent, approved_quantity: int, reasons: tuple[str, ...]
    ) -> None:
        """Called when risk sent only `approved_quantity` of this strategy's exit `intent` (the rest is
        already being closed by another working exit, or is not held): the rest was not sent, so a
        strategy that counts it as exiting should take it back and exit it later if still held; default
        does nothing."""
        return None

    def manages_position(self, token: str) -> bool:
        """Whether this strategy manages an open position in `token` right now (its own exits run on
        it); default False: a strategy that keeps no trades of its own."""
        return False

    def adopts_positions(self) -> bool:
        """Whether this strategy takes back, after a restart, positions it entered earlier (the class
        overrides `adopt_position`); the engine reports the others' positions as left to them."""
        return type(self).adopt_position is not Strategy.adopt_position

    def adopt_position(self, ctx: StrategyContext, origin: PositionOrigin) -> bool:
        """Take back an open position this strategy entered but does not know (the process restarted,
        or an entry sent before it filled after). Returns whether it now manages the position; default
        False: the engine reports it unmanaged and the end-of-day flatten closes it."""
        return False

    def on_timer(self, ctx: StrategyContext, name: str) -> None:
        """Called for named timers (e.g. 'pre_close', 'eod'); default ignores them."""
        return None

    def on_stop(self, ctx: StrategyContext) -> None:
        """Called once at shutdown; default holds nothing to release."""
        return None

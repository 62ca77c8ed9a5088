"""The Python strategy of docs/strategies.md, kept here so its test proves the guide runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from optbot.core.enums import IntentPurpose, OptionType, Side, Timeframe
from optbot.core.events import Bar, Fill
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext
from optbot.strategy.intents import build_intent, lots


class BreakoutSettings(BaseModel):
    """This strategy's own settings: typed, frozen, with defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    underlying: str = "NIFTY"
    lookback_bars: int = Field(default=12, ge=2)
    lots: int = Field(default=1, ge=1)


class Breakout(Strategy):
    """Buy the ATM call when the 5-minute close breaks the recent high."""

    name = "breakout"
    settings_model = BreakoutSettings

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        p = self.config  # a BreakoutSettings (the defaults, or [strategy.instances.ID])
        assert isinstance(p, BreakoutSettings)
        if bar.symbol != p.underlying or bar.timeframe is not Timeframe.M5:
            return
        if any(position.underlying == p.underlying for position in ctx.positions()):
            return
        history = ctx.bars(p.underlying, Timeframe.M5, p.lookback_bars + 1)
        if len(history) <= p.lookback_bars or bar.close <= max(b.high for b in history[:-1]):
            return
        chain = ctx.chain(p.underlying)
        if chain is None or not chain.strikes:
            return
        contract = chain.row(chain.atm(bar.close)).contract(OptionType.CE)
        if contract is None:
            return
        ctx.submit(
            build_intent(
                ctx,
                self.name,
                contract,
                Side.BUY,
                lots(contract, p.lots),
                IntentPurpose.ENTRY,
                f"close {bar.close:.2f} broke the {p.lookback_bars}-bar high",
                underlying_price=bar.close,
            )
        )

    def on_fill(
        self, ctx: StrategyContext, fill: Fill
    ) -> None: ...  # remember the entry, set stops; exits are intents with purpose STOP / TARGET / EXIT

"""Small deterministic strategies the backtest tests run by `module:Class` name."""

from __future__ import annotations

from datetime import time

from optbot.config import Settings
from optbot.core.enums import IntentPurpose, OrderType, Side, Timeframe
from optbot.core.events import Bar, Fill, OrderIntent
from optbot.core.ids import new_id
from optbot.core.instrument import Instrument
from optbot.core.timeutil import to_ist
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext

ENTRY_AT = time(10, 0)
EXIT_AT = time(14, 0)


class TimedAtmCall(Strategy):
    """Buys one lot of each universe underlying's ATM call on the 15-minute bar that closes at 10:00
    IST and sells it on the one that closes at 14:00 IST, every session. Holds nothing overnight and
    reads only the day's bars, so its sessions are independent."""

    name = "timed_atm_call"
    sessions_independent = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.underlyings = {name.upper() for name in settings.universe.underlyings}
        self.held: dict[str, tuple[Instrument, int]] = {}
        self.entries: dict[str, Instrument] = {}

    def _intent(self, ctx: StrategyContext, contract: Instrument, side: Side, quantity: int) -> OrderIntent:
        return OrderIntent(
            ts_utc=ctx.now_utc(),
            intent_id=new_id(),
            strategy=self.name,
            token=contract.token,
            exchange=contract.exchange,
            symbol=contract.symbol,
            side=side,
            quantity=quantity,
            purpose=IntentPurpose.ENTRY if side is Side.BUY else IntentPurpose.EXIT,
            order_type=OrderType.MARKET,
            underlying=contract.underlying,
            option_type=contract.option_type,
            reason=f"test: timed {side.value.lower()}",
        )

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if bar.timeframe is not Timeframe.M15 or bar.symbol not in self.underlyings:
            return
        closes = to_ist(bar.end_utc).time()
        held = [contract for contract, _ in self.held.values() if contract.underlying == bar.symbol]
        pending = [contract for contract in self.entries.values() if contract.underlying == bar.symbol]
        if closes == ENTRY_AT and not held and not pending:
            chain = ctx.chain(bar.symbol)
            if chain is None or not chain.strikes:
                return
            contract = chain.row(chain.nearest_strikes(1, bar.close)[0]).call
            if contract is not None:
                intent = self._intent(ctx, contract, Side.BUY, contract.lot_size)
                self.entries[intent.intent_id] = contract
                ctx.submit(intent)
        elif closes == EXIT_AT:
            for contract, quantity in list(self.held.values()):
                if contract.underlying == bar.symbol:
                    ctx.submit(self._intent(ctx, contract, Side.SELL, quantity))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        contract = self.entries.pop(fill.intent_id or "", None)
        if contract is not None:
            held = self.held.get(contract.token, (contract, 0))[1]
            self.held[contract.token] = (contract, held + fill.quantity)
        elif fill.token in self.held:
            contract, held = self.held[fill.token]
            if held - fill.quantity > 0:
                self.held[fill.token] = (contract, held - fill.quantity)
            else:
                del self.held[fill.token]

    def on_reject(self, ctx: StrategyContext, intent: OrderIntent, reasons: tuple[str, ...]) -> None:
        self.entries.pop(intent.intent_id, None)

    def on_timer(self, ctx: StrategyContext, name: str) -> None:
        if name == "flatten":
            self.entries.clear()

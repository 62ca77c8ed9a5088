"""Adapters that show the engine's state to the strategies and to the risk engine.

`EngineContext` is the strategies' `StrategyContext` over the engine's live objects (closed bars from
`BarHistoryContext`, chains and VIX from `MarketState`, positions from the portfolio, the risk state);
`PortfolioRiskView` is the risk engine's `RiskPortfolioView` over the persisted portfolio and funds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from optbot.core.enums import RiskState, Side
from optbot.core.events import OrderIntent, Signal
from optbot.core.ids import new_id
from optbot.core.timeutil import ist_date
from optbot.engine.market import MarketState
from optbot.instruments.chain import OptionChain
from optbot.instruments.expiry_choice import ExpiryChoice
from optbot.log import bind_trace
from optbot.persistence.records import OrderRecord, working_quantity
from optbot.portfolio.portfolio import Portfolio
from optbot.risk.views import PositionSnapshot, SessionTimes
from optbot.strategy.context import BarHistoryContext

RiskStateSource = Callable[[], tuple[RiskState, float]]


@dataclass
class EngineContext(BarHistoryContext):
    """Closed bars as in `BarHistoryContext`; everything else read live from the engine."""

    market: MarketState | None = None
    risk_source: RiskStateSource | None = None
    account_source: Callable[[], float] | None = None
    signal_sink: Callable[[Signal], None] | None = None
    basket_sink: Callable[[Sequence[OrderIntent], str], None] | None = None
    extra_size_multiplier: Callable[[], float] | None = None
    _trace_by_strategy: dict[str, str] = field(default_factory=dict)

    def chain(self, underlying: str, expiry: ExpiryChoice | None = None) -> OptionChain | None:
        return self.market.chain(underlying, expiry) if self.market is not None else None

    def vix(self) -> float | None:
        return self.market.vix() if self.market is not None else self.current_vix

    def session(self) -> SessionTimes | None:
        return self.market.session() if self.market is not None else self.current_session

    def risk_state(self) -> RiskState:
        return self.risk_source()[0] if self.risk_source is not None else self.current_risk_state

    def size_multiplier(self) -> float:
        base = self.risk_source()[1] if self.risk_source is not None else self.current_size_multiplier
        extra = self.extra_size_multiplier() if self.extra_size_multiplier is not None else 1.0
        return base * extra

    def account_value(self) -> float:
        return self.account_source() if self.account_source is not None else self.account

    def emit(self, signal: Signal) -> None:
        if not signal.trace_id:  # the trace starts at the signal: signal -> intent -> order -> fill
            signal = replace(signal, trace_id=new_id())
        self._trace_by_strategy[signal.strategy] = signal.trace_id
        with bind_trace(signal.trace_id):
            super().emit(signal)
            if self.signal_sink is not None:
                self.signal_sink(signal)

    def submit_basket(self, intents: Sequence[OrderIntent], label: str) -> None:
        """Legs handed to the engine's execution layer as one basket (optbot.execution.basket)."""
        if self.basket_sink is None:
            super().submit_basket(intents, label)
            return
        self.intents.extend(intents)
        self.basket_sink(list(intents), label)

    def trace_for(self, intent: OrderIntent) -> str:
        """The trace id of the signal this intent follows (same strategy, latest signal), if any."""
        return intent.trace_id or self._trace_by_strategy.pop(intent.strategy, "")


class PortfolioRiskView:
    """The risk engine's view of the book: persisted positions marked to ticks, funds, today's P&L."""

    def __init__(
        self,
        portfolio: Portfolio,
        market: MarketState,
        starting_capital: float,
        funds_source: Callable[[], tuple[float, float] | None] | None = None,
        orders_in_flight: Callable[[], Sequence[OrderRecord]] | None = None,
    ) -> None:
        self.portfolio = portfolio
        self._orders_in_flight = orders_in_flight
        self.market = market
        self.starting_capital = starting_capital
        self._funds_source = funds_source
        self._day_start_value: float | None = None
        self._day: date | None = None

    def open_positions(self) -> Sequence[PositionSnapshot]:
        snapshots: list[PositionSnapshot] = []
        for position in self.portfolio.open_positions():
            instrument = self.market.instruments.get(position.exchange, position.token)
            mark = self.portfolio.mark(position.exchange, position.token) or position.average_price
            greeks = self.market.position_greeks(position.exchange, position.token, mark)
            snapshots.append(
                PositionSnapshot(
                    position.token,
                    position.exchange,
                    position.symbol,
                    instrument.underlying if instrument is not None else position.symbol,
                    position.net_quantity,
                    mark,
                    greeks.delta if greeks is not None else None,
                    self.portfolio.position_owner(position.exchange, position.token),
                )
            )
        return snapshots

    def net_quantity(self, token: str) -> int:
        return sum(p.net_quantity for p in self.portfolio.open_positions() if p.token == token)

    def working_quantity(self, token: str, side: Side) -> int:
        if self._orders_in_flight is None:
            return 0
        return working_quantity(self._orders_in_flight(), token, side)

    def account_value(self) -> float:
        """Capital plus everything realised before today (the base of every % limit, fixed for the day)."""
        today = ist_date(self.market.clock.now_utc())
        if self._day != today or self._day_start_value is None:
            self._day = today
            realised_before = self.portfolio.realised_total_net() - self.portfolio.daily_pnl(today)
            self._day_start_value = self.starting_capital + realised_before
        return self._day_start_value

    def day_realised_pnl(self) -> float:
        return self.portfolio.daily_pnl()

    def day_unrealised_pnl(self) -> float:
        return self.portfolio.unrealised_total()

    def margin_used(self) -> float:
        funds = self._funds_source() if self._funds_source is not None else None
        if funds is not None:
            return funds[0]
        return sum(snapshot.notional for snapshot in self.open_positions())

    def margin_available(self) -> float:
        funds = self._funds_source() if self._funds_source is not None else None
        if funds is not None:
            return funds[1]
        return self.account_value() + self.day_realised_pnl() - self.margin_used()

    def recent_trade_results(self) -> Sequence[float]:
        today = ist_date(self.market.clock.now_utc())
        return [trade.net_pnl for trade in self.portfolio.trades_between(today, today)]

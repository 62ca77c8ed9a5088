"""The fill model shared by paper trading and backtests.

One model for both modes is what makes a backtest believable: the same spread, slippage, latency and
"no fill without a print" rules decide every simulated execution whether the quotes come from the live
feed or from a replay. The model is pure (no clock, no I/O): it is handed the order and the latest quote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

from optbot.broker.models import Quote
from optbot.config.sections.backtest import BacktestSettings
from optbot.core.enums import OrderType, Side

Direction = Literal["up", "down", "nearest"]


class QuoteSource(Protocol):
    """Where the paper broker reads the market: the live feed's latest quote or a replay's."""

    def quote(self, token: str) -> Quote | None: ...


def tick_round(price: float, tick: float, direction: Direction) -> float:
    """Round onto the tick grid with decimal arithmetic so 0.05 steps never drift."""
    tick_decimal = Decimal(repr(tick if tick > 0 else 0.05))
    steps = Decimal(repr(price)) / tick_decimal
    mode = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_UP}[direction]
    return float(steps.to_integral_value(rounding=mode) * tick_decimal)


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """What the fill model needs to know about a resting order."""

    side: Side
    order_type: OrderType
    quantity: int
    price: float
    trigger_price: float
    tick_size: float
    accepted_at: datetime
    triggered: bool = False


@dataclass(frozen=True, slots=True)
class FillDecision:
    """The model's answer: fill `quantity` at `price`, or only mark a stop as triggered, or nothing."""

    price: float | None
    triggered: bool
    reason: str


@dataclass(frozen=True, slots=True)
class FillModel:
    """Spread, slippage (ticks), latency and stop triggers.

    - an order is eligible only once `latency` has passed since acceptance AND the instrument has
      printed or quoted at or after that moment (`Quote.exchange_time`): no fills on untraded bars;
    - the executable price is the far side of the book when the quote carries depth, else LTP ± half a
      modelled spread (`modelled_spread_ticks`, or `modelled_spread_pct` of LTP if larger);
    - market orders pay `slippage_ticks` beyond that price; limit orders fill only when marketable and
      never beyond their limit; stop orders trigger on LTP and then behave as market / limit orders;
    - fill prices are on the instrument's tick grid, rounded against the trader.
    """

    slippage_ticks: int = 1
    latency: timedelta = timedelta(milliseconds=250)
    modelled_spread_ticks: int = 2
    modelled_spread_pct: float = 0.0

    @classmethod
    def from_settings(cls, settings: BacktestSettings) -> FillModel:
        """The model both paper trading and backtests build from `[backtest]`."""
        return cls(
            slippage_ticks=settings.slippage_ticks,
            latency=timedelta(milliseconds=settings.latency_ms),
            modelled_spread_ticks=settings.modelled_spread_ticks,
            modelled_spread_pct=settings.modelled_spread_pct,
        )

    def eligible_from(self, order: WorkingOrder) -> datetime:
        return order.accepted_at + self.latency

    def executable_price(self, side: Side, quote: Quote, tick: float) -> float:
        """The price a marketable order of `side` would take from the book before slippage."""
        far = quote.best_ask if side is Side.BUY else quote.best_bid
        if far is not None:
            return far
        half_spread = max(self.modelled_spread_ticks * tick, quote.ltp * self.modelled_spread_pct / 100) / 2
        if side is Side.BUY:
            return tick_round(quote.ltp + half_spread, tick, "up")
        return max(tick, tick_round(quote.ltp - half_spread, tick, "down"))

    def decide(self, order: WorkingOrder, quote: Quote | None) -> FillDecision:
        if quote is None or quote.ltp <= 0:
            return FillDecision(None, order.triggered, "no quote")
        if quote.exchange_time is None or quote.exchange_time < self.eligible_from(order):
            return FillDecision(None, order.triggered, "no print since the order (latency)")
        tick = order.tick_size if order.tick_size > 0 else 0.05
        triggered = order.triggered
        if order.order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET) and not triggered:
            hit = (
                quote.ltp >= order.trigger_price
                if order.side is Side.BUY
                else quote.ltp <= order.trigger_price
            )
            if not hit:
                return FillDecision(None, False, "trigger not reached")
            triggered = True
        takes = self.executable_price(order.side, quote, tick)
        sign = order.side.sign
        if order.order_type in (OrderType.MARKET, OrderType.STOPLOSS_MARKET):
            slipped = takes + sign * self.slippage_ticks * tick
            price = tick_round(slipped, tick, "up" if sign > 0 else "down")
            return FillDecision(max(price, tick), triggered, "market")
        limit = order.price
        marketable = takes <= limit if order.side is Side.BUY else takes >= limit
        if not marketable:
            return FillDecision(None, triggered, "limit not marketable")
        # A marketable limit still pays slippage, capped at the limit: never beyond it.
        slipped = takes + sign * self.slippage_ticks * tick
        price = min(slipped, limit) if sign > 0 else max(slipped, limit)
        price = tick_round(price, tick, "down" if sign > 0 else "up")
        return FillDecision(price, triggered, "limit")


@dataclass(frozen=True, slots=True)
class BarPrices:
    """One bar of the traded instrument as the bar fill rules read it (bar START time, OHLC, volume)."""

    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int | None  # None: a modelled bar (no traded volume to share)


def bar_costs(model: FillModel, reference: float, tick: float) -> float:
    """Half the modelled spread plus the slippage a marketable order pays on a bar (rupees)."""
    half_spread = max(model.modelled_spread_ticks * tick, reference * model.modelled_spread_pct / 100) / 2
    return half_spread + model.slippage_ticks * tick


def decide_on_bar(model: FillModel, order: WorkingOrder, bar: BarPrices) -> FillDecision:
    """Deterministic fill of a resting order on one bar (backtests; no intra-bar path is assumed).

    - only bars that START at or after the order was accepted count (an order sent on a bar's close
      meets the next bar's open);
    - market orders fill at the open plus half the modelled spread and the slippage (against the trader);
    - a limit fills at the open (with the same costs, never beyond the limit) when the open is already
      through it, else at the limit when the bar trades through it (low below a buy, high above a sell);
    - stops trigger on the bar's range (a gap through the trigger uses the open) and then act as market
      (SL-M, from the trigger price) or limit orders (SL-L).
    """
    if order.accepted_at > bar.start:
        return FillDecision(None, order.triggered, "placed during this bar")
    tick = order.tick_size if order.tick_size > 0 else 0.05
    sign = order.side.sign
    buy = order.side is Side.BUY
    reference = bar.open
    triggered = order.triggered
    if order.order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET) and not triggered:
        hit = bar.high >= order.trigger_price if buy else bar.low <= order.trigger_price
        if not hit:
            return FillDecision(None, False, "trigger not reached")
        triggered = True
        reference = max(bar.open, order.trigger_price) if buy else min(bar.open, order.trigger_price)
    costs = bar_costs(model, reference, tick)
    if order.order_type in (OrderType.MARKET, OrderType.STOPLOSS_MARKET):
        price = tick_round(reference + sign * costs, tick, "up" if buy else "down")
        return FillDecision(max(price, tick), triggered, "market")
    limit = order.price
    taken = reference + sign * costs
    if (buy and taken <= limit) or (not buy and taken >= limit):
        price = tick_round(taken, tick, "up" if buy else "down")
        return FillDecision(min(price, limit) if buy else max(price, limit), triggered, "limit at the open")
    through = bar.low < limit if buy else bar.high > limit
    if through:
        return FillDecision(limit, triggered, "limit traded through")
    return FillDecision(None, triggered, "limit not reached")

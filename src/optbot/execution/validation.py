"""Pre-send validation and pricing (spec §13.1, §13.2): lots, ticks, bands, freeze splits, fences.

No MARKET order leaves here (SEBI retail-algo rules): it is priced as a marketable limit inside the
limit-price-protection band (optbot.execution.chase).

Everything here is pure: given the intent, the instrument from the master and the latest quote, it
returns the exact orders to send or the reasons it must not be sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from optbot.broker.models import DepthLevel, Quote
from optbot.config.sections.execution import ExecutionSettings
from optbot.core.enums import InstrumentKind, OrderType, ProductType, Side
from optbot.core.events import OrderIntent
from optbot.core.instrument import Instrument
from optbot.execution.chase import ChasePolicy
from optbot.execution.ticks import round_to_tick

DERIVATIVE_KINDS = frozenset(
    {InstrumentKind.OPTIDX, InstrumentKind.OPTSTK, InstrumentKind.FUTIDX, InstrumentKind.FUTSTK}
)


class OrderValidationError(Exception):
    """The intent cannot be sent as is; `reasons` name each rule that failed."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """What will actually be sent: one broker order per entry of `child_quantities`."""

    order_type: OrderType
    product: ProductType
    price: float
    trigger_price: float
    child_quantities: tuple[int, ...]
    notes: tuple[str, ...] = ()


def depth_price(levels: tuple[DepthLevel, ...], quantity: int) -> float | None:
    """The worst price needed to take `quantity` from the given side of the book (None if empty)."""
    remaining = quantity
    worst: float | None = None
    for level in levels:
        if level.price <= 0 or level.quantity <= 0:
            continue
        worst = level.price
        remaining -= level.quantity
        if remaining <= 0:
            break
    return worst


def split_for_freeze(quantity: int, lot_size: int, freeze_quantity: int | None) -> tuple[int, ...]:
    """Split into child orders no larger than the exchange freeze quantity, each a whole number of lots."""
    if not freeze_quantity or freeze_quantity <= 0 or quantity <= freeze_quantity:
        return (quantity,)
    max_child = (freeze_quantity // lot_size) * lot_size
    if max_child <= 0:
        return (quantity,)
    children = [max_child] * (quantity // max_child)
    if quantity % max_child:
        children.append(quantity % max_child)
    return tuple(children)


def _reference_price(side: Side, quote: Quote) -> float:
    if side is Side.BUY:
        return quote.best_ask or quote.ltp
    return quote.best_bid or quote.ltp


def _fence(side: Side, quote: Quote, max_slippage_pct: float) -> float:
    reference = _reference_price(side, quote)
    factor = 1 + max_slippage_pct / 100 if side is Side.BUY else 1 - max_slippage_pct / 100
    return reference * factor


def plan_order(
    intent: OrderIntent,
    instrument: Instrument | None,
    quote: Quote | None,
    settings: ExecutionSettings,
) -> OrderPlan:
    """Validate an intent and price it; raise OrderValidationError listing every problem."""
    if instrument is None:
        raise OrderValidationError([f"unknown instrument {intent.exchange.value}:{intent.token}"])
    reasons: list[str] = []
    notes: list[str] = []
    lot = max(1, instrument.lot_size)
    tick = instrument.tick_size if instrument.tick_size > 0 else 0.05
    if intent.quantity <= 0:
        reasons.append(f"quantity must be positive (got {intent.quantity})")
    elif intent.quantity % lot:
        reasons.append(f"quantity {intent.quantity} is not a whole number of lots of {lot}")
    if instrument.kind in DERIVATIVE_KINDS and intent.product not in settings.allowed_option_products:
        allowed = ", ".join(product.value for product in settings.allowed_option_products)
        reasons.append(f"product {intent.product.value} not allowed for derivatives (allowed: {allowed})")

    order_type = intent.order_type
    if order_type is OrderType.MARKET:  # SEBI retail-algo rules: no MARKET order reaches the broker
        order_type = OrderType.LIMIT
        notes.append("MARKET sent as a marketable LIMIT inside the price-protection band")
    if order_type is OrderType.STOPLOSS_MARKET:
        order_type = OrderType.STOPLOSS_LIMIT
        notes.append("SL-M emulated as SL-limit")
    if order_type not in settings.allowed_order_types:
        reasons.append(f"order type {order_type.value} is not allowed")

    price = 0.0
    trigger = 0.0
    buy = intent.side is Side.BUY
    if order_type is OrderType.LIMIT:
        if intent.limit_price is not None and intent.order_type is OrderType.LIMIT:
            if intent.limit_price <= 0:
                reasons.append(f"limit price must be positive (got {intent.limit_price})")
            price = round_to_tick(intent.limit_price, tick, "down" if buy else "up")
            if quote is not None and quote.ltp > 0:
                fence = _fence(intent.side, quote, settings.max_slippage_pct)
                if (buy and price > fence) or (not buy and price < fence):
                    reasons.append(
                        f"limit {price:.2f} is beyond the {settings.max_slippage_pct}% slippage fence "
                        f"({fence:.2f}) from the quote"
                    )
        elif quote is None or quote.ltp <= 0:
            reasons.append("no quote to price a limit order from depth")
        else:
            levels = quote.asks if buy else quote.bids
            from_depth = depth_price(levels, intent.quantity) or _reference_price(intent.side, quote)
            fence = _fence(intent.side, quote, settings.max_slippage_pct)
            capped = min(from_depth, fence) if buy else max(from_depth, fence)
            if capped != from_depth:
                notes.append(f"depth price {from_depth:.2f} capped at the slippage fence {fence:.2f}")
            price = round_to_tick(capped, tick, "down" if buy else "up")
            band = ChasePolicy.from_settings(settings).band(quote, tick)
            inside = band.clamp(price) if band is not None else price
            if inside != price:
                notes.append(f"limit {price:.2f} kept inside the price-protection band at {inside:.2f}")
                price = inside
    elif order_type is OrderType.STOPLOSS_LIMIT:
        if intent.trigger_price is None or intent.trigger_price <= 0:
            reasons.append("a stop-loss order needs a positive trigger price")
        else:
            trigger = round_to_tick(intent.trigger_price, tick, "nearest")
            if intent.limit_price is not None and intent.order_type is OrderType.STOPLOSS_LIMIT:
                price = round_to_tick(intent.limit_price, tick, "down" if buy else "up")
            else:
                buffer = settings.stop_limit_buffer_pct / 100
                price = round_to_tick(
                    trigger * (1 + buffer if buy else 1 - buffer), tick, "up" if buy else "down"
                )
            if (buy and price < trigger) or (not buy and price > trigger):
                reasons.append(f"stop limit {price:.2f} is on the wrong side of trigger {trigger:.2f}")
            if price <= 0:
                price = tick
    if quote is not None and price > 0:
        band_problem = _band_problem(price, quote)
        if band_problem:
            reasons.append(band_problem)
    if reasons:
        raise OrderValidationError(reasons)
    children = split_for_freeze(intent.quantity, lot, instrument.freeze_quantity)
    if len(children) > 1:
        notes.append(
            f"split into {len(children)} child orders at freeze quantity {instrument.freeze_quantity}"
        )
    return OrderPlan(order_type, intent.product, price, trigger, children, tuple(notes))


def _band_problem(price: float, quote: Quote) -> str:
    if quote.upper_circuit and price > quote.upper_circuit + 1e-9:
        return f"price {price:.2f} is above the upper circuit {quote.upper_circuit:.2f}"
    if quote.lower_circuit and price < quote.lower_circuit - 1e-9:
        return f"price {price:.2f} is below the lower circuit {quote.lower_circuit:.2f}"
    return ""

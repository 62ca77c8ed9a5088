"""Building intents for a strategy, so strategies never assemble ids, timestamps or contract fields."""

from __future__ import annotations

from optbot.core.enums import IntentPurpose, OrderType, ProductType, Side
from optbot.core.events import OrderIntent
from optbot.core.ids import new_id
from optbot.core.instrument import Instrument
from optbot.strategy.context import StrategyContext


def build_intent(
    ctx: StrategyContext,
    strategy: str,
    contract: Instrument,
    side: Side,
    quantity: int,
    purpose: IntentPurpose,
    reason: str,
    *,
    product: ProductType = ProductType.INTRADAY,
    underlying_price: float | None = None,
) -> OrderIntent:
    """A marketable-limit intent (no price: the order manager prices it from the book inside the
    limit-price-protection band) for `quantity` units of `contract`, stamped with the context's clock."""
    return OrderIntent(
        ts_utc=ctx.now_utc(),
        intent_id=new_id(),
        strategy=strategy,
        token=contract.token,
        exchange=contract.exchange,
        symbol=contract.symbol,
        side=side,
        quantity=quantity,
        purpose=purpose,
        order_type=OrderType.LIMIT,
        product=product,
        limit_price=None,
        underlying=contract.underlying,
        underlying_reference_price=underlying_price,
        option_type=contract.option_type,
        reason=reason,
    )


def lots(contract: Instrument, count: int) -> int:
    """Units for `count` lots of `contract` (lot size from the instrument master, never hard-coded)."""
    return count * contract.lot_size


__all__ = ["build_intent", "lots"]

"""Position arithmetic: average price, realised P&L and charges, from confirmed fills only."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from optbot.core.enums import Exchange, Side
from optbot.persistence.records import PositionRecord


def empty_position(exchange: Exchange, token: str, symbol: str, now: datetime) -> PositionRecord:
    return PositionRecord(exchange, token, symbol, 0, 0.0, 0.0, 0.0, 0, 0, 0.0, 0.0, now)


def apply_fill_to_position(
    position: PositionRecord, side: Side, quantity: int, price: float, charges: float, now: datetime
) -> PositionRecord:
    """The position after one fill. Realised P&L is gross; `charges` accumulates separately."""
    if quantity <= 0:
        raise ValueError(f"fill quantity must be positive (got {quantity})")
    signed = quantity * side.sign
    net = position.net_quantity
    average = position.average_price
    realised = position.realised_pnl
    if net == 0 or (net > 0) == (signed > 0):
        new_net = net + signed
        average = (abs(net) * average + quantity * price) / abs(new_net)
    else:
        closing = min(quantity, abs(net))
        realised += closing * (price - average) * (1 if net > 0 else -1)
        new_net = net + signed
        if new_net == 0:
            average = 0.0
        elif (new_net > 0) != (net > 0):
            average = price  # flipped through zero: the remainder opened at this fill's price
    buy = side is Side.BUY
    return replace(
        position,
        net_quantity=new_net,
        average_price=average,
        realised_pnl=realised,
        charges=position.charges + charges,
        buy_quantity=position.buy_quantity + (quantity if buy else 0),
        sell_quantity=position.sell_quantity + (0 if buy else quantity),
        buy_value=position.buy_value + (quantity * price if buy else 0.0),
        sell_value=position.sell_value + (0.0 if buy else quantity * price),
        updated_utc=now,
    )


def unrealised_pnl(position: PositionRecord, mark_price: float | None) -> float:
    if mark_price is None or position.net_quantity == 0:
        return 0.0
    return (mark_price - position.average_price) * position.net_quantity


def net_realised_pnl(position: PositionRecord) -> float:
    """Realised P&L net of every charge paid on the position's fills."""
    return position.realised_pnl - position.charges

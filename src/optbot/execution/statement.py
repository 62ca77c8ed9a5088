"""End-of-day statement in contract-note style: fills, per-order charges and the net amount.

This module holds optbot's one charges rule, the contract-note rule: an executed order's charges are
computed once over its whole quantity and value (the flat brokerage once) and each component is rounded
once, to the paisa, as a broker's contract note does. A fill carries the part of its order's charges it
added (the order's charges with it minus without it), so an order's fills add up to exactly its
contract-note charges. The order manager books fills with it, and every report (`report pnl`, `report
statement`, the daily report) restates fills with it, so they agree to the paisa.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from optbot.charges import (
    ZERO_CHARGES,
    ChargeBreakdown,
    RateCard,
    Rounding,
    option_charges,
    round_charge,
)
from optbot.core.enums import Side
from optbot.execution.expiry import EXPIRY_FILL_SOURCE
from optbot.persistence.records import FillRecord


@dataclass(frozen=True, slots=True)
class OrderCharges:
    broker_order_id: str
    symbol: str
    side: Side
    quantity: int
    value: float
    charges: ChargeBreakdown

    @property
    def average_price(self) -> float:
        return self.value / self.quantity if self.quantity else 0.0


@dataclass(frozen=True, slots=True)
class ContractNote:
    trade_date: date
    fills: tuple[FillRecord, ...]
    orders: tuple[OrderCharges, ...]
    charges: ChargeBreakdown

    @property
    def buy_value(self) -> float:
        return sum(order.value for order in self.orders if order.side is Side.BUY)

    @property
    def sell_value(self) -> float:
        return sum(order.value for order in self.orders if order.side is Side.SELL)

    @property
    def net_amount(self) -> float:
        """Receivable (+) or payable (−) for the day: sells − buys − every charge."""
        return self.sell_value - self.buy_value - self.charges.total


def _by_order(fills: Iterable[FillRecord]) -> dict[str, list[FillRecord]]:
    grouped: dict[str, list[FillRecord]] = {}
    for fill in fills:
        grouped.setdefault(fill.broker_order_id, []).append(fill)
    return grouped


def contract_note_charges(
    order_fills: Sequence[FillRecord], card: RateCard, rounding: Rounding
) -> ChargeBreakdown:
    """The contract-note charges of one executed order's fills (all of one broker order id): one
    computation over their total quantity and value, each component rounded once."""
    if not order_fills:
        return ZERO_CHARGES
    first = order_fills[0]
    quantity = sum(fill.quantity for fill in order_fills)
    value = sum(fill.quantity * fill.price for fill in order_fills)
    if first.source == EXPIRY_FILL_SOURCE:
        return _settlement_charges(order_fills, value, rounding)
    if quantity <= 0:
        return ZERO_CHARGES
    return option_charges(
        card, first.exchange, first.side, quantity, value / quantity, first.trade_date, rounding=rounding
    )


def fill_charges(
    earlier_fills: Sequence[FillRecord], fill: FillRecord, card: RateCard, rounding: Rounding
) -> float:
    """The charges `fill` adds to its order, whose `earlier_fills` were booked before it: the order's
    contract-note charges with the fill minus without it (the first fill carries the brokerage)."""
    with_fill = contract_note_charges([*earlier_fills, fill], card, rounding).total
    return with_fill - contract_note_charges(earlier_fills, card, rounding).total


def with_contract_note_charges(
    fills: Iterable[FillRecord], card: RateCard, rounding: Rounding
) -> list[FillRecord]:
    """`fills` in the same order, each carrying its share of its order's contract-note charges
    (`fill_charges`), whatever charges were stored on it: what every report reads."""
    booked: dict[str, list[FillRecord]] = {}
    restated: list[FillRecord] = []
    for fill in fills:
        earlier = booked.setdefault(fill.broker_order_id, [])
        if fill.source == EXPIRY_FILL_SOURCE:
            restated.append(replace(fill, charges=round_charge(fill.charges, rounding)))
        else:
            restated.append(replace(fill, charges=fill_charges(earlier, fill, card, rounding)))
        earlier.append(fill)
    return restated


def order_charges(fills: Iterable[FillRecord], card: RateCard, rounding: Rounding) -> list[OrderCharges]:
    """One charge computation per executed order (flat brokerage once per order), like a contract note."""
    result: list[OrderCharges] = []
    for order_id, order_fills in _by_order(fills).items():
        first = order_fills[0]
        quantity = sum(fill.quantity for fill in order_fills)
        value = sum(fill.quantity * fill.price for fill in order_fills)
        breakdown = contract_note_charges(order_fills, card, rounding)
        result.append(OrderCharges(order_id, first.symbol, first.side, quantity, value, breakdown))
    return result


def _settlement_charges(fills: Sequence[FillRecord], value: float, rounding: Rounding) -> ChargeBreakdown:
    """An expiry settlement pays only the exercise STT recorded on its fill (no order was placed)."""
    stt = sum(round_charge(fill.charges, rounding) for fill in fills)
    return replace(ZERO_CHARGES, turnover=value, stt=stt)


def contract_note(
    fills: Iterable[FillRecord], card: RateCard, rounding: Rounding, trade_date: date
) -> ContractNote:
    day_fills = tuple(fill for fill in fills if fill.trade_date == trade_date)
    orders = tuple(order_charges(day_fills, card, rounding))
    total = ZERO_CHARGES
    for order in orders:
        total = total + order.charges
    return ContractNote(trade_date, day_fills, orders, total)


def contract_note_json(note: ContractNote) -> dict[str, Any]:
    return {
        "trade_date": note.trade_date.isoformat(),
        "fills": [
            {
                "order_id": fill.broker_order_id,
                "fill_id": fill.fill_id,
                "symbol": fill.symbol,
                "side": fill.side.value,
                "quantity": fill.quantity,
                "price": fill.price,
                "value": round(fill.quantity * fill.price, 2),
                "time_utc": fill.ts_utc.isoformat(),
            }
            for fill in note.fills
        ],
        "orders": [
            {
                "order_id": order.broker_order_id,
                "symbol": order.symbol,
                "side": order.side.value,
                "quantity": order.quantity,
                "average_price": round(order.average_price, 4),
                "value": round(order.value, 2),
                "charges": {name: round(amount, 4) for name, amount in order.charges.components()},
            }
            for order in note.orders
        ],
        "buy_value": round(note.buy_value, 2),
        "sell_value": round(note.sell_value, 2),
        "charges": {name: round(amount, 2) for name, amount in note.charges.components()},
        "total_charges": round(note.charges.total, 2),
        "net_amount": round(note.net_amount, 2),
    }


def render_contract_note(note: ContractNote) -> str:
    lines = [f"CONTRACT NOTE (optbot statement)  trade date {note.trade_date.isoformat()}", ""]
    lines.append(
        f"{'order id':<18}{'symbol':<26}{'side':<6}{'qty':>8}{'avg price':>12}{'value':>14}{'charges':>11}"
    )
    for order in note.orders:
        lines.append(
            f"{order.broker_order_id:<18}{order.symbol:<26}{order.side.value:<6}{order.quantity:>8}"
            f"{order.average_price:>12.2f}{order.value:>14.2f}{order.charges.total:>11.2f}"
        )
    lines.append("")
    lines.append(f"{'buy value':<24}{note.buy_value:>14.2f}")
    lines.append(f"{'sell value':<24}{note.sell_value:>14.2f}")
    for name, amount in note.charges.components():
        lines.append(f"{name:<24}{amount:>14.2f}")
    lines.append(f"{'total charges':<24}{note.charges.total:>14.2f}")
    lines.append(f"{'net amount (+recv/-pay)':<24}{note.net_amount:>14.2f}")
    return "\n".join(lines)

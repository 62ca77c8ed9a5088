"""Charges for option orders and round trips, component by component (spec §11.1, §13.3).

Contract notes round each component to the paisa; `rounding="paisa"` does that (half up), while
`rounding="exact"` keeps full precision for per-fill allocation inside the portfolio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from optbot.charges.rate_card import RateCard
from optbot.core.enums import Exchange, Side
from optbot.core.errors import UserError

Rounding = Literal["exact", "paisa"]
_ONE_CRORE = 10_000_000.0


def round_charge(amount: float, rounding: Rounding) -> float:
    """One charge component rounded like a contract note ("paisa", half up) or kept "exact"."""
    return _round(amount, rounding)


def _round(amount: float, rounding: Rounding) -> float:
    if rounding == "exact":
        return amount
    return float(Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class ChargeBreakdown:
    turnover: float
    brokerage: float
    stt: float
    exchange_txn: float
    ipft: float
    sebi: float
    stamp: float
    gst: float

    @property
    def total(self) -> float:
        return self.brokerage + self.stt + self.exchange_txn + self.ipft + self.sebi + self.stamp + self.gst

    def components(self) -> tuple[tuple[str, float], ...]:
        return (
            ("brokerage", self.brokerage),
            ("stt", self.stt),
            ("exchange_txn", self.exchange_txn),
            ("ipft", self.ipft),
            ("sebi", self.sebi),
            ("stamp", self.stamp),
            ("gst", self.gst),
        )

    def __add__(self, other: ChargeBreakdown) -> ChargeBreakdown:
        return ChargeBreakdown(
            turnover=self.turnover + other.turnover,
            brokerage=self.brokerage + other.brokerage,
            stt=self.stt + other.stt,
            exchange_txn=self.exchange_txn + other.exchange_txn,
            ipft=self.ipft + other.ipft,
            sebi=self.sebi + other.sebi,
            stamp=self.stamp + other.stamp,
            gst=self.gst + other.gst,
        )


ZERO_CHARGES = ChargeBreakdown(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def option_charges(
    card: RateCard,
    exchange: Exchange,
    side: Side,
    quantity: int,
    price: float,
    trade_date: date,
    *,
    executed_orders: int = 1,
    rounding: Rounding = "paisa",
) -> ChargeBreakdown:
    """Charges on one side of an option trade: `quantity` units at premium `price`.

    `executed_orders` counts broker orders for the flat brokerage (0 when a later fill of an order
    whose brokerage was already charged).
    """
    if quantity < 0 or price < 0 or executed_orders < 0:
        raise UserError("charges: quantity, price and executed order count must not be negative")
    rates = card.rates_on(exchange, trade_date)
    turnover = quantity * price
    brokerage = rates.brokerage_per_order * executed_orders if quantity > 0 else 0.0
    stt = turnover * rates.stt_option_sell_pct / 100 if side is Side.SELL else 0.0
    exchange_txn = turnover * rates.exchange_txn_pct / 100
    ipft = turnover * rates.ipft_pct / 100
    sebi = turnover * rates.sebi_per_crore / _ONE_CRORE
    stamp = turnover * rates.stamp_buy_pct / 100 if side is Side.BUY else 0.0
    gst_base = brokerage + exchange_txn
    if rates.gst_on_sebi_fee:
        gst_base += sebi
    if rates.gst_on_ipft:
        gst_base += ipft
    gst = gst_base * rates.gst_pct / 100
    return ChargeBreakdown(
        turnover=turnover,
        brokerage=_round(brokerage, rounding),
        stt=_round(stt, rounding),
        exchange_txn=_round(exchange_txn, rounding),
        ipft=_round(ipft, rounding),
        sebi=_round(sebi, rounding),
        stamp=_round(stamp, rounding),
        gst=_round(gst, rounding),
    )


def exercise_stt(
    card: RateCard, exchange: Exchange, quantity: int, settlement_value: float, trade_date: date
) -> float:
    """STT on an in-the-money option exercised at expiry, on its intrinsic (settlement) value."""
    rates = card.rates_on(exchange, trade_date)
    return quantity * settlement_value * rates.stt_exercised_itm_pct / 100


@dataclass(frozen=True, slots=True)
class RoundTrip:
    quantity: int
    buy_price: float
    sell_price: float
    buy: ChargeBreakdown
    sell: ChargeBreakdown
    breakeven_sell_price: float
    breakeven_buy_price: float

    @property
    def charges(self) -> ChargeBreakdown:
        return self.buy + self.sell

    @property
    def gross_pnl(self) -> float:
        return (self.sell_price - self.buy_price) * self.quantity

    @property
    def net_pnl(self) -> float:
        return self.gross_pnl - self.charges.total


def _solve(function: Callable[[float], float], low: float, high: float) -> float:
    """Bisection on a monotone function f with f(low) < 0 <= f(high)."""
    for _ in range(200):
        middle = (low + high) / 2
        if function(middle) < 0:
            low = middle
        else:
            high = middle
    return high


def round_trip(
    card: RateCard,
    exchange: Exchange,
    quantity: int,
    buy_price: float,
    sell_price: float,
    trade_date: date,
    *,
    rounding: Rounding = "paisa",
) -> RoundTrip:
    """A buy and a sell of `quantity` units, with breakevens for both directions.

    `breakeven_sell_price`: for a long bought at `buy_price`, the exit price where net P&L is zero.
    `breakeven_buy_price`: for a short sold at `sell_price`, the buy-back price where net P&L is zero.
    """
    if quantity <= 0:
        raise UserError("charges: --qty must be a positive number of units")
    if buy_price <= 0 or sell_price <= 0:
        raise UserError("charges: --buy-price and --sell-price must be positive")
    buy = option_charges(card, exchange, Side.BUY, quantity, buy_price, trade_date, rounding=rounding)
    sell = option_charges(card, exchange, Side.SELL, quantity, sell_price, trade_date, rounding=rounding)

    def long_net(exit_price: float) -> float:
        exit_charges = option_charges(
            card, exchange, Side.SELL, quantity, exit_price, trade_date, rounding="exact"
        )
        return (exit_price - buy_price) * quantity - buy.total - exit_charges.total

    def short_net_negated(cover_price: float) -> float:
        cover = option_charges(card, exchange, Side.BUY, quantity, cover_price, trade_date, rounding="exact")
        return -((sell_price - cover_price) * quantity - sell.total - cover.total)

    ceiling = max(buy_price, sell_price) * 10 + 1000.0
    breakeven_sell = _solve(long_net, 0.0, ceiling)
    breakeven_buy = _solve(short_net_negated, 0.0, ceiling) if short_net_negated(0.0) < 0 else 0.0
    return RoundTrip(quantity, buy_price, sell_price, buy, sell, breakeven_sell, breakeven_buy)

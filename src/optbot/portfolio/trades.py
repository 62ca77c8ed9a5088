"""Round trips from fills (FIFO per instrument) with their charges, for P&L and tax reports."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from optbot.core.enums import Exchange, Side
from optbot.persistence.records import FillRecord


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    exchange: Exchange
    token: str
    symbol: str
    direction: Side  # BUY = long round trip, SELL = short
    quantity: int
    entry_price: float
    exit_price: float
    entry_date: date
    exit_date: date
    charges: float
    entry_time_utc: datetime  # the opening fill's time
    exit_time_utc: datetime  # the closing fill's time
    exit_intent_id: str = ""  # the closing fill's intent (what closed it: stop, target, flatten)

    @property
    def gross_pnl(self) -> float:
        sign = 1 if self.direction is Side.BUY else -1
        return (self.exit_price - self.entry_price) * self.quantity * sign

    @property
    def net_pnl(self) -> float:
        return self.gross_pnl - self.charges

    @property
    def return_pct(self) -> float:
        capital = self.entry_price * self.quantity
        return 100 * self.net_pnl / capital if capital else 0.0


@dataclass
class OpenLot:
    """Units of one fill not yet matched by an opposite fill."""

    side: Side
    quantity: int
    price: float
    day: date
    charges_per_unit: float
    ts_utc: datetime


def match_fill(lots: deque[OpenLot], fill: FillRecord) -> list[ClosedTrade]:
    """Match one fill FIFO against an instrument's open lots (mutating them); returns the round trips
    it closed. Its unmatched units become a new open lot. Charges are spread over each fill's units."""
    trades: list[ClosedTrade] = []
    remaining = fill.quantity
    per_unit = fill.charges / fill.quantity if fill.quantity else 0.0
    while remaining and lots and lots[0].side is not fill.side:
        lot = lots[0]
        matched = min(remaining, lot.quantity)
        trades.append(
            ClosedTrade(
                exchange=fill.exchange,
                token=fill.token,
                symbol=fill.symbol,
                direction=lot.side,
                quantity=matched,
                entry_price=lot.price,
                exit_price=fill.price,
                entry_date=lot.day,
                exit_date=fill.trade_date,
                charges=matched * (lot.charges_per_unit + per_unit),
                entry_time_utc=lot.ts_utc,
                exit_time_utc=fill.ts_utc,
                exit_intent_id=fill.intent_id,
            )
        )
        lot.quantity -= matched
        remaining -= matched
        if lot.quantity == 0:
            lots.popleft()
    if remaining:
        lots.append(OpenLot(fill.side, remaining, fill.price, fill.trade_date, per_unit, fill.ts_utc))
    return trades


def closed_trades(fills: Iterable[FillRecord]) -> list[ClosedTrade]:
    """Match fills FIFO per instrument; each fill's charges are spread over its units."""
    open_lots: dict[tuple[Exchange, str], deque[OpenLot]] = {}
    trades: list[ClosedTrade] = []
    for fill in fills:
        trades.extend(match_fill(open_lots.setdefault((fill.exchange, fill.token), deque()), fill))
    return trades

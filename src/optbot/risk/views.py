"""What the risk engine may know about the portfolio and the market.

Small read-only Protocols so the engine runs unchanged against the live portfolio, a backtest or a
test double, and so risk never imports broker, execution or persistence code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from optbot.core.enums import Exchange, Side


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """One open position as risk sees it. `net_quantity` > 0 is long; `delta` is per unit (option delta)."""

    token: str
    exchange: Exchange
    symbol: str
    underlying: str
    net_quantity: int
    last_price: float
    delta: float | None = None
    #: The strategy that entered it ("" unknown): one strategy's legs are one position for the count.
    owner: str = ""

    @property
    def notional(self) -> float:
        return abs(self.net_quantity) * self.last_price


class SessionTimes(Protocol):
    """Anything with the session's open and close (the calendar's `TradingSession` fits)."""

    @property
    def open_utc(self) -> datetime: ...

    @property
    def close_utc(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """A plain session (aware UTC datetimes) for callers without a calendar object."""

    open_utc: datetime
    close_utc: datetime


class RiskPortfolioView(Protocol):
    def open_positions(self) -> Sequence[PositionSnapshot]: ...

    def net_quantity(self, token: str) -> int:
        """The open net quantity in this token (all exchanges): what an exit may close, without
        building every position's snapshot (marks, Greeks, owner)."""
        ...

    def working_quantity(self, token: str, side: Side) -> int:
        """Units still open on orders in flight in this token on `side` (all exchanges): what they can
        still fill. An order whose cancel was asked for but not confirmed counts (it can still fill), so
        a new exit is never sent for lots another exit may already close."""
        ...

    def account_value(self) -> float:
        """Start-of-day account value (cash + holdings) used as the base for every % limit."""
        ...

    def day_realised_pnl(self) -> float: ...

    def day_unrealised_pnl(self) -> float: ...

    def margin_used(self) -> float: ...

    def margin_available(self) -> float: ...

    def recent_trade_results(self) -> Sequence[float]:
        """Net P&L of today's closed trades, oldest first."""
        ...


class RiskMarketView(Protocol):
    def vix(self) -> float | None: ...

    def underlying_price(self, underlying: str) -> float | None: ...

    def last_price(self, token: str) -> float | None: ...

    def open_interest(self, token: str) -> int | None:
        """Option open interest in contracts (lots), None when unknown."""
        ...

    def lot_size(self, token: str) -> int | None: ...

    def is_option(self, token: str) -> bool: ...

    def option_type(self, token: str) -> str | None:
        """CE / PE for an option, None otherwise."""
        ...

    def margin_required(self, token: str, side: str, quantity: int, price: float) -> float | None:
        """Broker margin for a new position, None when not known (then bought premium is used)."""
        ...

    def session(self) -> SessionTimes | None:
        """Today's session, None on a non-trading day."""
        ...


def exposure_by_underlying(positions: Sequence[PositionSnapshot]) -> Mapping[str, float]:
    """Gross notional per underlying."""
    exposure: dict[str, float] = {}
    for position in positions:
        exposure[position.underlying] = exposure.get(position.underlying, 0.0) + position.notional
    return exposure

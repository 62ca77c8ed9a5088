"""The portfolio: positions from the store, marked to market from ticks, and performance figures.

Positions change only through `next_position` + the store's atomic `apply_fill` (called by the order
manager on confirmed fills); ticks only move marks and unrealised P&L.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.enums import Exchange
from optbot.core.events import PositionChanged, Tick
from optbot.core.timeutil import ist_date
from optbot.persistence.records import FillRecord, PositionRecord
from optbot.persistence.store import Store, fill_table_key
from optbot.portfolio.positions import (
    apply_fill_to_position,
    empty_position,
    net_realised_pnl,
    unrealised_pnl,
)
from optbot.portfolio.trades import ClosedTrade, OpenLot, match_fill


@dataclass(frozen=True, slots=True)
class Greeks:
    delta: float = 0.0
    gamma: float = 0.0
    theta: float = 0.0
    vega: float = 0.0


#: Per-unit Greeks of one instrument at a mark (from optbot.analytics); None when unknown.
GreeksProvider = Callable[[Exchange, str, float], Greeks | None]


@dataclass(frozen=True, slots=True)
class PerformanceSummary:
    trades: int
    wins: int
    net_pnl: float
    average_return_pct: float

    @property
    def win_rate(self) -> float:
        return self.wins / self.trades if self.trades else 0.0


class _TradeBook:
    """`trades.closed_trades` over the fills table, kept incrementally: the fills added since the last
    refresh (a higher rowid: fills are never deleted) are matched onto the carried open lots when they
    all sort after every fill matched (the same FIFO, charges spread the same way); any other change to
    the table rebuilds it from all fills. Only the store's own queries decide what is new, so the result
    equals `closed_trades(fills())`.
    """

    def __init__(self) -> None:
        self.signature: tuple[int, int | None] | None = None  # (COUNT(*), MAX(rowid)) of the fills table
        self._reset()

    def _reset(self) -> None:
        self.trades: list[ClosedTrade] = []
        #: The same trades by exit date, in book order: risk asks for today's on every evaluation.
        self.by_exit_date: dict[date, list[ClosedTrade]] = {}
        self._lots: dict[tuple[Exchange, str], deque[OpenLot]] = {}
        self._matched = 0  # fills matched so far
        self._last_key: tuple[str, str, str] | None = None  # table-order key of the last fill matched

    def refresh(self, store: Store) -> list[ClosedTrade]:
        signature = store.fills_signature()
        if signature == self.signature:
            return self.trades
        if not self._append(store, signature[0]):
            self._reset()
            self._match(store.fills())
        self.signature = signature
        return self.trades

    def _append(self, store: Store, count: int) -> bool:
        """Match only the new fills, if they all come after every fill matched; False otherwise."""
        if self.signature is None:
            return False
        fresh = store.fills_after(self.signature[1] or 0)
        if self._matched + len(fresh) != count:
            return False  # the table changed otherwise (another connection, a rolled-back rowid)
        if fresh and self._last_key is not None and fill_table_key(fresh[0]) <= self._last_key:
            return False  # a new fill sorts before one already matched: the FIFO must start again
        self._match(fresh)
        return True

    def _match(self, fills: Sequence[FillRecord]) -> None:
        trades = self.trades
        for fill in fills:
            key = (fill.exchange, fill.token)
            lots = self._lots.get(key)
            if lots is None:
                lots = self._lots[key] = deque()
            for trade in match_fill(lots, fill):
                trades.append(trade)
                self.by_exit_date.setdefault(trade.exit_date, []).append(trade)
            self._matched += 1
        if fills:
            self._last_key = fill_table_key(fills[-1])


class Portfolio:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        bus: EventBus | None = None,
        greeks_provider: GreeksProvider | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus
        self._greeks_provider = greeks_provider
        self._marks: dict[tuple[Exchange, str], float] = {
            (position.exchange, position.token): position.last_price
            for position in store.positions()
            if position.last_price is not None
        }
        # Round trips from every fill, matched again only for fills added since (risk asks for today's
        # trades on every evaluation).
        self._trade_book = _TradeBook()
        # Positions read on the tick path, kept while no position row was written through the store
        # (its position_writes) and nothing was committed by another connection (SQLite's
        # data_version, which moves on any other connection's commit).
        self._positions_version: tuple[int, int] | None = None
        self._positions_seen: dict[tuple[Exchange, str], PositionRecord | None] = {}
        self._positions_all: list[PositionRecord] | None = None
        self._positions_open: list[PositionRecord] | None = None

    # -------------------------------------------------------------- fills
    def next_position(self, fill: FillRecord) -> PositionRecord:
        """The position this fill would produce (pure; the caller commits it with the fill)."""
        now = self._clock.now_utc()
        current = self._store.position(fill.exchange, fill.token) or empty_position(
            fill.exchange, fill.token, fill.symbol, now
        )
        return apply_fill_to_position(current, fill.side, fill.quantity, fill.price, fill.charges, now)

    async def committed(self, position: PositionRecord, trace_id: str = "") -> PositionChanged:
        event = self._changed(position, self._marks.get((position.exchange, position.token)), trace_id)
        if self._bus is not None:
            await self._bus.publish(event)
        return event

    def _changed(self, position: PositionRecord, mark: float | None, trace_id: str = "") -> PositionChanged:
        """The event for `position` at `mark` (its last price; None when never marked)."""
        return PositionChanged(
            ts_utc=self._clock.now_utc(),
            token=position.token,
            symbol=position.symbol,
            net_quantity=position.net_quantity,
            average_price=position.average_price,
            realised_pnl=net_realised_pnl(position),
            unrealised_pnl=unrealised_pnl(position, mark),
            trace_id=trace_id,
        )

    def _check_positions_version(self) -> None:
        version = self._store.positions_version()
        if version != self._positions_version:
            self._positions_seen.clear()
            self._positions_all = None
            self._positions_open = None
            self._positions_version = version

    def _all_positions(self) -> list[PositionRecord]:
        """`store.positions()`, answered from the cache while the database has not changed."""
        self._check_positions_version()
        if self._positions_all is None:
            self._positions_all = self._store.positions()
        return self._positions_all

    def _open_positions(self) -> list[PositionRecord]:
        """`store.open_positions()`, answered from the cache while the database has not changed."""
        self._check_positions_version()
        if self._positions_open is None:
            self._positions_open = self._store.open_positions()
        return self._positions_open

    def _position(self, key: tuple[Exchange, str]) -> PositionRecord | None:
        """`store.position` of (exchange, token), answered from the cache while the database has not
        changed."""
        self._check_positions_version()
        seen = self._positions_seen
        if key in seen:
            return seen[key]
        position = seen[key] = self._store.position(*key)
        return position

    # -------------------------------------------------------------- marks
    async def on_tick(self, tick: Tick) -> PositionChanged | None:
        """Mark an open position to the tick's price; emits PositionChanged for open positions."""
        key = (tick.exchange, tick.token)
        mark = self._marks[key] = tick.ltp
        position = self._position(key)
        if position is None or position.net_quantity == 0:
            return None
        event = self._changed(position, mark)  # every mark of a held contract: no second mark lookup
        bus = self._bus
        if bus is not None:
            await bus.publish(event)
        return event

    def position_owner(self, exchange: Exchange, token: str) -> str:
        """The strategy that entered this contract ("" when no entry intent names it)."""
        return self._store.position_owner(exchange, token)

    def mark(self, exchange: Exchange, token: str) -> float | None:
        return self._marks.get((exchange, token))

    def positions(self) -> list[PositionRecord]:
        return list(self._all_positions())

    def open_positions(self) -> list[PositionRecord]:
        return list(self._open_positions())

    def unrealised_total(self) -> float:
        """Over the open positions only (a flat one has none), in the store's order."""
        return sum(
            unrealised_pnl(position, self._marks.get((position.exchange, position.token)))
            for position in self._open_positions()
        )

    def realised_total_net(self) -> float:
        return sum(net_realised_pnl(position) for position in self._all_positions())

    def greeks(self) -> Greeks:
        """Portfolio Greeks: the sum of per-unit Greeks × signed quantity over open positions."""
        total = Greeks()
        if self._greeks_provider is None:
            return total
        for position in self.open_positions():
            mark = self._marks.get((position.exchange, position.token))
            if mark is None:
                continue
            unit = self._greeks_provider(position.exchange, position.token, mark)
            if unit is None:
                continue
            quantity = position.net_quantity
            total = Greeks(
                total.delta + unit.delta * quantity,
                total.gamma + unit.gamma * quantity,
                total.theta + unit.theta * quantity,
                total.vega + unit.vega * quantity,
            )
        return total

    # -------------------------------------------------------- performance
    def trades_between(self, start: date, end: date) -> list[ClosedTrade]:
        """Round trips closed on dates in [start, end], in the order they were matched."""
        trades = self._trade_book.refresh(self._store)
        if start == end:
            return list(self._trade_book.by_exit_date.get(start, ()))
        return [trade for trade in trades if start <= trade.exit_date <= end]

    def summary(self, start: date, end: date) -> PerformanceSummary:
        trades = self.trades_between(start, end)
        wins = sum(1 for trade in trades if trade.net_pnl > 0)
        net = sum(trade.net_pnl for trade in trades)
        average = sum(trade.return_pct for trade in trades) / len(trades) if trades else 0.0
        return PerformanceSummary(len(trades), wins, net, average)

    def daily_pnl(self, day: date | None = None) -> float:
        target = day or ist_date(self._clock.now_utc())
        return self.summary(target, target).net_pnl

    def weekly_pnl(self, day: date | None = None) -> float:
        target = day or ist_date(self._clock.now_utc())
        monday = target - timedelta(days=target.weekday())
        return self.summary(monday, monday + timedelta(days=6)).net_pnl

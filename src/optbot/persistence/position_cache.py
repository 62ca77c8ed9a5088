"""The positions table as this store last wrote or read it: the portfolio, risk and the order manager
read positions on every fill and every risk evaluation, while only the store's own `save_position`
writes them.

Rows are held exactly as a query returns them (`as_stored`); once every row has been read, the table
is known whole and is kept so by each write. The store clears it whenever another connection commits
(SQLite's data_version moves) or a transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from optbot.core.enums import Exchange
from optbot.core.timeutil import to_utc
from optbot.persistence.records import PositionRecord

PositionKey = tuple[Exchange, str]


def _is_float(value: object) -> bool:
    return type(value) is float


def as_stored(position: PositionRecord) -> PositionRecord:
    """`position` as a read of its row returns it: REAL columns as floats, INTEGER as ints, the time
    in UTC. The same object when it already is (the portfolio's records are)."""
    last = position.last_price
    if (
        _is_float(position.average_price)
        and _is_float(position.realised_pnl)
        and _is_float(position.charges)
        and _is_float(position.buy_value)
        and _is_float(position.sell_value)
        and (last is None or _is_float(last))
        and type(position.net_quantity) is int
        and type(position.buy_quantity) is int
        and type(position.sell_quantity) is int
        and type(position.symbol) is str
        and position.updated_utc.tzinfo is UTC
    ):
        return position
    return PositionRecord(
        exchange=position.exchange,
        token=position.token,
        symbol=str(position.symbol),
        net_quantity=int(position.net_quantity),
        average_price=float(position.average_price),
        realised_pnl=float(position.realised_pnl),
        charges=float(position.charges),
        buy_quantity=int(position.buy_quantity),
        sell_quantity=int(position.sell_quantity),
        buy_value=float(position.buy_value),
        sell_value=float(position.sell_value),
        updated_utc=to_utc(position.updated_utc),
        last_price=None if last is None else float(last),
    )


def _table_order(position: PositionRecord) -> tuple[str, str]:
    """ORDER BY exchange, token (SQLite compares TEXT bytewise; UTF-8 keeps code point order)."""
    return position.exchange.value, position.token


class PositionCache:
    """Positions by (exchange, token); once loaded, every row of the table, and the open ones."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._rows: dict[PositionKey, PositionRecord] = {}
        self._complete = False
        self._open: dict[PositionKey, PositionRecord] = {}
        self._all_sorted: list[PositionRecord] | None = None
        self._open_sorted: list[PositionRecord] | None = None

    @property
    def complete(self) -> bool:
        """Whether every row of the table is held (a key not held then has no row)."""
        return self._complete

    def get(self, key: PositionKey) -> PositionRecord | None:
        return self._rows.get(key)

    def load(self, positions: Iterable[PositionRecord]) -> None:
        """Every row of the table, as just read."""
        self.clear()
        for position in positions:
            self.put(position)
        self._complete = True

    def put(self, position: PositionRecord) -> None:
        """A position row as it now stands in the database (read or written)."""
        key = (position.exchange, position.token)
        self._rows[key] = position
        self._all_sorted = None
        if position.net_quantity != 0:
            self._open[key] = position
            self._open_sorted = None
        elif self._open.pop(key, None) is not None:
            self._open_sorted = None

    def all(self) -> list[PositionRecord]:
        """Every row in table order (`complete` must be true)."""
        if self._all_sorted is None:
            self._all_sorted = sorted(self._rows.values(), key=_table_order)
        return self._all_sorted

    def open(self) -> list[PositionRecord]:
        """The rows not flat, in table order (`complete` must be true)."""
        if self._open_sorted is None:
            self._open_sorted = sorted(self._open.values(), key=_table_order)
        return self._open_sorted

"""Reconciliation with the broker's books (spec §13.3, §13.6).

Startup, periodic and end-of-day runs compare orders, fills, positions, funds and the day's P&L with
the broker. Any mismatch is recorded with a readable diff and blocks trading until a person runs
`optbot reconcile --ack`; variances beyond the thresholds raise alerts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from optbot.broker.base import Broker
from optbot.broker.daybook import BookPosition
from optbot.broker.errors import BrokerError
from optbot.broker.models import BrokerOrder, BrokerPosition, BrokerTrade
from optbot.config.settings import Settings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.enums import AlertPriority, Exchange, OrderStatus, Side
from optbot.core.events import Alert
from optbot.core.funds import Funds
from optbot.core.timeutil import ist_date
from optbot.execution.expiry import EXPIRY_FILL_SOURCE
from optbot.execution.order_manager import OrderManager
from optbot.persistence.records import FillRecord
from optbot.persistence.store import Store
from optbot.portfolio.trades import closed_trades

log = logging.getLogger("optbot.execution.reconcile")

ReconcileKind = Literal["startup", "periodic", "eod"]
#: Reads of the broker's books one reconciliation makes while optbot's own books keep moving under it.
_LOOKS_WHILE_MOVING = 3


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: str  # order | fill | position | funds | pnl | foreign_order
    key: str
    local: str
    broker: str

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: local {self.local} | broker {self.broker}"


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    kind: ReconcileKind
    discrepancies: tuple[Discrepancy, ...]
    reconciliation_id: int
    funds: Funds | None = None
    #: periodic differences held back while an order settles (see `Reconciler._hold_settling`)
    pending: tuple[Discrepancy, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.discrepancies


@dataclass(frozen=True, slots=True)
class _BrokerBooks:
    """One read of the broker's books: orders, trades, positions and funds."""

    book: list[BrokerOrder]
    trades: list[BrokerTrade]
    positions: list[BrokerPosition]
    funds: Funds


def broker_day_book(fills: Iterable[FillRecord], today: date) -> dict[tuple[Exchange, str], BookPosition]:
    """The position book the broker should show on `today` for these fills (the trading-day roll of
    `optbot.broker.daybook`): fills of earlier days, expiry settlements included (they close the
    contract), rolled overnight so only open quantity carries in at its open average; today's traded
    fills on top. A row's `total_sell_amount - total_buy_amount` is what the broker's row shows."""
    book: dict[tuple[Exchange, str], BookPosition] = {}
    current: date | None = None
    for fill in sorted(fills, key=lambda item: (item.trade_date, item.ts_utc)):
        if fill.trade_date > today or (fill.trade_date == today and fill.source == EXPIRY_FILL_SOURCE):
            continue
        if current is not None and fill.trade_date != current:
            book = _roll(book)
        current = fill.trade_date
        row = book.setdefault((fill.exchange, fill.token), BookPosition())
        row.apply_fill(fill.side is Side.BUY, fill.quantity, fill.price)
    return _roll(book) if current is not None and current != today else book


def _explained(item: Discrepancy, settling: dict[str, set[str]]) -> bool:
    """Whether a settling order explains this difference (see `Reconciler._settling`)."""
    return item.key in settling.get(item.kind, ())


def _roll(book: dict[tuple[Exchange, str], BookPosition]) -> dict[tuple[Exchange, str], BookPosition]:
    rolled = {key: row.rolled() for key, row in book.items()}
    return {key: row for key, row in rolled.items() if row is not None}


class Reconciler:
    def __init__(
        self,
        broker: Broker,
        store: Store,
        clock: Clock,
        settings: Settings,
        *,
        order_manager: OrderManager | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self._broker = broker
        self._store = store
        self._clock = clock
        self._settings = settings.execution
        self._order_manager = order_manager
        self._bus = bus
        self._funds_baseline: tuple[Funds, frozenset[tuple[str, str]]] | None = None
        #: periodic differences pending on a settling order: (kind, key) -> (monotonic first seen, runs)
        self._pending_since: dict[tuple[str, str], tuple[float, int]] = {}

    def trading_allowed(self) -> bool:
        """False while any recorded mismatch is unacknowledged."""
        return not self._store.unacknowledged_mismatches()

    def acknowledge(self, operator: str) -> int:
        return self._store.acknowledge_mismatches(operator)

    async def run_periodic(self, stop: asyncio.Event) -> None:
        """Reconcile every `reconcile_interval_seconds` until `stop` is set; broker errors are retried."""
        while not stop.is_set():
            await self._clock.sleep(self._settings.reconcile_interval_seconds)
            if stop.is_set():
                break
            try:
                await self.run("periodic")
            except BrokerError as exc:
                log.warning("periodic reconciliation skipped: %s", type(exc).__name__)

    async def run(self, kind: ReconcileKind) -> ReconciliationReport:
        books, found = await self._look(kind, catch_up=kind)
        pending: list[Discrepancy] = []
        if kind == "periodic" and self._order_manager is not None:
            if any(_explained(item, self._settling(books)) for item in found):
                # An order still settling (reply unresolved, or filled with its fill not booked yet)
                # explains a difference for now: verify and book the normal way, then look again.
                await self._order_manager.poll_once()
                books, found = await self._look(kind, catch_up="periodic")
            found, pending = self._hold_settling(books, found)
        diff = [str(item) for item in found] + [f"pending {item}" for item in pending]
        reconciliation_id = self._store.record_reconciliation(kind, not found, diff)
        report = ReconciliationReport(kind, tuple(found), reconciliation_id, books.funds, tuple(pending))
        if pending:
            log.warning(
                "reconciliation %s: %d difference(s) pending on orders still settling: %s",
                kind,
                len(pending),
                "; ".join(str(item) for item in pending[:5]),
            )
        if found:
            log.warning("reconciliation %s found %d discrepancies", kind, len(found))
            await self._alert(report)
        return report

    async def _look(
        self, kind: ReconcileKind, catch_up: ReconcileKind
    ) -> tuple[_BrokerBooks, list[Discrepancy]]:
        """Read the broker's books and compare. The order manager keeps booking while the broker is
        read (its own loop, the order-update socket): a difference found while the local books moved
        compares two different moments, so it is read and compared again (at most
        `_LOOKS_WHILE_MOVING` times); what remains is compared as of one moment."""
        for _ in range(_LOOKS_WHILE_MOVING):
            books, before = await self._read_books(kind, catch_up)
            found = self._compare(kind, books)
            if not found or self._local_version() == before:
                break
            catch_up = "periodic"  # startup recovery ran once; later looks only sync fills
        return books, found

    def _local_version(self) -> tuple[object, ...]:
        """Moves whenever optbot books a fill or writes an order or a position."""
        store = self._store
        return (store.fills_signature(), store.order_writes, store.position_writes)

    async def _read_books(
        self, kind: ReconcileKind, catch_up: ReconcileKind
    ) -> tuple[_BrokerBooks, tuple[object, ...]]:
        """The broker's books, after the order manager has caught up with what it can learn from them,
        and the local books' version from just before the broker was read."""
        if catch_up == "startup" and self._order_manager is not None:
            await self._order_manager.recover()
        elif self._order_manager is not None:
            await self._order_manager.sync_fills()
        before = self._local_version()
        book = await self._broker.order_book()
        if self._order_manager is not None and await self._order_manager.adopt_from_book(book):
            await self._order_manager.sync_fills()  # an order settled REJECTED was at the broker after all
        trades = await self._broker.trade_book()
        positions = await self._broker.positions()
        funds = await self._broker.funds()
        self._store.record_funds(funds, kind)
        return _BrokerBooks(book, trades, positions, funds), before

    def _compare(self, kind: ReconcileKind, books: _BrokerBooks) -> list[Discrepancy]:
        book, trades, positions, funds = books.book, books.trades, books.positions, books.funds
        found: list[Discrepancy] = []

        # Only the orders the broker's book names can match a row (not every order ever stored).
        local_orders = {
            order.ordertag: order
            for order in self._store.orders_matching(
                (row.ordertag for row in book if row.ordertag), (row.order_id for row in book)
            )
        }
        local_by_id = {
            order.broker_order_id: order for order in local_orders.values() if order.broker_order_id
        }
        for row in book:
            order = local_orders.get(row.ordertag) if row.ordertag else None
            order = order or local_by_id.get(row.order_id)
            if order is None:
                if row.order_status not in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
                    found.append(
                        Discrepancy(
                            "foreign_order",
                            row.order_id,
                            "unknown",
                            f"{row.side.value} {row.quantity} {row.symbol} {row.status}",
                        )
                    )
                continue
            status = row.order_status
            if status is None:
                found.append(
                    Discrepancy("order", order.ordertag, order.status.value, f"unknown status {row.status!r}")
                )
                continue
            if status is not order.status or row.filled_quantity != order.filled_quantity:
                found.append(
                    Discrepancy(
                        "order",
                        order.ordertag,
                        f"{order.status.value} filled {order.filled_quantity}",
                        f"{status.value} filled {row.filled_quantity}",
                    )
                )

        today = ist_date(self._clock.now_utc())
        # Today's fills, and any day's fills of the orders in the broker's trade book: every local
        # fill either side of the comparison can involve (the store keeps every fill ever made).
        local_fills = self._store.fills(today, today)
        booked = self._store.fills_of_broker_orders(trade.order_id for trade in trades)
        # expiry settlements are booked by optbot itself; no broker trade book lists them
        traded_fills = [fill for fill in local_fills if fill.source != EXPIRY_FILL_SOURCE]
        local_fill_keys = {
            (fill.broker_order_id, fill.fill_id)
            for fill in (*traded_fills, *booked)
            if fill.source != EXPIRY_FILL_SOURCE
        }
        broker_fill_keys = {(trade.order_id, trade.fill_id) for trade in trades}
        for order_id, fill_id in sorted(broker_fill_keys - local_fill_keys):
            found.append(Discrepancy("fill", f"{order_id}/{fill_id}", "missing", "present"))
        for fill in traded_fills:
            if fill.trade_date == today and (fill.broker_order_id, fill.fill_id) not in broker_fill_keys:
                found.append(
                    Discrepancy("fill", f"{fill.broker_order_id}/{fill.fill_id}", "present", "missing")
                )

        broker_net = {(row.exchange, row.token): row.net_quantity for row in positions}
        local_net = {(pos.exchange, pos.token): pos.net_quantity for pos in self._store.open_positions()}
        # optbot settles an expired contract at the close; the broker's book shows it until its
        # overnight roll, so today's settlement quantity is still expected there.
        settled_today: dict[tuple[Exchange, str], int] = {}
        for fill in local_fills:
            if fill.trade_date == today and fill.source == EXPIRY_FILL_SOURCE:
                reversal = fill.quantity if fill.side is Side.SELL else -fill.quantity
                settled_today[(fill.exchange, fill.token)] = (
                    settled_today.get((fill.exchange, fill.token), 0) + reversal
                )
        for key in sorted(set(broker_net) | set(local_net), key=lambda item: (item[0].value, item[1])):
            local_quantity = local_net.get(key, 0)
            broker_quantity = broker_net.get(key, 0)
            if local_quantity + settled_today.get(key, 0) != broker_quantity:
                found.append(
                    Discrepancy(
                        "position", f"{key[0].value}:{key[1]}", str(local_quantity), str(broker_quantity)
                    )
                )

        day_cash = {
            key: row.total_sell_amount - row.total_buy_amount
            for key, row in broker_day_book(local_fills, today).items()
        }
        for position_row in positions:
            broker_cash = position_row.sell_amount - position_row.buy_amount
            local_cash = day_cash.get((position_row.exchange, position_row.token), 0.0)
            if abs(broker_cash - local_cash) > self._settings.reconcile_pnl_variance_rupees:
                found.append(
                    Discrepancy(
                        "pnl",
                        f"{position_row.exchange.value}:{position_row.token}",
                        f"{local_cash:.2f}",
                        f"{broker_cash:.2f}",
                    )
                )

        found.extend(self._funds_variance(kind, funds, local_fills))
        return found

    def _settling(self, books: _BrokerBooks) -> dict[str, set[str]]:
        """What orders still settling explain, by discrepancy kind: the tags of orders in flight or
        awaiting their fills, their broker fills not yet booked, and their instruments. A broker fill
        of an order id optbot does not know counts only while an order's broker id is still unknown
        (its reply unresolved): it may be that order's."""
        settling = {order.ordertag: order for order in self._store.orders_in_flight()}
        settling.update((order.ordertag, order) for order in self._store.orders_awaiting_fills())
        if not settling:
            return {}
        by_broker_id = {order.broker_order_id: order for order in settling.values() if order.broker_order_id}
        unidentified = any(not order.broker_order_id for order in settling.values())
        tags = set(settling)
        instruments = {f"{order.exchange.value}:{order.token}" for order in settling.values()}
        fills: set[str] = set()
        for trade in books.trades:
            if self._store.has_fill(trade.order_id, trade.fill_id):
                continue
            if trade.order_id in by_broker_id or (
                unidentified and self._store.order_by_broker_id(trade.order_id) is None
            ):
                fills.add(f"{trade.order_id}/{trade.fill_id}")
                instruments.add(f"{trade.exchange.value}:{trade.token}")
        # the funds move with a fill the broker booked and optbot has not yet
        funds = {"realised_m2m", "net"} if fills else set()
        return {"order": tags, "fill": fills, "position": instruments, "pnl": instruments, "funds": funds}

    def _hold_settling(
        self, books: _BrokerBooks, found: list[Discrepancy]
    ) -> tuple[list[Discrepancy], list[Discrepancy]]:
        """Split a periodic run's differences into breaks and the ones still pending on a settling
        order. A pending difference seen in more than `reconcile_settling_grace_runs` runs in a row
        and for `reconcile_settling_grace_seconds` real seconds is a break after all; a difference
        nothing settling explains (a foreign order, a fill of a finished order) is one at once."""
        explained = self._settling(books) if found else {}
        now = self._clock.monotonic()
        seen: dict[tuple[str, str], tuple[float, int]] = {}
        breaks: list[Discrepancy] = []
        pending: list[Discrepancy] = []
        for item in found:
            if not _explained(item, explained):
                breaks.append(item)
                continue
            since, runs = self._pending_since.get((item.kind, item.key), (now, 0))
            seen[(item.kind, item.key)] = (since, runs + 1)
            overdue = (
                runs + 1 > self._settings.reconcile_settling_grace_runs
                and now - since >= self._settings.reconcile_settling_grace_seconds
            )
            (breaks if overdue else pending).append(item)
        self._pending_since = seen  # a difference gone is forgotten: the next one starts afresh
        return breaks, pending

    def _funds_variance(
        self, kind: ReconcileKind, funds: Funds, fills: list[FillRecord]
    ) -> list[Discrepancy]:
        threshold = self._settings.reconcile_funds_variance_rupees
        if self._settings.reconcile_funds_model == "realised_m2m":
            today = ist_date(self._clock.now_utc())
            local = sum(trade.gross_pnl for trade in closed_trades(fills) if trade.exit_date == today)
            variance = funds.realised_m2m - local
            if abs(variance) > threshold:
                return [
                    Discrepancy(
                        "funds",
                        "realised_m2m",
                        f"{local:.2f}",
                        f"{funds.realised_m2m:.2f} (variance {variance:+.2f})",
                    )
                ]
            return []
        keys = frozenset((fill.broker_order_id, fill.fill_id) for fill in fills)
        if kind == "startup" or self._funds_baseline is None:
            self._funds_baseline = (funds, keys)
            return []
        baseline, baseline_keys = self._funds_baseline
        expected = baseline.net
        for fill in fills:
            if (fill.broker_order_id, fill.fill_id) in baseline_keys:
                continue
            sign = -1 if fill.side is Side.BUY else 1
            expected += sign * fill.quantity * fill.price - fill.charges
        variance = funds.net - expected
        if abs(variance) > threshold:
            return [
                Discrepancy("funds", "net", f"{expected:.2f}", f"{funds.net:.2f} (variance {variance:+.2f})")
            ]
        return []

    async def _alert(self, report: ReconciliationReport) -> None:
        if self._bus is None:
            return
        preview = "; ".join(str(item) for item in report.discrepancies[:5])
        more = len(report.discrepancies) - 5
        await self._bus.publish(
            Alert(
                ts_utc=self._clock.now_utc(),
                priority=AlertPriority.CRITICAL,
                title=f"Reconciliation mismatch ({report.kind})",
                message=preview + (f"; and {more} more" if more > 0 else ""),
                action_required="review the diff, fix, then run `optbot reconcile --ack`",
                impact="trading is halted until acknowledged",
                dedupe_key=f"reconcile:{report.reconciliation_id}",
            )
        )

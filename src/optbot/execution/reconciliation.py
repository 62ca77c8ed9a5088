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

    @property
    def clean(self) -> bool:
        return not self.discrepancies


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
        if kind == "startup" and self._order_manager is not None:
            await self._order_manager.recover()
        elif self._order_manager is not None:
            await self._order_manager.sync_fills()
        book = await self._broker.order_book()
        if self._order_manager is not None and await self._order_manager.adopt_from_book(book):
            await self._order_manager.sync_fills()  # an order settled REJECTED was at the broker after all
        trades = await self._broker.trade_book()
        positions = await self._broker.positions()
        funds = await self._broker.funds()
        self._store.record_funds(funds, kind)
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
        diff = [str(item) for item in found]
        reconciliation_id = self._store.record_reconciliation(kind, not found, diff)
        report = ReconciliationReport(kind, tuple(found), reconciliation_id, funds)
        if found:
            log.warning("reconciliation %s found %d discrepancies", kind, len(found))
            await self._alert(report)
        return report

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

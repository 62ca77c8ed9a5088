"""The order manager: idempotent intents, the order state machine, verification, the chase and auto-cancel.

Invariants (issue 7): every order is in the store (PENDING_SUBMIT) before the broker is called;
an outcome that might have reached the broker is UNRESOLVED and is settled only by reading the
broker (order-update socket, details/{uid}, order book by ordertag), never by sending again;
positions move only on fills carrying fill ids, each applied once, atomically with the position.

Issue 18: an unresolved order is settled "never reached the broker" only after the order book missed
it in several reads spanning a grace of *real* seconds — and even then a later broker report of it is
adopted (order, fills, position, owner), never refused. Every order message goes through `OrderGate`
(SEBI retail-algo rules: limit-only, tagged, at most N per second per segment). Exits are chased
(re-priced by modify within the price-protection band) and, when one ends unfilled with the position
still open, sent again as a new child order of the same intent until flat or out of attempts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from optbot.broker.base import Broker
from optbot.broker.errors import (
    BrokerError,
    BrokerRejected,
    RateLimited,
    TokenExpired,
    TransientError,
    UnresolvedOrder,
)
from optbot.broker.models import BrokerOrder, BrokerTrade, ModifyRequest, OrderRequest, Quote
from optbot.charges import RateCard
from optbot.config.settings import Settings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.enums import AlertPriority, Exchange, OrderStatus, OrderType, Side, Variety
from optbot.core.events import (
    SIGNAL_EXIT_PLAN,
    Alert,
    Event,
    Fill,
    OrderIntent,
    OrderUpdate,
    RiskDecision,
    Signal,
)
from optbot.core.ids import ordertag_for
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_date
from optbot.execution.chase import ChasePolicy, ChaseSteps
from optbot.execution.order_gate import ForbiddenOrder, OrderGate
from optbot.execution.state_machine import is_legal, is_stale
from optbot.execution.statement import fill_charges
from optbot.execution.throttle import OrderThrottle, ThrottlePriority
from optbot.execution.validation import OrderValidationError, plan_order
from optbot.persistence.records import FillRecord, IntentRecord, OrderEventRecord, OrderRecord
from optbot.persistence.store import Store
from optbot.portfolio.portfolio import Portfolio

log = logging.getLogger("optbot.execution")

InstrumentLookup = Callable[[Exchange, str], Instrument | None]
#: The session close (aware datetime) for an IST trading date, from optbot.calendar; None = no session.
SessionCloseLookup = Callable[[date], datetime | None]

WORKING_STATES = frozenset({OrderStatus.SUBMITTED, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})
#: Ended without filling: an exit that ends so while its position is open is sent again.
UNFILLED_ENDINGS = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})


@dataclass(frozen=True, slots=True)
class SubmitResult:
    intent_id: str
    accepted: bool
    duplicate: bool
    ordertags: tuple[str, ...]
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderActions:
    """What one auto-cancel / chase pass did: orders cancelled, and orders re-priced by a modify of
    the same order (a re-price is never a cancel-and-replace: the order keeps its id and tag)."""

    cancelled: list[str] = field(default_factory=list)
    repriced: list[str] = field(default_factory=list)

    @property
    def tags(self) -> list[str]:
        return [*self.cancelled, *self.repriced]

    def describe(self) -> str:
        parts = []
        if self.cancelled:
            parts.append(f"auto-cancelled {len(self.cancelled)} order(s): {', '.join(self.cancelled)}")
        if self.repriced:
            parts.append(
                f"re-priced {len(self.repriced)} order(s) by modifying them in place: "
                + ", ".join(self.repriced)
            )
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    in_flight: int
    adopted: int
    settled_not_found: int
    still_unresolved: int
    fills_applied: int


def intent_content_hash(intent: OrderIntent) -> str:
    """What makes two intents 'the same order' regardless of id or timestamp."""
    content = {
        "strategy": intent.strategy,
        "exchange": intent.exchange.value,
        "token": intent.token,
        "side": intent.side.value,
        "quantity": intent.quantity,
        "purpose": intent.purpose.value,
        "order_type": intent.order_type.value,
        "product": intent.product.value,
        "limit_price": intent.limit_price,
        "trigger_price": intent.trigger_price,
    }
    return hashlib.sha256(_SORTED_JSON.encode(content).encode()).hexdigest()


#: `json.dumps(..., sort_keys=True)`'s encoder, built once (the same text, so the same hashes)
_SORTED_JSON = json.JSONEncoder(sort_keys=True)


class OrderManager:
    def __init__(
        self,
        broker: Broker,
        store: Store,
        clock: Clock,
        settings: Settings,
        instruments_lookup: InstrumentLookup,
        *,
        bus: EventBus | None = None,
        portfolio: Portfolio | None = None,
        rate_card: RateCard | None = None,
        session_close: SessionCloseLookup | None = None,
    ) -> None:
        self._broker = broker
        self._store = store
        self._clock = clock
        self._settings = settings.execution
        self._cancel_before_close = timedelta(minutes=settings.session.cancel_pending_before_close_minutes)
        self._instruments = instruments_lookup
        self._bus = bus
        self._portfolio = portfolio or Portfolio(store, clock, bus)
        self._rate_card = rate_card or RateCard.load(self._settings.charges_rate_card_file)
        self._session_close = session_close
        self._throttle = OrderThrottle(
            clock,
            self._settings.order_rate_per_second,
            self._settings.order_rate_per_minute,
            self._settings.order_rate_per_hour,
        )
        self._gate = OrderGate(broker, clock, self._settings.max_orders_per_second_per_segment)
        self._chase = ChasePolicy.from_settings(self._settings)
        self._sending: set[str] = set()
        # unresolved orders: monotonic second the reply was lost (or first seen after a restart), and
        # how many order-book reads have missed them since
        self._unresolved_since: dict[str, float] = {}
        self._absent_reads: dict[str, int] = {}
        self._priced_at: dict[str, float] = {}  # monotonic second each working order was last priced
        self._chased_entries: set[str] = set()  # intent ids of basket legs: chased, then cancelled
        self._exit_retry_due: dict[str, datetime] = {}  # exit intent id -> when to send it again
        self._chase_exhausted_alerted: set[str] = set()
        self._surplus_exits: set[str] = set()  # adopted late exits to check against the position
        self._fills_due = False
        self._latest_vix: float | None = None
        self._underlying_prices: dict[str, float] = {}
        self._reported_foreign: set[tuple[str, str]] = set()
        #: (broker order id, fill id) of fills known to be in the store (fills are never removed): the
        #: trade book lists the day's every fill on each sync, and these need no query to skip.
        self._recorded_fills: set[tuple[str, str]] = set()

    @property
    def store(self) -> Store:
        return self._store

    @property
    def portfolio(self) -> Portfolio:
        return self._portfolio

    @property
    def gate(self) -> OrderGate:
        """Every order message leaves through this gate (SEBI rate, limit-only, tagged)."""
        return self._gate

    @property
    def chase_policy(self) -> ChasePolicy:
        return self._chase

    # =============================================================== submit
    def record_signal(self, signal: Signal) -> None:
        """Audit the signal an intent came from (signal → intent → risk decision → order → fill); with
        the entry's exit plan when the signal carries one (read back after a restart)."""
        payload: dict[str, Any] = {
            "strategy": signal.strategy,
            "underlying": signal.underlying,
            "direction": signal.direction.value,
            "reason": signal.reason,
            "strength": signal.strength,
        }
        exit_plan = signal.details.get(SIGNAL_EXIT_PLAN)
        if exit_plan is not None:
            payload[SIGNAL_EXIT_PLAN] = exit_plan
        self._store.audit("signal", signal.trace_id or signal.strategy, payload)

    async def submit(
        self, intent: OrderIntent, quote: Quote | None = None, decision: RiskDecision | None = None
    ) -> SubmitResult:
        """Validate, persist and send an intent. A repeated intent is recognised and not sent again.

        With a risk `decision`, it is recorded in the same transaction as the intent (one commit before
        the send); a refusal is recorded as a rejected intent and an approval for fewer units sends only
        the approved quantity.
        """
        existing = self._store.find_intent(intent.intent_id)
        if decision is None or existing is not None:
            return await self._submit(intent, quote, existing, None)
        if decision.intent_id != intent.intent_id:
            raise ValueError(f"risk decision for {decision.intent_id} given with intent {intent.intent_id}")
        journal = _DecisionJournal(self._store, decision)
        try:
            if not decision.approved or decision.approved_quantity <= 0:
                reason = "risk: " + ("; ".join(decision.reasons) or "refused")
                journal.insert_intent(
                    self._intent_record(intent, intent_content_hash(intent), "REJECTED", reason), []
                )
                return SubmitResult(intent.intent_id, False, False, (), (reason,))
            if decision.approved_quantity < intent.quantity:
                intent = replace(intent, quantity=decision.approved_quantity)
            return await self._submit(intent, quote, None, journal)
        finally:
            journal.record_if_not_yet()

    async def _submit(
        self,
        intent: OrderIntent,
        quote: Quote | None,
        existing: IntentRecord | None,
        journal: _DecisionJournal | None,
    ) -> SubmitResult:
        """`submit` after the risk decision: the intent journalled (with the decision when `journal`
        holds one) and sent, or recognised as a repeat."""
        insert_intent = journal.insert_intent if journal is not None else self._store.insert_intent
        if existing is not None:
            tags = tuple(order.ordertag for order in self._store.orders_for_intent(intent.intent_id))
            log.info("intent %s already known (status %s): not sent again", intent.intent_id, existing.status)
            return SubmitResult(
                intent.intent_id, existing.status == "ACCEPTED", True, tags, ("repeat intent id",)
            )
        content_hash = intent_content_hash(intent)
        now = self._clock.now_utc()
        window = self._settings.duplicate_intent_window_seconds
        if window > 0:
            twin = self._store.find_intent_by_hash(content_hash, now - timedelta(seconds=window))
            if twin is not None:
                reason = f"identical to intent {twin.intent_id} within {window:g} s"
                insert_intent(self._intent_record(intent, content_hash, "DUPLICATE", reason), [])
                tags = tuple(order.ordertag for order in self._store.orders_for_intent(twin.intent_id))
                return SubmitResult(intent.intent_id, False, True, tags, (reason,))
        instrument = self._instruments(intent.exchange, intent.token)
        if quote is None and instrument is not None:
            quote = await self._quote_for(intent.exchange, intent.token)
        try:
            plan = plan_order(intent, instrument, quote, self._settings)
        except OrderValidationError as exc:
            record = self._intent_record(intent, content_hash, "REJECTED", str(exc))
            insert_intent(record, [])
            await self._alert(
                AlertPriority.IMPORTANT,
                "Order intent rejected before sending",
                f"{intent.symbol} {intent.side.value} {intent.quantity}: {exc}",
                dedupe_key=f"intent-rejected:{intent.intent_id}",
            )
            return SubmitResult(intent.intent_id, False, False, (), tuple(exc.reasons))
        orders = [
            OrderRecord(
                ordertag=ordertag_for(intent.intent_id, index),
                intent_id=intent.intent_id,
                child_index=index,
                exchange=intent.exchange,
                token=intent.token,
                symbol=intent.symbol,
                side=intent.side,
                quantity=quantity,
                order_type=plan.order_type,
                product=plan.product,
                variety=Variety.STOPLOSS if plan.trigger_price > 0 else Variety.NORMAL,
                price=plan.price,
                trigger_price=plan.trigger_price,
                purpose=intent.purpose,
                status=OrderStatus.PENDING_SUBMIT,
                created_utc=now,
                updated_utc=now,
                underlying=intent.underlying,
                reference_price=self._reference_price_at_placement(intent),
                vix_baseline=self._latest_vix,
            )
            for index, quantity in enumerate(plan.child_quantities)
        ]
        reason = "; ".join(plan.notes)
        insert_intent(self._intent_record(intent, content_hash, "ACCEPTED", reason), orders)
        for order in orders:
            await self._send(order)
        return SubmitResult(intent.intent_id, True, False, tuple(order.ordertag for order in orders))

    def _reference_price_at_placement(self, intent: OrderIntent) -> float | None:
        """The underlying price the move-cancel compares with: the intent's, else the latest observed."""
        if intent.underlying_reference_price is not None:
            return intent.underlying_reference_price
        if not intent.underlying:
            return None
        return self._underlying_prices.get(intent.underlying)

    def _intent_record(
        self, intent: OrderIntent, content_hash: str, status: str, reason: str
    ) -> IntentRecord:
        return IntentRecord(
            intent_id=intent.intent_id,
            content_hash=content_hash,
            strategy=intent.strategy,
            exchange=intent.exchange,
            token=intent.token,
            symbol=intent.symbol,
            side=intent.side,
            quantity=intent.quantity,
            purpose=intent.purpose,
            order_type=intent.order_type,
            product=intent.product,
            limit_price=intent.limit_price,
            trigger_price=intent.trigger_price,
            created_utc=self._clock.now_utc(),
            status=status,
            reason=reason,
            underlying=intent.underlying,
            underlying_reference_price=intent.underlying_reference_price,
            trace_id=intent.trace_id,
        )

    async def _send(self, order: OrderRecord) -> None:
        priority = ThrottlePriority.EXIT if order.purpose.reduces_risk else ThrottlePriority.ENTRY
        request = OrderRequest(
            exchange=order.exchange,
            token=order.token,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            order_type=order.order_type,
            product=order.product,
            ordertag=order.ordertag,
            price=order.price,
            trigger_price=order.trigger_price,
            variety=order.variety,
        )
        backoff = self._settings.retry_backoff_seconds or [1.0]
        attempt = 0
        self._sending.add(order.ordertag)
        try:
            while True:
                await self._throttle.acquire(priority)
                try:
                    result = await self._gate.place(request)
                except ForbiddenOrder as exc:
                    await self._transition(order.ordertag, OrderStatus.REJECTED, "place", f"not sent: {exc}")
                    await self._alert(AlertPriority.CRITICAL, "Order refused before sending", str(exc))
                    return
                except BrokerRejected as exc:
                    await self._transition(
                        order.ordertag, OrderStatus.REJECTED, "place", f"{exc.code}: {exc.message}"
                    )
                    await self._alert(
                        AlertPriority.IMPORTANT,
                        "Order rejected by the broker",
                        f"{order.symbol} {order.side.value} {order.quantity}: {exc.code} {exc.message}",
                        dedupe_key=f"reject:{order.ordertag}",
                    )
                    return
                except (TransientError, RateLimited) as exc:
                    if attempt >= self._settings.max_retries:
                        detail = f"not sent after {attempt} retries: {type(exc).__name__}"
                        await self._transition(order.ordertag, OrderStatus.REJECTED, "place", detail)
                        await self._alert(
                            AlertPriority.IMPORTANT, "Order could not be sent", f"{order.symbol}: {detail}"
                        )
                        return
                    delay = backoff[min(attempt, len(backoff) - 1)]
                    attempt += 1
                    self._note(
                        order.ordertag,
                        "retry",
                        f"attempt {attempt} in {delay:g} s after {type(exc).__name__}",
                    )
                    await self._clock.sleep(delay)
                    continue
                except TokenExpired:
                    await self._transition(
                        order.ordertag,
                        OrderStatus.REJECTED,
                        "place",
                        "session expired; order was not accepted",
                    )
                    await self._alert(
                        AlertPriority.CRITICAL,
                        "Broker session expired",
                        "An order was refused because the session expired.",
                        action_required="log in again (optbot auth login)",
                    )
                    return
                except UnresolvedOrder as exc:
                    self._unresolved_since[order.ordertag] = self._clock.monotonic()
                    await self._transition(order.ordertag, OrderStatus.UNRESOLVED, "place", exc.reason)
                    return
                except Exception as exc:  # anything else after a send may have reached the broker
                    log.warning(
                        "place_order for %s ended unexpectedly: %s", order.ordertag, type(exc).__name__
                    )
                    detail = f"unknown outcome: {type(exc).__name__}"
                    self._unresolved_since[order.ordertag] = self._clock.monotonic()
                    await self._transition(order.ordertag, OrderStatus.UNRESOLVED, "place", detail)
                    return
                self._priced_at[order.ordertag] = self._clock.monotonic()
                # Not fsynced on its own (the loop would wait on the disk again): a kill -9 cannot
                # lose it, and a power cut before the next durable commit leaves the order as it was
                # before the send, PENDING_SUBMIT, which `recover` adopts from the broker's book by
                # its tag, never sending it again. Any later order is journalled durably before it
                # is sent, and that commit's fsync takes this one with it.
                await self._transition(
                    order.ordertag,
                    OrderStatus.SUBMITTED,
                    "place",
                    "acknowledged",
                    broker_order_id=result.order_id,
                    unique_order_id=result.unique_order_id,
                    submitted=True,
                    durable=False,
                )
                return
        finally:
            self._sending.discard(order.ordertag)

    # ========================================================== transitions
    def _note(self, ordertag: str, source: str, detail: str) -> None:
        order = self._store.get_order(ordertag)
        if order is None:
            return
        now = self._clock.now_utc()
        self._store.record_event(
            OrderEventRecord(ordertag, now, source, order.status, order.status, True, detail)
        )

    async def _transition(
        self,
        ordertag: str,
        target: OrderStatus,
        source: str,
        detail: str = "",
        *,
        broker_order_id: str = "",
        unique_order_id: str = "",
        broker_status: str = "",
        reported_filled: int | None = None,
        submitted: bool = False,
        durable: bool = True,
    ) -> OrderRecord | None:
        """Apply one report to an order through the transition table; returns the saved order
        (`durable`: the commit of a legal transition, see `Store.transaction`)."""
        order = self._store.get_order(ordertag)
        if order is None:
            return None
        now = self._clock.now_utc()
        # the report merged onto the order; one record is built from it per outcome (a verification
        # pass re-reads every working order, and most of its reports change nothing)
        merged: dict[str, Any] = {
            "broker_order_id": order.broker_order_id or broker_order_id,
            "unique_order_id": order.unique_order_id or unique_order_id,
            "broker_status": broker_status or order.broker_status,
            "reported_filled_quantity": max(order.reported_filled_quantity, reported_filled or 0),
            "message": detail or order.message,
            "submitted_utc": order.submitted_utc or (now if submitted or broker_order_id else None),
        }
        current = order.status
        if target is current:
            updated = replace(order, updated_utc=now, **merged)
            if any(getattr(order, name) != value for name, value in merged.items()):
                self._store.save_order(
                    updated, OrderEventRecord(ordertag, now, source, current, target, True, detail)
                )
            return updated
        late_ack = current not in (OrderStatus.PENDING_SUBMIT, OrderStatus.UNRESOLVED)
        if target is OrderStatus.SUBMITTED and late_ack:
            updated = replace(order, updated_utc=now, **merged)
            # the place reply arrived after the socket already moved the order on: keep the ids only
            self._store.save_order(
                replace(updated, message=order.message),
                OrderEventRecord(ordertag, now, source, current, current, True, "late acknowledgement"),
            )
            return updated
        unseen = current is OrderStatus.REJECTED and not order.broker_order_id and source != "place"
        if is_legal(current, target, unseen=unseen):
            saved = replace(order, status=target, updated_utc=now, **merged)
            if unseen:
                detail = f"adopted: the broker reports it after it was settled rejected ({detail})".strip()
            self._store.save_order(
                saved,
                OrderEventRecord(ordertag, now, source, current, target, True, detail),
                durable=durable,
            )
            if saved.reported_filled_quantity > saved.filled_quantity:
                self._fills_due = True
            self._after_transition(order, saved)
            if unseen:
                await self._alert(
                    AlertPriority.IMPORTANT,
                    "Order adopted after a late broker report",
                    f"{saved.symbol} {saved.side.value} {saved.quantity} ({ordertag}) was settled rejected "
                    f"when its reply was lost; the broker now reports it {target.value}: its fills count",
                    dedupe_key=f"adopted:{ordertag}",
                )
                if saved.purpose.reduces_risk and target in WORKING_STATES:
                    self._surplus_exits.add(ordertag)
            await self._publish(
                OrderUpdate(
                    ts_utc=now,
                    order_id=saved.broker_order_id,
                    status=target,
                    broker_status=saved.broker_status,
                    intent_id=saved.intent_id,
                    ordertag=ordertag,
                    token=saved.token,
                    symbol=saved.symbol,
                    filled_quantity=saved.filled_quantity,
                    average_price=saved.average_price,
                    message=detail,
                )
            )
            return saved
        updated = replace(order, updated_utc=now, **merged)
        verdict = "stale report ignored" if is_stale(current, target) else "illegal transition refused"
        if verdict.startswith("illegal"):
            log.warning("order %s: %s %s -> %s (%s)", ordertag, verdict, current.value, target.value, source)
        self._store.save_order(
            replace(updated, message=order.message),
            OrderEventRecord(ordertag, now, source, current, target, False, f"{verdict}: {detail}".strip()),
        )
        if updated.reported_filled_quantity > updated.filled_quantity:
            self._fills_due = True
        return updated

    def _after_transition(self, before: OrderRecord, after: OrderRecord) -> None:
        """Bookkeeping of the in-memory timers; an exit that ended unfilled is scheduled to go again."""
        tag = after.ordertag
        if after.status is not OrderStatus.UNRESOLVED:
            self._unresolved_since.pop(tag, None)
            self._absent_reads.pop(tag, None)
        if after.status.is_terminal:
            self._priced_at.pop(tag, None)
        if (
            after.status in UNFILLED_ENDINGS
            and after.purpose.reduces_risk
            and after.order_type is OrderType.LIMIT  # a resting stop is not turned into an exit now
            and before.status is not OrderStatus.CANCEL_PENDING  # a cancel we asked for is not retried
            and after.filled_quantity < after.quantity
        ):
            delay = timedelta(seconds=self._settings.exit_retry_interval_seconds)
            self._exit_retry_due[after.intent_id] = self._clock.now_utc() + delay
        elif after.intent_id in self._exit_retry_due and not after.status.is_terminal:
            self._exit_retry_due.pop(after.intent_id, None)  # an order of the intent is working again

    # ============================================================ broker reports
    async def on_order_update(self, update: OrderUpdate) -> None:
        """An order-update socket message (already mapped to OrderStatus by the socket client)."""
        order = self._store.get_order(update.ordertag) if update.ordertag else None
        if order is None:
            order = self._store.order_by_broker_id(update.order_id)
        if order is None:
            self._store.record_anomaly(
                "update_for_unknown_order",
                {"order_id": update.order_id, "ordertag": update.ordertag, "status": update.broker_status},
            )
            return
        if update.filled_quantity < 0:
            self._store.record_anomaly("negative_filled_quantity", {"ordertag": order.ordertag})
            return
        await self._transition(
            order.ordertag,
            update.status,
            "socket",
            update.message,
            broker_order_id=update.order_id,
            broker_status=update.broker_status,
            reported_filled=update.filled_quantity,
        )

    async def apply_broker_order(self, row: BrokerOrder, source: str) -> OrderRecord | None:
        """Settle a local order from an order-book / details row (matched by ordertag, then order id)."""
        order = self._store.get_order(row.ordertag) if row.ordertag else None
        if order is None:
            order = self._store.order_by_broker_id(row.order_id)
        if order is None:
            return None
        if row.quantity < 0 or row.filled_quantity < 0:
            self._store.record_anomaly(
                "malformed_order_row",
                {"ordertag": order.ordertag, "order_id": row.order_id, "source": source},
            )
            return order
        status = row.order_status
        if status is None:
            self._store.record_anomaly(
                "unknown_broker_status", {"ordertag": order.ordertag, "status": row.status, "source": source}
            )
            await self._alert(
                AlertPriority.IMPORTANT,
                "Unknown broker order status",
                f"order {row.order_id} reports status {row.status!r}; it stays in flight until settled",
                dedupe_key=f"unknown-status:{row.status}",
            )
            return order
        return await self._transition(
            order.ordertag,
            status,
            source,
            row.text,
            broker_order_id=row.order_id,
            unique_order_id=row.unique_order_id,
            broker_status=row.status,
            reported_filled=row.filled_quantity,
        )

    async def sync_fills(self) -> int:
        """Pull the trade book and apply every fill not yet recorded. Returns fills applied."""
        trades = await self._broker.trade_book()
        await self._adopt_for_unknown_trades(trades)
        applied = 0
        for trade in trades:
            if await self.apply_trade(trade):
                applied += 1
        self._fills_due = bool(self._store.orders_awaiting_fills())
        return applied

    async def _adopt_for_unknown_trades(self, trades: list[BrokerTrade]) -> None:
        """A trade of an order id we do not know may be an order settled REJECTED-unseen that was
        placed after all: read the order book once and adopt such orders by their tag first."""
        unknown = [
            trade
            for trade in trades
            if trade.order_id
            and (trade.order_id, trade.fill_id) not in self._recorded_fills
            and self._store.order_by_broker_id(trade.order_id) is None
            and not self._store.has_fill(trade.order_id, trade.fill_id)
        ]
        if not unknown or not self._store.orders_rejected_unseen(self._clock.now_utc() - timedelta(days=1)):
            return
        try:
            book = await self._broker.order_book()
        except BrokerError as exc:
            log.warning("order book unavailable for late adoption: %s", type(exc).__name__)
            return
        await self.adopt_from_book(book)

    async def apply_trade(self, trade: BrokerTrade) -> bool:
        """Apply one confirmed fill exactly once; bad or foreign rows are recorded and alerted."""
        problem = _trade_problem(trade)
        if problem:
            self._store.record_anomaly("malformed_trade", {"fill_id": trade.fill_id, "problem": problem})
            await self._alert(AlertPriority.IMPORTANT, "Malformed fill from broker", problem)
            return False
        key = (trade.order_id, trade.fill_id)
        if key in self._recorded_fills:
            return False
        order = self._store.order_by_broker_id(trade.order_id)
        if order is None:
            unidentified = any(
                not pending.broker_order_id
                for pending in self._store.orders_in_flight()
                if pending.status in (OrderStatus.UNRESOLVED, OrderStatus.PENDING_SUBMIT)
            )
            if unidentified:
                # it may belong to an order whose id we have not learned yet: settle that first
                self._fills_due = True
                return False
            if key not in self._reported_foreign and not self._store.has_fill(trade.order_id, trade.fill_id):
                self._reported_foreign.add(key)
                self._store.record_anomaly(
                    "fill_for_unknown_order",
                    {"order_id": trade.order_id, "fill_id": trade.fill_id, "token": trade.token},
                )
                await self._alert(
                    AlertPriority.CRITICAL,
                    "Fill for an order optbot did not place",
                    f"order {trade.order_id} {trade.symbol} {trade.side.value} {trade.quantity} @"
                    f" {trade.price}",
                    action_required="reconcile positions (optbot reconcile)",
                    dedupe_key=f"foreign-fill:{trade.order_id}:{trade.fill_id}",
                )
            return False
        if self._store.has_fill(trade.order_id, trade.fill_id):
            if not self._store.in_transaction:
                self._recorded_fills.add(key)
            return False
        if order.filled_quantity + trade.quantity > order.quantity:
            self._store.record_anomaly(
                "overfill", {"ordertag": order.ordertag, "fill_id": trade.fill_id, "quantity": trade.quantity}
            )
            await self._alert(
                AlertPriority.CRITICAL,
                "Fill exceeds order quantity",
                f"order {order.ordertag}: fill {trade.fill_id} of {trade.quantity} over {order.quantity}",
                action_required="reconcile positions (optbot reconcile)",
            )
            return False
        now = self._clock.now_utc()
        trade_date = ist_date(trade.fill_time or now)
        fill = FillRecord(
            fill_id=trade.fill_id,
            broker_order_id=trade.order_id,
            ordertag=order.ordertag,
            intent_id=order.intent_id,
            exchange=order.exchange,
            token=order.token,
            symbol=order.symbol,
            side=order.side,
            quantity=trade.quantity,
            price=trade.price,
            trade_date=trade_date,
            ts_utc=now,
            product=order.product.value,
            ts_exchange=trade.fill_time,
        )
        # An order's filled quantity moves only with its fills (one transaction): none yet, none booked.
        earlier = (
            [
                booked
                for booked in self._store.fills(ordertag=order.ordertag)
                if booked.broker_order_id == trade.order_id
            ]
            if order.filled_quantity
            else []
        )
        fill = replace(
            fill, charges=fill_charges(earlier, fill, self._rate_card, self._settings.charges_rounding)
        )
        filled = order.filled_quantity + trade.quantity
        average = (order.average_price * order.filled_quantity + trade.price * trade.quantity) / filled
        updated_order = replace(order, filled_quantity=filled, average_price=average, updated_utc=now)
        position = self._portfolio.next_position(fill)
        if not self._store.apply_fill(fill, updated_order, position):
            return False
        if not self._store.in_transaction:  # committed: never to be applied again
            self._recorded_fills.add(key)
        await self._publish(
            Fill(
                ts_utc=now,
                fill_id=fill.fill_id,
                order_id=fill.broker_order_id,
                token=fill.token,
                exchange=fill.exchange,
                symbol=fill.symbol,
                side=fill.side,
                quantity=fill.quantity,
                price=fill.price,
                intent_id=fill.intent_id,
                ts_exchange=fill.ts_exchange,
            )
        )
        await self._portfolio.committed(position)
        target = OrderStatus.FILLED if filled == order.quantity else OrderStatus.PARTIALLY_FILLED
        if not order.status.is_terminal and order.status is not target:
            await self._transition(
                order.ordertag, target, "fill", f"fill {trade.fill_id}", reported_filled=filled
            )
        return True

    # ========================================================= verification
    async def poll_once(self) -> None:
        """One verification pass: details for known orders, the order book for unresolved ones, fills."""
        in_flight = [order for order in self._store.orders_in_flight() if order.ordertag not in self._sending]
        need_book: list[OrderRecord] = []
        for order in in_flight:
            if order.status is OrderStatus.PENDING_SUBMIT:
                continue
            if not order.unique_order_id:
                need_book.append(order)
                continue
            try:
                row = await self._broker.order_details(order.unique_order_id)
            except BrokerError as exc:
                log.warning("order details for %s failed: %s", order.ordertag, type(exc).__name__)
                continue
            if row is not None:
                await self.apply_broker_order(row, "details")
            else:
                need_book.append(order)
        if need_book:
            await self._settle_from_book(need_book)
        if self._fills_due or self._store.orders_awaiting_fills():
            try:
                await self.sync_fills()
            except BrokerError as exc:
                log.warning("trade book unavailable: %s", type(exc).__name__)

    async def _settle_from_book(self, orders: list[OrderRecord]) -> tuple[int, int]:
        """Match orders to the order book by ordertag; see `_absent_long_enough` for the ones missing."""
        try:
            book = await self._broker.order_book()
        except BrokerError as exc:
            log.warning("order book unavailable: %s", type(exc).__name__)
            return 0, 0
        by_tag = {row.ordertag: row for row in book if row.ordertag}
        adopted = not_found = 0
        for order in orders:
            row = by_tag.get(order.ordertag)
            if row is not None:
                await self.apply_broker_order(row, "order_book")
                adopted += 1
                continue
            if order.status is OrderStatus.UNRESOLVED and self._absent_long_enough(order.ordertag):
                grace = self._settings.unresolved_not_found_grace_seconds
                reads = self._absent_reads.get(order.ordertag, 0)
                detail = f"not in the broker's order book in {reads} reads over {grace:g} s (real time)"
                await self._transition(order.ordertag, OrderStatus.REJECTED, "order_book", detail)
                not_found += 1
        return adopted, not_found

    def _absent_long_enough(self, ordertag: str) -> bool:
        """One more order-book read missed this unresolved order: may we conclude it never arrived?

        Only when the grace has passed in *real* (monotonic) seconds since its reply was lost — replay
        time can race ahead of a slow reply — and at least `unresolved_not_found_checks` reads missed
        it (after a restart, `recover` decides from the stored send time instead).
        """
        now = self._clock.monotonic()
        since = self._unresolved_since.setdefault(ordertag, now)
        reads = self._absent_reads.get(ordertag, 0) + 1
        self._absent_reads[ordertag] = reads
        waited = now - since
        return (
            waited >= self._settings.unresolved_not_found_grace_seconds
            and reads >= self._settings.unresolved_not_found_checks
        )

    async def adopt_from_book(self, book: list[BrokerOrder]) -> int:
        """Adopt order-book rows of orders settled REJECTED without a broker report (issue 18): their
        reply was lost and the book missed them, but the broker has them after all. Returns adopted."""
        since = self._clock.now_utc() - timedelta(days=1)
        unseen = {order.ordertag for order in self._store.orders_rejected_unseen(since)}
        adopted = 0
        for row in book:
            if row.ordertag in unseen:
                saved = await self.apply_broker_order(row, "order_book")
                if saved is not None and saved.status is not OrderStatus.REJECTED:
                    adopted += 1
        if adopted:
            self._fills_due = True
        return adopted

    async def run(self, stop: asyncio.Event) -> None:
        """The verification and auto-cancel loop, until `stop` is set."""
        while not stop.is_set():
            await self.poll_once()
            await self.check_auto_cancel()
            await self._clock.sleep(self._settings.poll_interval_seconds)

    # ============================================================ recovery
    async def recover(self) -> RecoveryReport:
        """At startup: every order not known to be final is re-read from the broker, never re-sent."""
        in_flight = self._store.orders_in_flight()
        for order in in_flight:
            if order.status is OrderStatus.PENDING_SUBMIT:
                await self._transition(
                    order.ordertag,
                    OrderStatus.UNRESOLVED,
                    "recover",
                    "process stopped before the send outcome was recorded",
                )
        refreshed = self._store.orders_in_flight()
        book = await self._broker.order_book()
        by_tag = {row.ordertag: row for row in book if row.ordertag}
        by_id = {row.order_id: row for row in book}
        adopted = not_found = 0
        # After a restart the reply can no longer arrive and the process could not time the wait: the
        # stored send time stands in, and a later broker report of the order is still adopted.
        grace = timedelta(seconds=self._settings.unresolved_not_found_grace_seconds)
        now = self._clock.now_utc()
        for order in refreshed:
            row = by_tag.get(order.ordertag) or by_id.get(order.broker_order_id)
            if row is not None:
                await self.apply_broker_order(row, "recover")
                adopted += 1
            elif (
                order.status is OrderStatus.UNRESOLVED
                and now - (order.submitted_utc or order.created_utc) >= grace
            ):
                await self._transition(
                    order.ordertag,
                    OrderStatus.REJECTED,
                    "recover",
                    "not in the broker's order book after restart",
                )
                not_found += 1
            elif order.status is OrderStatus.UNRESOLVED:
                self._absent_long_enough(order.ordertag)  # this read counts; the real-time grace starts
        await self.adopt_from_book(book)
        fills = await self.sync_fills()
        remaining = sum(
            1 for order in self._store.orders_in_flight() if order.status is OrderStatus.UNRESOLVED
        )
        report = RecoveryReport(len(in_flight), adopted, not_found, remaining, fills)
        self._store.audit("recovery", "order_manager", asdict(report))
        return report

    # ========================================================= cancellation
    async def cancel(self, ordertag: str, reason: str) -> bool:
        """Request a cancel. Needs a broker order id: an unresolved order is settled first."""
        order = self._store.get_order(ordertag)
        if order is None or order.status not in WORKING_STATES or not order.broker_order_id:
            return False
        saved = await self._transition(ordertag, OrderStatus.CANCEL_PENDING, "cancel", reason)
        if saved is None or saved.status is not OrderStatus.CANCEL_PENDING:
            return False
        await self._throttle.acquire(ThrottlePriority.CANCEL)
        try:
            await self._gate.cancel(order.exchange, order.broker_order_id, order.variety)
        except BrokerRejected as exc:
            self._note(ordertag, "cancel", f"cancel refused: {exc.code} {exc.message}")
            row = await self._safe_details(saved)
            if row is not None:
                await self.apply_broker_order(row, "details")
            return False
        except BrokerError as exc:
            self._note(ordertag, "cancel", f"cancel outcome unknown: {type(exc).__name__}")
            return False
        return True

    async def _safe_details(self, order: OrderRecord) -> BrokerOrder | None:
        if not order.unique_order_id:
            return None
        try:
            return await self._broker.order_details(order.unique_order_id)
        except BrokerError:
            return None

    async def cancel_all(self, reason: str) -> int:
        cancelled = 0
        for order in self._store.orders_in_flight():
            if order.status in WORKING_STATES and await self.cancel(order.ordertag, reason):
                cancelled += 1
        return cancelled

    def observe_vix(self, value: float) -> None:
        self._latest_vix = value

    def observe_underlying(self, underlying: str, price: float) -> None:
        self._underlying_prices[underlying] = price

    def chase_entry(self, intent_id: str) -> None:
        """Chase this entry like an exit (a basket leg must fill or fail fast, not rest): re-priced
        every chase interval within the band, cancelled once the chase is exhausted."""
        self._chased_entries.add(intent_id)

    async def _chase_or_give_up(self, order: OrderRecord) -> str:
        """'repriced', 'waiting', or the reason to cancel a chased entry whose chase is exhausted."""
        steps = self._chase_steps(order.ordertag)
        if not self._chase.exhausted(steps.total):
            return "repriced" if await self._chase_exit(order) else "waiting"
        priced = self._priced_at.setdefault(order.ordertag, self._clock.monotonic())
        if self._clock.monotonic() - priced < self._chase.interval_seconds:
            return "waiting"
        return f"basket leg not filled after {steps.total} chase step(s): {steps.describe()}"

    async def check_auto_cancel(self) -> OrderActions:
        """Cancel entries that waited too long, near the close, on a VIX jump or an underlying move;
        chase working exits (re-price by modify within the price-protection band); send again exits
        that ended unfilled while their position is open."""
        now = self._clock.now_utc()
        timeout = timedelta(seconds=self._settings.pending_order_timeout_seconds)
        close_cutoff = self._close_cutoff(now)
        actions = OrderActions()
        actions.cancelled.extend(await self._cancel_surplus_exits())
        for order in self._store.orders_in_flight():
            if order.status not in WORKING_STATES or not order.broker_order_id:
                continue
            if order.purpose.reduces_risk:
                # An exit is never cancelled for the close, a VIX jump, a move or a timeout: that would
                # leave the risk on. It is chased toward the touch instead.
                if await self._chase_exit(order):
                    actions.repriced.append(order.ordertag)
                continue
            reason = ""
            if order.intent_id in self._chased_entries and not (
                close_cutoff is not None and now >= close_cutoff
            ):
                outcome = await self._chase_or_give_up(order)
                if outcome == "repriced":
                    actions.repriced.append(order.ordertag)
                if outcome in ("repriced", "waiting"):
                    continue
                reason = outcome
            elif close_cutoff is not None and now >= close_cutoff:
                reason = "session close approaching"
            elif self._vix_jumped(order):
                reason = f"VIX jumped more than {self._settings.cancel_on_vix_jump_points:g} points"
            elif self._underlying_moved(order):
                reason = f"underlying moved more than {self._settings.cancel_on_underlying_move_pct:g}%"
            elif order.submitted_utc is not None and now - order.submitted_utc >= timeout:
                if await self._maybe_reprice(order):
                    actions.repriced.append(order.ordertag)
                    continue
                reason = f"pending longer than {timeout.total_seconds():g} s"
            if reason and await self.cancel(order.ordertag, reason):
                actions.cancelled.append(order.ordertag)
        await self.send_due_exit_retries()
        return actions

    def _close_cutoff(self, now: datetime) -> datetime | None:
        if self._session_close is None:
            return None
        close = self._session_close(ist_date(now))
        return None if close is None else close - self._cancel_before_close

    def _vix_jumped(self, order: OrderRecord) -> bool:
        """Compared with the VIX persisted with the order at placement (survives a restart)."""
        if order.vix_baseline is None or self._latest_vix is None:
            return False
        return abs(self._latest_vix - order.vix_baseline) > self._settings.cancel_on_vix_jump_points

    def _underlying_moved(self, order: OrderRecord) -> bool:
        if not order.underlying or not order.reference_price:
            return False
        price = self._underlying_prices.get(order.underlying)
        if price is None:
            return False
        move_pct = abs(price - order.reference_price) / order.reference_price * 100
        return move_pct > self._settings.cancel_on_underlying_move_pct

    async def _maybe_reprice(self, order: OrderRecord) -> bool:
        """An entry past its pending timeout moves to the current marketable limit (bounded by
        max_reprices) when the policy says re-price; else it is cancelled by the caller."""
        if self._settings.reprice_policy != "reprice" or order.status is OrderStatus.PARTIALLY_FILLED:
            return False
        attempts = self._store.count_events(order.ordertag, "reprice")
        if attempts >= self._settings.max_reprices:
            return False
        return await self._reprice(order, attempts)  # the first re-price goes to the touch

    async def _chase_exit(self, order: OrderRecord) -> bool:
        """Re-price a working exit one chase step every `chase_interval_seconds` (real time), at most
        `chase_max_attempts` times; past that it rests at its last price and a person is told."""
        if order.order_type is not OrderType.LIMIT:
            return False  # a stop-loss exit waits for its trigger
        now = self._clock.monotonic()
        priced = self._priced_at.setdefault(order.ordertag, now)
        if now - priced < self._chase.interval_seconds:
            return False
        # a modify the broker refused and a step the price band held still are steps too: else an
        # exit that never moves is re-tried every interval all day, and nobody is told
        steps = self._chase_steps(order.ordertag)
        if self._chase.exhausted(steps.total):
            if order.ordertag not in self._chase_exhausted_alerted:
                self._chase_exhausted_alerted.add(order.ordertag)
                await self._alert(
                    AlertPriority.CRITICAL,
                    "Exit not filling",
                    f"{order.symbol} {order.side.value} {order.remaining_quantity} still open after "
                    f"{steps.total} chase steps: {steps.describe()} (resting at {order.price:.2f})",
                    action_required="check the quote and the price band; close it by hand if needed",
                    dedupe_key=f"chase-exhausted:{order.ordertag}",
                )
            return False
        return await self._reprice(order, steps.total + 1)

    def _chase_steps(self, ordertag: str) -> ChaseSteps:
        """The order's chase steps so far, from its stored events (so they survive a restart)."""
        return ChaseSteps(
            repriced=self._store.count_events(ordertag, "reprice"),
            refused=self._store.count_events(ordertag, "reprice_failed"),
            blocked=self._store.count_events(ordertag, "reprice_blocked"),
        )

    async def _reprice(self, order: OrderRecord, attempt: int) -> bool:
        """Modify the order's limit to chase step `attempt` (the same order: id, tag and fills kept)."""
        if order.order_type is not OrderType.LIMIT:
            return False
        quote = await self._quote_for(order.exchange, order.token)
        instrument = self._instruments(order.exchange, order.token)
        if quote is None or instrument is None:
            return False
        price = self._chase.price(order.side, quote, instrument.tick_size, attempt)
        self._priced_at[order.ordertag] = self._clock.monotonic()
        if price is None or abs(price - order.price) < 1e-9:
            detail = self._blocked_detail(order, quote, instrument.tick_size, attempt, price)
            self._note(order.ordertag, "reprice_blocked", detail)
            return False
        priority = ThrottlePriority.EXIT if order.purpose.reduces_risk else ThrottlePriority.MODIFY
        await self._throttle.acquire(priority)
        try:
            await self._gate.modify(
                ModifyRequest(
                    order_id=order.broker_order_id,
                    exchange=order.exchange,
                    token=order.token,
                    symbol=order.symbol,
                    quantity=order.quantity,
                    order_type=order.order_type,
                    product=order.product,
                    price=price,
                    variety=order.variety,
                )
            )
        except (BrokerError, ForbiddenOrder) as exc:
            self._note(order.ordertag, "reprice_failed", type(exc).__name__)
            return False
        now = self._clock.now_utc()
        self._store.save_order(
            replace(order, price=price, submitted_utc=now, updated_utc=now),
            OrderEventRecord(
                order.ordertag,
                now,
                "reprice",
                order.status,
                order.status,
                True,
                f"modified in place: price {order.price:.2f} -> {price:.2f} (chase step {attempt})",
            ),
        )
        return True

    def _blocked_detail(
        self, order: OrderRecord, quote: Quote, tick: float, attempt: int, price: float | None
    ) -> str:
        """Why chase step `attempt` left the limit where it was, for the order's journal."""
        if price is None:
            return f"chase step {attempt}: no price in the quote to re-price from"
        band = self._chase.band(quote, tick)
        touch = quote.best_bid if order.side is Side.SELL else quote.best_ask
        where = f" [{band.low:.2f}, {band.high:.2f}]" if band is not None else ""
        return (
            f"chase step {attempt}: limit stays at {price:.2f} (touch {touch or 0.0:.2f}, "
            f"last {quote.ltp:.2f}, price band{where})"
        )

    async def _quote_for(self, exchange: Exchange, token: str) -> Quote | None:
        try:
            quotes = await self._broker.quotes("FULL", {exchange: [token]})
        except BrokerError as exc:
            log.warning("quote for %s unavailable: %s", token, type(exc).__name__)
            return None
        return next((quote for quote in quotes if quote.token == token), None)

    async def _cancel_surplus_exits(self) -> list[str]:
        """An exit adopted late (settled REJECTED, then found at the broker) may have been sent again in
        the meantime: if the working exits now exceed the open position, the adopted one is cancelled,
        so a position is never closed twice (a long never turns short)."""
        cancelled: list[str] = []
        for tag in sorted(self._surplus_exits):
            self._surplus_exits.discard(tag)
            order = self._store.get_order(tag)
            if order is None or order.status not in WORKING_STATES:
                continue
            surplus = self._exit_quantity_left(order.exchange, order.token, order.side) < 0
            if surplus and await self.cancel(tag, "late exit beyond the open position"):
                cancelled.append(tag)
        return cancelled

    # ========================================================= exit retries
    def exit_retry_pending(self, intent_id: str) -> bool:
        """True while an exit intent whose order ended unfilled will be sent again (its owner should
        not treat it as refused yet)."""
        return intent_id in self._exit_retry_due

    async def send_due_exit_retries(self) -> list[str]:
        """Send again every exit whose order ended unfilled once its retry interval has passed, for the
        quantity still open and not already being closed. Returns the new ordertags."""
        now = self._clock.now_utc()
        sent: list[str] = []
        for intent_id, due in sorted(self._exit_retry_due.items(), key=lambda item: item[1]):
            if due > now:
                continue
            self._exit_retry_due.pop(intent_id, None)
            tag = await self._retry_exit(intent_id)
            if tag:
                sent.append(tag)
        return sent

    async def _retry_exit(self, intent_id: str) -> str:
        intent = self._store.find_intent(intent_id)
        orders = self._store.orders_for_intent(intent_id)
        if intent is None or not orders:
            return ""
        if any(not order.status.is_terminal for order in orders):  # a freeze slice still working
            self._exit_retry_due[intent_id] = self._clock.now_utc() + timedelta(
                seconds=self._settings.exit_retry_interval_seconds
            )
            return ""
        quantity = self._exit_quantity_left(intent.exchange, intent.token, intent.side)
        quantity = min(quantity, intent.quantity - sum(order.filled_quantity for order in orders))
        if quantity <= 0:
            return ""
        if len(orders) >= self._settings.exit_max_attempts:
            await self._alert(
                AlertPriority.CRITICAL,
                "Exit could not be completed",
                f"{intent.symbol} {intent.side.value} {quantity} still open after {len(orders)} orders "
                f"(last: {orders[-1].status.value} {orders[-1].message})",
                action_required="close the position by hand or with the kill switch (optbot kill)",
                dedupe_key=f"exit-failed:{intent_id}",
            )
            return ""
        quote = await self._quote_for(intent.exchange, intent.token)
        instrument = self._instruments(intent.exchange, intent.token)
        if quote is None or instrument is None:
            self._exit_retry_due[intent_id] = self._clock.now_utc() + timedelta(
                seconds=self._settings.exit_retry_interval_seconds
            )
            return ""
        price = self._chase.price(intent.side, quote, instrument.tick_size, len(orders))
        if price is None:
            return ""
        now = self._clock.now_utc()
        last = orders[-1]
        order = replace(
            last,
            ordertag=ordertag_for(intent_id, max(o.child_index for o in orders) + 1),
            child_index=max(o.child_index for o in orders) + 1,
            quantity=quantity,
            order_type=OrderType.LIMIT,
            variety=Variety.NORMAL,
            price=price,
            trigger_price=0.0,
            status=OrderStatus.PENDING_SUBMIT,
            created_utc=now,
            updated_utc=now,
            broker_order_id="",
            unique_order_id="",
            broker_status="",
            reported_filled_quantity=0,
            filled_quantity=0,
            average_price=0.0,
            message="",
            submitted_utc=None,
        )
        reason = f"exit sent again: {last.ordertag} ended {last.status.value} ({last.message})"
        self._store.add_orders(intent_id, [order], reason)
        log.warning("%s as %s at %.2f", reason, order.ordertag, price)
        await self._send(order)
        return order.ordertag

    def _exit_quantity_left(self, exchange: Exchange, token: str, side: Side) -> int:
        """Open quantity an exit on `side` may still close: the position less working orders on that
        side (negative when they would close more than is open)."""
        position = self._store.position(exchange, token)
        net = position.net_quantity if position is not None else 0
        closable = max(0, net if side is Side.SELL else -net)
        working = sum(
            order.remaining_quantity
            for order in self._store.orders_in_flight()
            if order.exchange is exchange and order.token == token and order.side is side
        )
        return closable - working

    # ============================================================== events
    async def _publish(self, event: Event) -> None:
        if self._bus is not None:
            await self._bus.publish(event)

    async def _alert(
        self,
        priority: AlertPriority,
        title: str,
        message: str,
        *,
        action_required: str = "",
        dedupe_key: str = "",
    ) -> None:
        await self._publish(
            Alert(
                ts_utc=self._clock.now_utc(),
                priority=priority,
                title=title,
                message=message,
                action_required=action_required,
                dedupe_key=dedupe_key or title,
            )
        )


def _trade_problem(trade: BrokerTrade) -> str:
    if not trade.fill_id or not trade.order_id:
        return f"trade row without fill id or order id (order {trade.order_id!r}, fill {trade.fill_id!r})"
    if not isinstance(trade.quantity, int) or trade.quantity <= 0:
        return f"fill {trade.fill_id}: quantity must be a positive integer (got {trade.quantity!r})"
    if not isinstance(trade.price, int | float) or trade.price < 0:
        return f"fill {trade.fill_id}: price must be a non-negative number (got {trade.price!r})"
    return ""


class _DecisionJournal:
    """A risk decision waiting to be journalled with the intent it decided, in one transaction (one
    commit, so one fsync, before the order can be sent). Recorded on its own if no intent row follows
    (an error on the way)."""

    def __init__(self, store: Store, decision: RiskDecision) -> None:
        self._store = store
        self._decision: RiskDecision | None = decision

    def insert_intent(self, record: IntentRecord, orders: list[OrderRecord]) -> None:
        self._store.insert_intent(record, orders, self._decision)
        self._decision = None

    def record_if_not_yet(self) -> None:
        if self._decision is not None:
            self._store.record_risk_decision(self._decision)
            self._decision = None

"""Open positions handed back to the strategies that entered them, after a restart.

A strategy's trades live in its memory; the store keeps the rest: the contract's last entry intent
(its strategy, the underlying's level it was decided at), that intent's fills (price, time, quantity),
its orders' VIX baseline and the audited signal with the exit plan set at entry. On start, and whenever
a position appears that its strategy does not manage, `PositionAdopter` builds a `PositionOrigin` from
them and offers it to the owning strategy. A position nobody takes back (no entry intent: opened by
hand; an owner not running, paused or unable to manage it) is reported once as unmanaged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from optbot.core.enums import Exchange
from optbot.core.events import SIGNAL_EXIT_PLAN
from optbot.instruments.master import InstrumentMaster
from optbot.persistence.records import FillRecord, IntentRecord
from optbot.persistence.store import Store
from optbot.strategy.adoption import PositionOrigin, RecordedExitPlan
from optbot.strategy.runner import StrategyRunner


class PositionAdopter:
    """Offers open positions to the strategies that own them; notes each one left unmanaged once."""

    def __init__(
        self,
        store: Store,
        instruments: InstrumentMaster,
        runner: StrategyRunner,
        note: Callable[[str, str], None],
    ) -> None:
        self.store = store
        self.instruments = instruments
        self.runner = runner
        self.note = note
        #: positions already reported unmanaged (reported again only after they were flat)
        self.unmanaged: set[tuple[Exchange, str]] = set()

    def offer(self, exchange: Exchange, token: str, net_quantity: int, at_start: bool) -> bool:
        """Give the position to its owner unless the owner manages it already; returns whether a
        strategy manages it afterwards. Mid-session (`at_start` False) a strategy that does not take
        positions back is left to handle its own fills."""
        owner = self.store.position_owner(exchange, token)
        strategy = self.runner.running(owner)
        if strategy is not None and strategy.manages_position(token):
            return True
        if strategy is not None and not strategy.adopts_positions():
            if at_start:
                self.note("position", f"{self._symbol(exchange, token)} ({net_quantity}) left to {owner}")
            return False
        origin = self.origin(exchange, token, net_quantity, owner)
        if strategy is not None and self.runner.adopt(strategy, origin):
            self.unmanaged.discard((exchange, token))
            return True
        self._report_unmanaged(origin)
        return False

    def flat(self, exchange: Exchange, token: str) -> None:
        """The position closed: a new one in the contract is reported afresh."""
        self.unmanaged.discard((exchange, token))

    def origin(self, exchange: Exchange, token: str, net_quantity: int, owner: str) -> PositionOrigin:
        """What the store records of the position and its last entry."""
        contract = self.instruments.get(exchange, token)
        position = self.store.position(exchange, token)
        symbol = contract.symbol if contract is not None else position.symbol if position else token
        base = PositionOrigin(
            exchange,
            token,
            symbol,
            contract.underlying if contract is not None else "",
            net_quantity,
            position.average_price if position is not None else 0.0,
            owner,
            contract,
        )
        intent = self.store.last_entry_intent(exchange, token) if owner else None
        if intent is None:
            return base
        return self._with_entry(base, intent)

    def _with_entry(self, base: PositionOrigin, intent: IntentRecord) -> PositionOrigin:
        orders = self.store.orders_for_intent(intent.intent_id)
        fills: list[FillRecord] = [
            fill for order in orders for fill in self.store.fills(ordertag=order.ordertag)
        ]
        filled = sum(fill.quantity for fill in fills)
        entry_price = sum(fill.quantity * fill.price for fill in fills) / filled if filled else None
        entry_time = min((fill.ts_utc for fill in fills), default=None)
        baselines = [order.vix_baseline for order in orders if order.vix_baseline is not None]
        return replace(
            base,
            underlying=base.underlying or intent.underlying,
            entry_intent_id=intent.intent_id,
            entry_time=entry_time,
            entry_price=entry_price,
            entry_quantity=filled,
            entry_underlying=intent.underlying_reference_price,
            entry_vix=baselines[0] if baselines else None,
            recorded_plan=self._recorded_plan(intent.trace_id),
        )

    def _recorded_plan(self, trace_id: str) -> RecordedExitPlan | None:
        """The exit plan audited with the entry's signal (same trace id), if it recorded one."""
        if not trace_id:
            return None
        for row in reversed(self.store.audit_rows(trace_id)):
            if row["kind"] == "signal":
                return RecordedExitPlan.from_detail(row["payload"].get(SIGNAL_EXIT_PLAN))
        return None

    def _report_unmanaged(self, origin: PositionOrigin) -> None:
        key = (origin.exchange, origin.token)
        if key in self.unmanaged:
            return
        self.unmanaged.add(key)
        if not origin.owner:
            who = "no strategy entered it (opened by hand?)"
        elif self.runner.running(origin.owner) is None:
            who = f"its entry strategy {origin.owner} is not running"
        else:
            who = f"{origin.owner} could not take it back"
        self.note(
            "position",
            f"{origin.symbol} ({origin.net_quantity}) is unmanaged: {who}; no stop, target or trail "
            "runs on it until the end-of-day flatten or an operator exit",
        )

    def _symbol(self, exchange: Exchange, token: str) -> str:
        contract = self.instruments.get(exchange, token)
        return contract.symbol if contract is not None else token

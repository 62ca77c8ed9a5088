"""`BarVenue`: the paper broker's books, filled on bars instead of quotes (the backtest venue).

A backtest has bars, not a tape: inventing ticks inside a bar makes the fill (and the P&L) depend on
the invented path. Here resting orders are evaluated once per bar of their own contract, by
`optbot.broker.paper.fill_model.decide_on_bar`: market orders meet the next bar's open plus the modelled
spread and slippage, limits fill only when the bar trades through them, stops trigger on the range.
At most `bar_volume_share` of a real bar's volume fills (summed over the orders on that contract), a
bar that did not trade fills nothing, and when a stop and a target on one contract are both inside the
same bar only one of them fills (`same_bar_stop_target`, pessimistic by default).

Everything else (validation, funds, margin, charges, the day roll, order ids, and reporting every
status change and fill through the listeners the engine reads as order-update events) is the
`PaperBroker`'s, unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from optbot.broker.paper.broker import CANCELLED, OPEN, PaperBroker
from optbot.broker.paper.fill_model import BarPrices, FillDecision, decide_on_bar
from optbot.core.enums import OrderType

StopTargetRule = Literal["pessimistic", "optimistic"]
_STOPS = (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET)


class BarVenue(PaperBroker):
    """The simulated backtest venue: `match_bar(token, bar)` is the only way an order fills."""

    volume_share: float = 0.1
    stop_target_rule: StopTargetRule = "pessimistic"

    def configure_bars(self, volume_share: float, stop_target_rule: StopTargetRule) -> None:
        self.volume_share = volume_share
        self.stop_target_rule = stop_target_rule

    # Quotes never fill anything here: only bars do.
    def match(self) -> int:
        return 0

    def match_token(self, token: str) -> int:
        return 0

    def _fill_if_possible(self, order_id: str) -> int:
        return 0

    def has_working_orders(self) -> bool:
        """Whether any order rests (a backtest asks every bar before reading any option bar)."""
        return bool(self._working)

    def working_tokens(self) -> list[str]:
        """Contracts with a resting order (the only ones whose bars the backtest must read to fill)."""
        return sorted({self._orders[order_id].token for order_id in self._working})

    def match_bar(self, token: str, bar: BarPrices) -> int:
        """Evaluate every resting order on `token` against one of its bars; returns fills made."""
        self._sync_day()
        ids = sorted(oid for oid in self._working if self._orders[oid].token == token)
        if not ids:
            return 0
        decisions = {oid: decide_on_bar(self._model, self._working[oid], bar) for oid in ids}
        skipped = self._same_bar_loser(decisions)
        room = self._bar_room(token, bar)
        fills = 0
        for order_id in ids:
            decision = decisions[order_id]
            self._note_trigger(order_id, decision)
            if decision.price is None or order_id in skipped:
                self._expire_ioc(order_id, bar)
                continue
            order = self._orders[order_id]
            lot = max(1, self._instrument(order.exchange, order.token).lot_size)
            wanted = order.quantity - order.filled_quantity
            quantity = wanted if room is None else min(wanted, room // lot * lot)
            made = self._execute(order, quantity, decision.price)
            if made and room is not None:
                room -= quantity
            fills += made
            self._expire_ioc(order_id, bar)
        return fills

    def _bar_room(self, token: str, bar: BarPrices) -> int | None:
        """Units this bar can still fill: a share of its volume; None for a modelled bar (no volume)."""
        if bar.volume is None:
            return None
        return int(bar.volume * self.volume_share)

    def _same_bar_loser(self, decisions: dict[str, FillDecision]) -> set[str]:
        """Orders that may not fill because a stop and a target on the same side both fill in this bar."""
        losers: set[str] = set()
        for order_id, decision in decisions.items():
            if decision.price is None:
                continue
            working = self._working[order_id]
            is_stop = working.order_type in _STOPS
            rivals = [
                other
                for other, other_decision in decisions.items()
                if other != order_id
                and other_decision.price is not None
                and self._working[other].side is working.side
                and (self._working[other].order_type in _STOPS) != is_stop
            ]
            if not rivals:
                continue
            loses = (not is_stop) if self.stop_target_rule == "pessimistic" else is_stop
            if loses:
                losers.add(order_id)
        return losers

    def _note_trigger(self, order_id: str, decision: FillDecision) -> None:
        working = self._working.get(order_id)
        if working is None or not decision.triggered or working.triggered:
            return
        self._working[order_id] = replace(working, triggered=True)
        self._emit(replace(self._orders[order_id], status=OPEN, update_time=self._clock.now_utc()))

    def _expire_ioc(self, order_id: str, bar: BarPrices) -> None:
        """An IOC order's unfilled rest is cancelled after the first bar it could meet."""
        working = self._working.get(order_id)
        if order_id in self._ioc and working is not None and working.accepted_at <= bar.start:
            self._working.pop(order_id, None)
            self._emit(
                replace(
                    self._orders[order_id],
                    status=CANCELLED,
                    text="IOC: unfilled quantity cancelled",
                    update_time=self._clock.now_utc(),
                )
            )

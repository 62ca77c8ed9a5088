"""Multi-leg baskets that never leave a naked leg.

A strategy hands its legs over together; the execution layer, not the strategy, decides the order:

1. the whole basket's margin is asked of the broker's margin calculator (hedge benefit included)
   before the first order, and the basket is refused whole when it does not fit;
2. bought legs (the hedges) go first, as one wave; written legs are sent only once every bought leg
   has filled in full;
3. a leg that cannot be placed or filled within its order policy (risk refusal, broker reject,
   cancelled after its re-price/chase attempts, a partial fill that ends) fails the basket: the working
   legs are cancelled and every leg that filled is closed again (written legs bought back before
   hedges are sold), and the journal says which leg failed and why.

`Basket` is the pure state machine; the trading engine feeds it results and sends what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from optbot.core.enums import IntentPurpose, OrderType, Side
from optbot.core.events import BASKET_UNWOUND, OrderIntent
from optbot.core.ids import new_id

BASKET_STRATEGY = "basket"


class BasketPhase(StrEnum):
    HEDGES = "hedges"
    WRITES = "writes"
    COMPLETE = "complete"
    UNWINDING = "unwinding"
    REFUSED = "refused"


@dataclass
class BasketLeg:
    intent: OrderIntent
    filled: int = 0
    sent: bool = False
    ended: bool = False  # its orders are all final

    @property
    def complete(self) -> bool:
        return self.filled >= self.intent.quantity


@dataclass
class Basket:
    """One strategy's legs placed as a unit (see the module docstring for the rules)."""

    label: str
    intents: Sequence[OrderIntent]
    basket_id: str = field(default_factory=new_id)
    phase: BasketPhase = BasketPhase.HEDGES
    failure: str = ""
    legs: dict[str, BasketLeg] = field(init=False)
    _closing_writes: dict[str, int] = field(default_factory=dict)  # buy-back intent id -> units left
    _hedges_closed: bool = False

    def __post_init__(self) -> None:
        self.legs = {intent.intent_id: BasketLeg(intent) for intent in self.intents}
        if not self._wave(Side.BUY):
            self.phase = BasketPhase.WRITES

    def _wave(self, side: Side) -> list[BasketLeg]:
        return [leg for leg in self.legs.values() if leg.intent.side is side]

    def owns(self, intent_id: str) -> bool:
        return intent_id in self.legs or intent_id in self._closing_writes

    @property
    def strategy(self) -> str:
        return self.intents[0].strategy if self.intents else ""

    def refuse(self, reason: str) -> None:
        """Refused before any order (margin): nothing to unwind."""
        self.phase = BasketPhase.REFUSED
        self.failure = reason

    def to_send(self) -> list[OrderIntent]:
        """Legs of the current wave not sent yet (marked sent)."""
        if self.phase is BasketPhase.HEDGES:
            wave = self._wave(Side.BUY)
        elif self.phase is BasketPhase.WRITES:
            wave = self._wave(Side.SELL)
        else:
            return []
        out = []
        for leg in wave:
            if not leg.sent:
                leg.sent = True
                out.append(leg.intent)
        return out

    def on_fill(self, intent_id: str, quantity: int, now: datetime) -> list[OrderIntent]:
        """A leg (or a closing order) filled; returns what to send next: the written legs once the
        hedges are all in, or, while unwinding, the closing order for a late fill and the hedges'
        closing orders once every written leg is flat again."""
        if intent_id in self._closing_writes:
            self._closing_writes[intent_id] -= quantity
            return self._hedges_if_safe(now)
        leg = self.legs.get(intent_id)
        if leg is None:
            return []
        leg.filled += quantity
        if self.phase is BasketPhase.UNWINDING:
            if leg.intent.side is Side.SELL:
                return [self._close_write(leg, now, quantity)]
            return [self._closing(leg, now, quantity)] if self._hedges_closed else []
        if self.phase is BasketPhase.HEDGES and all(item.complete for item in self._wave(Side.BUY)):
            self.phase = BasketPhase.WRITES
            return self.to_send()
        if self.phase is BasketPhase.WRITES and all(item.complete for item in self.legs.values()):
            self.phase = BasketPhase.COMPLETE
        return []

    def on_leg_ended(self, intent_id: str, reason: str, now: datetime) -> list[OrderIntent]:
        """A leg's orders are all final: short of its quantity it fails the basket (returns the
        closing orders for what filled); while unwinding it may free the hedges to be closed."""
        leg = self.legs.get(intent_id)
        if leg is None or self.phase is BasketPhase.REFUSED:
            return []
        leg.ended = True
        if self.phase is BasketPhase.UNWINDING:
            return self._hedges_if_safe(now)
        if leg.complete:
            return []
        what = f"leg {leg.intent.side.value} {leg.intent.quantity} {leg.intent.symbol}"
        return self.fail(f"{what}: {reason}", now)

    def fail(self, reason: str, now: datetime) -> list[OrderIntent]:
        """Buy back every written leg that filled now; sell the hedges only once no written leg can
        still fill and every one is bought back (so no moment leaves a naked short)."""
        self.phase = BasketPhase.UNWINDING
        self.failure = reason
        writes = [self._close_write(leg, now, leg.filled) for leg in self._wave(Side.SELL) if leg.filled > 0]
        return writes + self._hedges_if_safe(now)

    def closing_ids(self) -> list[str]:
        return list(self._closing_writes)

    def _close_write(self, leg: BasketLeg, now: datetime, quantity: int) -> OrderIntent:
        closing = self._closing(leg, now, quantity)
        self._closing_writes[closing.intent_id] = quantity
        return closing

    def _hedges_if_safe(self, now: datetime) -> list[OrderIntent]:
        if self._hedges_closed or self.phase is not BasketPhase.UNWINDING:
            return []
        writes_final = all(not leg.sent or leg.ended or leg.complete for leg in self._wave(Side.SELL))
        if not writes_final or any(left > 0 for left in self._closing_writes.values()):
            return []
        self._hedges_closed = True
        return [self._closing(leg, now, leg.filled) for leg in self._wave(Side.BUY) if leg.filled > 0]

    def working(self) -> list[str]:
        """Intent ids of legs sent and not final (their orders are cancelled on failure)."""
        return [
            intent_id
            for intent_id, leg in self.legs.items()
            if leg.sent and not leg.ended and not leg.complete
        ]

    def _closing(self, leg: BasketLeg, now: datetime, quantity: int | None = None) -> OrderIntent:
        intent = leg.intent
        side = Side.SELL if intent.side is Side.BUY else Side.BUY
        return OrderIntent(
            ts_utc=now,
            intent_id=new_id(),
            strategy=BASKET_STRATEGY,
            token=intent.token,
            exchange=intent.exchange,
            symbol=intent.symbol,
            side=side,
            quantity=leg.filled if quantity is None else quantity,
            purpose=IntentPurpose.EXIT,
            order_type=OrderType.LIMIT,
            product=intent.product,
            limit_price=None,
            underlying=intent.underlying,
            option_type=intent.option_type,
            reason=f"{BASKET_UNWOUND} ({self.label}): {self.failure}",
            trace_id=intent.trace_id,
        )


__all__ = ["BASKET_STRATEGY", "Basket", "BasketLeg", "BasketPhase"]

"""The order state machine: an explicit transition table; anything else is refused and logged.

An acknowledgement (SUBMITTED/OPEN) is not a fill: filled quantity moves only with fills that carry
fill ids. Terminal states never change again, so a late or duplicated update cannot revive an order —
with one exception: an order settled REJECTED without the broker ever having reported it (its reply
was lost and it was absent from the order book) is only *believed* not to exist. If the broker later
reports it after all, the broker is right: the order is adopted into the state the broker reports
(`unseen=True`), so its fills, position and owner follow the truth.
"""

from __future__ import annotations

from optbot.core.enums import OrderStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING_SUBMIT: frozenset(
        {S.SUBMITTED, S.UNRESOLVED, S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED}
    ),
    S.SUBMITTED: frozenset(
        {
            S.UNRESOLVED,
            S.OPEN,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCEL_PENDING,
            S.CANCELLED,
            S.REJECTED,
            S.EXPIRED,
        }
    ),
    S.UNRESOLVED: frozenset(
        {
            S.SUBMITTED,
            S.OPEN,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCEL_PENDING,
            S.CANCELLED,
            S.REJECTED,
            S.EXPIRED,
        }
    ),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCEL_PENDING, S.CANCELLED, S.REJECTED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCEL_PENDING, S.CANCELLED, S.EXPIRED}),
    S.CANCEL_PENDING: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

#: How far along an order is; a live report never moves an order backwards except a refused cancel.
_PROGRESS = {
    S.PENDING_SUBMIT: 0,
    S.SUBMITTED: 1,
    S.UNRESOLVED: 1,
    S.OPEN: 2,
    S.CANCEL_PENDING: 3,
    S.PARTIALLY_FILLED: 3,
}


#: What a broker report may move an order settled REJECTED-unseen to: the order existed after all.
LATE_ARRIVAL: frozenset[S] = frozenset(
    {S.SUBMITTED, S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}
)


class IllegalTransition(Exception):
    def __init__(self, current: S, target: S) -> None:
        super().__init__(f"illegal order transition {current.value} -> {target.value}")
        self.current = current
        self.target = target


def is_legal(current: S, target: S, *, unseen: bool = False) -> bool:
    """`unseen`: the order was settled without any broker report of it (see the module docstring)."""
    if unseen and current is S.REJECTED:
        return target in LATE_ARRIVAL
    return target in TRANSITIONS[current]


def check(current: S, target: S, *, unseen: bool = False) -> None:
    if not is_legal(current, target, unseen=unseen):
        raise IllegalTransition(current, target)


def is_stale(current: S, target: S) -> bool:
    """A report older than what we already know (e.g. 'open' after 'partially filled') is not an error.

    A terminal order contradicted by another terminal state (FILLED then CANCELLED) is not stale: that
    is an illegal transition and is logged as one.
    """
    if current.is_terminal:
        return not target.is_terminal  # an older working report delivered after the final one
    if target.is_terminal:
        return False
    if current is S.CANCEL_PENDING and target in (S.OPEN, S.PARTIALLY_FILLED):
        return False  # the cancel was refused: a real move back
    return _PROGRESS.get(target, 0) <= _PROGRESS.get(current, 0) and target is not S.PARTIALLY_FILLED

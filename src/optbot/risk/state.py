"""The trading state machine: ACTIVE / REDUCING / HALTED with an explicit transitions table.

HALTED is entered by a breaker or the kill switch; it is left only through REDUCING, so every
resume starts at a reduced size and steps back up (spec §4.3 gradual resume).
"""

from __future__ import annotations

from dataclasses import dataclass

from optbot.core.enums import RiskState

#: Allowed transitions. HALTED -> ACTIVE is deliberately missing: resumes go through REDUCING.
TRANSITIONS: frozenset[tuple[RiskState, RiskState]] = frozenset(
    {
        (RiskState.ACTIVE, RiskState.REDUCING),
        (RiskState.ACTIVE, RiskState.HALTED),
        (RiskState.REDUCING, RiskState.ACTIVE),
        (RiskState.REDUCING, RiskState.HALTED),
        (RiskState.HALTED, RiskState.REDUCING),
    }
)


class IllegalTransition(RuntimeError):
    """A transition outside TRANSITIONS was attempted: a bug in the engine, never user input."""


@dataclass(frozen=True, slots=True)
class Transition:
    previous: RiskState
    current: RiskState
    reason: str


class TradingStateMachine:
    """Holds the current state and refuses transitions not in the table."""

    def __init__(self, initial: RiskState = RiskState.ACTIVE) -> None:
        self._state = initial

    @property
    def state(self) -> RiskState:
        return self._state

    def can_move(self, target: RiskState) -> bool:
        return (self._state, target) in TRANSITIONS

    def move(self, target: RiskState, reason: str) -> Transition | None:
        """Move to `target`; None when already there. Raises IllegalTransition otherwise."""
        if target is self._state:
            return None
        if not self.can_move(target):
            raise IllegalTransition(f"{self._state} -> {target} is not allowed ({reason})")
        transition = Transition(self._state, target, reason)
        self._state = target
        return transition

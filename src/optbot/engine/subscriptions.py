"""When a subscribed contract may leave the feed: the rule shared by live sessions and replays."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from optbot.core.instrument import InstrumentKey


class LeavingStrikes:
    """A contract leaves once it has been unwanted at two refreshes in a row, so a price sitting
    between two strikes does not churn the subscription; wanted again, its count starts over."""

    def __init__(self) -> None:
        self._unwanted_once: set[InstrumentKey] = set()

    def due(
        self, subscribed: Iterable[InstrumentKey], wanted: Collection[InstrumentKey]
    ) -> list[InstrumentKey]:
        """The subscribed keys to drop now (in `subscribed` order); call once per refresh."""
        unwanted = [key for key in subscribed if key not in wanted]
        due = [key for key in unwanted if key in self._unwanted_once]
        self._unwanted_once = set(unwanted) - set(due)
        return due

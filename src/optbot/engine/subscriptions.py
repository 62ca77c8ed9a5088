"""When a subscribed contract may leave the feed: the rule shared by live sessions and replays."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from optbot.core.instrument import InstrumentKey


class LeavingStrikes:
    """A contract leaves once it has been unwanted at two refreshes in a row, so a price sitting
    between two strikes does not churn the subscription; wanted again, its count starts over."""

    def __init__(self) -> None:
        self._unwanted_once: set[InstrumentKey] = set()
        self._cut_over = False

    def cut_over(self) -> None:
        """Spec §3.4 gap response ("cancel all existing subscriptions", "new ATM calculation"): after an
        opening gap the old window is far from the money, so at the next refresh every contract outside
        the new window leaves at once instead of after two refreshes. What is wanted (the new ATM
        window, held and ordered contracts) is never dropped."""
        self._cut_over = True

    def due(
        self, subscribed: Iterable[InstrumentKey], wanted: Collection[InstrumentKey]
    ) -> list[InstrumentKey]:
        """The subscribed keys to drop now (in `subscribed` order); call once per refresh."""
        unwanted = [key for key in subscribed if key not in wanted]
        if self._cut_over:
            self._cut_over = False
            self._unwanted_once = set()
            return unwanted
        due = [key for key in unwanted if key in self._unwanted_once]
        self._unwanted_once = set(unwanted) - set(due)
        return due

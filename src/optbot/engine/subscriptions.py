"""Which strikes the feed carries and when a contract may leave it: the rules shared by live sessions
and replays, including the spec §3.4 response to an opening gap."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from optbot.config.sections.instruments import InstrumentsSettings
from optbot.core.instrument import InstrumentKey
from optbot.core.timeutil import ist_date
from optbot.data.opening_gap import OpeningGap
from optbot.instruments.chain import OptionChain


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


@dataclass(slots=True)
class _GapWindow:
    opened_utc: datetime
    atm: float | None = None
    stable_since: datetime | None = None


class GapWindows:
    """Spec §3.4 "emergency token pool" per underlying after an opening gap: around the new ATM the
    window widens to at least `gap_pool_strikes` strikes and every strike within ±`gap_range_points`
    (never narrower than the normal window), until the ATM has stayed on one strike for
    `gap_stability_minutes` ("wait for stability ... reduce to the normal range"), and never past its
    session (a window nobody read that day does not reach the next one, so a backtest split into chunks
    quotes what one process does). Time is the caller's clock, so a backtest narrows it at the same
    moment a live session would."""

    def __init__(self, settings: InstrumentsSettings) -> None:
        self.settings = settings
        self._open: dict[str, _GapWindow] = {}

    def open(self, underlying: str, at: datetime) -> None:
        self._open[underlying.upper()] = _GapWindow(at)

    def is_open(self, underlying: str) -> bool:
        return underlying.upper() in self._open

    def strikes(self, chain: OptionChain, spot: float, now: datetime, normal_count: int) -> list[float]:
        """The listed strikes to carry for `chain` at `spot`: the `normal_count` nearest, widened while
        the underlying's gap window is open."""
        normal = chain.nearest_strikes(normal_count, spot)
        window = self._open.get(chain.underlying)
        if window is None:
            return normal
        if ist_date(window.opened_utc) != ist_date(now):  # a gap is one session's: never carried over
            del self._open[chain.underlying]
            return normal
        atm = chain.atm(spot)
        if atm != window.atm or window.stable_since is None:
            window.atm, window.stable_since = atm, now
        elif now - window.stable_since >= timedelta(minutes=self.settings.gap_stability_minutes):
            del self._open[chain.underlying]
            return normal
        wide = set(normal) | set(chain.nearest_strikes(self.settings.gap_pool_strikes, atm))
        return sorted(wide | set(chain.strikes_within(self.settings.gap_range_points, atm)))


def respond_to_opening_gap(
    gap: OpeningGap,
    windows: GapWindows,
    leaving: LeavingStrikes | None,
    note: Callable[[str, str], None],
) -> None:
    """Spec §3.4 gap response, the same in a live session, a replay and a bar backtest: the gapped
    underlying's strike window widens around the new ATM (`GapWindows`, the chain a strategy reads) and
    the old strikes leave the feed at the next refresh (`LeavingStrikes.cut_over`; a bar backtest has
    no feed subscriptions, so None). Entries wait for the price to settle in the strategies
    (`strategy.gap_stabilisation_minutes`)."""
    windows.open(gap.symbol, gap.ts_utc)
    if leaving is not None:
        leaving.cut_over()
    note(
        "feed",
        f"opening gap {gap.symbol} {gap.gap_pct:+.2f}%: re-centring the strike window now "
        f"(widened for {windows.settings.gap_stability_minutes:g} stable minute(s))",
    )

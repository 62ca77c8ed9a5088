"""Which strikes the feed carries, when its window is refreshed and when a contract may leave it: the
rules shared by live sessions and replays (spec §3.3 ATM monitoring and gradual replacement), including
the spec §3.4 response to an opening gap."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from optbot.config.sections.instruments import InstrumentsSettings
from optbot.core.instrument import InstrumentKey
from optbot.core.timeutil import ist_date
from optbot.data.opening_gap import OpeningGap
from optbot.instruments.chain import OptionChain

#: The full refresh of the feed's window, whatever the price did: held and ordered contracts, the other
#: expiries the strategies watch, a newly listed expiry, a gap window narrowing. Between two of them the
#: ATM check (`FeedWindow.refresh_due`) refreshes at once when the money moved.
SUBSCRIPTION_REFRESH_SECONDS = 60.0

#: An underlying's listed chain (the trading expiry's) and its last price: what its window is centred on.
PricedChain = tuple[OptionChain, float]


class LeavingStrikes:
    """Spec §3.3 gradual replacement: a contract leaves the feed once it has been unwanted for
    `replacement_window` of the session clock, counted from the refresh that first found it unwanted,
    so the new strikes overlap the old ones for that long and a price sitting between two strikes
    does not churn the subscription. Wanted again before then, it stays and its wait starts over.
    Held and ordered contracts are always wanted, so they never leave."""

    def __init__(self, replacement_window: timedelta) -> None:
        self.replacement_window = replacement_window
        self._unwanted_since: dict[InstrumentKey, datetime] = {}
        self._cut_over = False

    def cut_over(self) -> None:
        """Spec §3.4 gap response ("cancel all existing subscriptions", "new ATM calculation"): after an
        opening gap the old window is far from the money, so at the next refresh every contract outside
        the new window leaves at once instead of after the replacement window. What is wanted (the new
        ATM window, held and ordered contracts) is never dropped."""
        self._cut_over = True

    def due(
        self, subscribed: Iterable[InstrumentKey], wanted: Collection[InstrumentKey], now: datetime
    ) -> list[InstrumentKey]:
        """The subscribed keys to drop now (in `subscribed` order); call at every refresh."""
        unwanted = [key for key in subscribed if key not in wanted]
        if self._cut_over:
            self._cut_over = False
            self._unwanted_since = {}
            return unwanted
        since = {key: self._unwanted_since.get(key, now) for key in unwanted}
        due = [key for key in unwanted if now - since[key] >= self.replacement_window]
        for key in due:
            del since[key]
        self._unwanted_since = since
        return due

    def next_departure(self) -> datetime | None:
        """When the first contract now on its way out may leave (None: none is leaving)."""
        if not self._unwanted_since:
            return None
        return min(self._unwanted_since.values()) + self.replacement_window


class AtmWatch:
    """Spec §3.3 ATM update trigger: the ATM each underlying's window was centred on at the last
    refresh, and which underlyings' ATM (the nearest listed strike to the last price) is now more than
    `move_strikes` listed strikes away from it."""

    def __init__(self, move_strikes: int) -> None:
        self.move_strikes = move_strikes
        self._centres: dict[str, float] = {}

    def centred(self, chains: Mapping[str, PricedChain]) -> None:
        """A refresh just built the window from these prices: their ATMs are the new centres."""
        self._centres = {underlying: chain.atm(spot) for underlying, (chain, spot) in chains.items()}

    def moved(self, chains: Mapping[str, PricedChain]) -> list[str]:
        """The underlyings whose window is off-centre: ATM more than `move_strikes` strikes from the
        centre, or no centre yet (its price arrived after the last refresh)."""
        moved: list[str] = []
        for underlying, (chain, spot) in chains.items():
            centre = self._centres.get(underlying)
            if centre is None or abs(chain.atm_index(spot) - chain.atm_index(centre)) > self.move_strikes:
                moved.append(underlying)
        return moved


class FeedWindow:
    """When the feed's strike window is refreshed and which contracts leave it (spec §3.3), the same
    for a live session and a replay. The caller refreshes every `SUBSCRIPTION_REFRESH_SECONDS`, and
    every `check_interval` (`instruments.atm_check_interval_seconds`) asks `refresh_due`: a refresh now
    when an underlying's ATM moved more than `instruments.atm_move_strikes` strikes from its window's
    centre, or a leaving contract's `instruments.replacement_window_seconds` has run out. Every refresh
    reports to `refreshed`, which says what leaves."""

    def __init__(self, settings: InstrumentsSettings) -> None:
        self.check_interval = timedelta(seconds=settings.atm_check_interval_seconds)
        self.atm = AtmWatch(settings.atm_move_strikes)
        self.leaving = LeavingStrikes(timedelta(seconds=settings.replacement_window_seconds))

    def refresh_due(self, chains: Mapping[str, PricedChain], now: datetime) -> str | None:
        """Why the window should be refreshed now (for the log), or None when it need not be."""
        moved = self.atm.moved(chains)
        if moved:
            return f"ATM moved more than {self.atm.move_strikes} strike(s): {', '.join(moved)}"
        departure = self.leaving.next_departure()
        if departure is not None and departure <= now:
            return "a strike's replacement window ran out"
        return None

    def refreshed(
        self,
        subscribed: Iterable[InstrumentKey],
        wanted: Collection[InstrumentKey],
        chains: Mapping[str, PricedChain],
        now: datetime,
    ) -> list[InstrumentKey]:
        """A refresh built `wanted` from `chains`: remember the centres; the subscribed keys to drop."""
        self.atm.centred(chains)
        return self.leaving.due(subscribed, wanted, now)


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

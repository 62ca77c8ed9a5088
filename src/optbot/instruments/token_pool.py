"""Which option tokens the market feed should be subscribed to (spec §3.3-3.4).

Per underlying: category 1 (bullish) keeps a CE pool, category 2 (bearish) a PE pool, category 3 none.
The ATM strike is re-checked every `atm_check_interval_seconds` and only moves when the LTP is more than
`atm_move_strikes` strikes away from it (hysteresis, so a price sitting between two strikes does not
churn subscriptions). New tokens are subscribed at once; tokens leaving the pool are unsubscribed
gradually over `replacement_window_seconds`, and never while they carry an open order or position (a
callback answers that). After an opening gap the pool switches to gap mode (`gap_pool_strikes` strikes,
±`gap_range_points`, old tokens dropped immediately) and returns to normal once the ATM has been stable
for `gap_stability_minutes`. Index and INDIA VIX tokens are pinned. The total stays within the socket's
subscription limit by dropping the strikes farthest from the money first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Protocol

from optbot.config.sections.instruments import InstrumentsSettings
from optbot.core.clock import Clock
from optbot.core.enums import Exchange, OptionType
from optbot.core.instrument import InstrumentKey
from optbot.instruments.chain import OptionChain
from optbot.instruments.master import InstrumentMaster

log = logging.getLogger("optbot.instruments.token_pool")


class PoolCategory(IntEnum):
    """Spec §3.3 ADX categories."""

    BUY_CE = 1
    BUY_PE = 2
    NO_TRADE = 3


class PoolMode(StrEnum):
    NORMAL = "normal"
    GAP = "gap"


@dataclass(frozen=True, slots=True)
class SubscriptionDiff:
    subscribe: tuple[InstrumentKey, ...] = ()
    unsubscribe: tuple[InstrumentKey, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.subscribe or self.unsubscribe)


@dataclass
class _Pool:
    underlying: str
    category: PoolCategory = PoolCategory.NO_TRADE
    ltp: float | None = None
    atm: float | None = None
    mode: PoolMode = PoolMode.NORMAL
    last_check: datetime | None = None
    atm_stable_since: datetime | None = None
    members: dict[InstrumentKey, float] = field(default_factory=dict)  # key -> distance from ATM


ChainProvider = Callable[[str], OptionChain | None]
ExposureCheck = Callable[[InstrumentKey], bool]


def pinned_keys(master: InstrumentMaster, underlyings: Iterable[str], vix_name: str) -> set[InstrumentKey]:
    """INDIA VIX and each underlying's index row, resolved from the master."""
    keys = {master.index_instrument(vix_name).key}
    for underlying in underlyings:
        keys.add(master.index_instrument(underlying).key)
    return keys


class TokenPoolManager:
    def __init__(
        self,
        settings: InstrumentsSettings,
        clock: Clock,
        chain_for: ChainProvider,
        has_exposure: ExposureCheck,
        pinned: Iterable[InstrumentKey] = (),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._chain_for = chain_for
        self._has_exposure = has_exposure
        self.pinned: set[InstrumentKey] = set(pinned)
        self._pools: dict[str, _Pool] = {}
        self.subscribed: set[InstrumentKey] = set()
        self.pending_removals: dict[InstrumentKey, datetime] = {}
        self.held_for_exposure: set[InstrumentKey] = set()
        self.trimmed_for_limit = 0

    # -- inputs --------------------------------------------------------------------------------

    def pool(self, underlying: str) -> _Pool:
        return self._pools.setdefault(underlying, _Pool(underlying))

    def set_category(self, underlying: str, category: PoolCategory) -> None:
        pool = self.pool(underlying)
        if pool.category is not category:
            log.info("token pool %s: category %s -> %s", underlying, pool.category.name, category.name)
            pool.category = category
            pool.last_check = None  # rebuild on the next evaluation

    def on_price(self, underlying: str, ltp: float) -> None:
        if ltp > 0:
            self.pool(underlying).ltp = ltp

    def enter_gap_mode(self, underlying: str) -> None:
        """Opening gap (spec §3.4): recompute ATM now, widen the pool, drop old tokens immediately."""
        pool = self.pool(underlying)
        log.warning("token pool %s: gap mode", underlying)
        pool.mode = PoolMode.GAP
        pool.atm = None
        pool.last_check = None
        pool.atm_stable_since = None

    def mode(self, underlying: str) -> PoolMode:
        return self.pool(underlying).mode

    def atm(self, underlying: str) -> float | None:
        return self.pool(underlying).atm

    # -- evaluation ----------------------------------------------------------------------------

    def _due(self, pool: _Pool, now: datetime) -> bool:
        interval = timedelta(seconds=self.settings.atm_check_interval_seconds)
        return pool.last_check is None or now - pool.last_check >= interval

    def _update_atm(self, pool: _Pool, chain: OptionChain, now: datetime) -> None:
        assert pool.ltp is not None
        candidate = chain.atm(pool.ltp)
        if pool.atm is None:
            pool.atm = candidate
            pool.atm_stable_since = now
            return
        step = chain.strike_step(pool.atm) or 1.0
        if abs(pool.ltp - pool.atm) > self.settings.atm_move_strikes * step and candidate != pool.atm:
            log.info("token pool %s: ATM %g -> %g (ltp %.2f)", pool.underlying, pool.atm, candidate, pool.ltp)
            pool.atm = candidate
            pool.atm_stable_since = now

    def _members(self, pool: _Pool, chain: OptionChain) -> dict[InstrumentKey, float]:
        if pool.category is PoolCategory.NO_TRADE or pool.atm is None:
            return {}
        option_type = OptionType.CE if pool.category is PoolCategory.BUY_CE else OptionType.PE
        gap = pool.mode is PoolMode.GAP
        points = self.settings.gap_range_points if gap else self.settings.normal_range_points
        count = self.settings.gap_pool_strikes if gap else self.settings.strikes_around_atm
        strikes = set(chain.strikes_within(points, pool.atm)) | set(chain.nearest_strikes(count, pool.atm))
        members: dict[InstrumentKey, float] = {}
        for strike in strikes:
            row = chain.row(strike)
            contract = row.contract(option_type)
            if contract is None:
                continue
            quote = row.quote(option_type)
            thin = quote is not None and (
                (quote.open_interest or 0) < self.settings.min_open_interest
                or (quote.volume or 0) < self.settings.liquidity_min_volume
            )
            if thin and strike != pool.atm:
                continue  # spec §3.3 liquidity check / §3.4 liquidity priority; ATM itself is always watched
            members[contract.key] = abs(strike - pool.atm)
        return members

    def evaluate(self) -> SubscriptionDiff:
        """Recompute pools that are due and return what to subscribe and unsubscribe now."""
        now = self.clock.now_utc()
        immediate_removals: set[InstrumentKey] = set()
        for pool in self._pools.values():
            if not self._due(pool, now):
                continue
            pool.last_check = now
            chain = self._chain_for(pool.underlying)
            if chain is None or not chain.strikes or pool.ltp is None:
                members: dict[InstrumentKey, float] = {}
            else:
                self._update_atm(pool, chain, now)
                members = self._members(pool, chain)
                stable_for = now - (pool.atm_stable_since or now)
                if pool.mode is PoolMode.GAP and stable_for >= timedelta(
                    minutes=self.settings.gap_stability_minutes
                ):
                    log.info("token pool %s: ATM stable, back to the normal range", pool.underlying)
                    pool.mode = PoolMode.NORMAL
                    members = self._members(pool, chain)
            if pool.mode is PoolMode.GAP:
                immediate_removals |= set(pool.members) - set(members)
            pool.members = members
        return self._reconcile(now, immediate_removals)

    def _desired(self) -> dict[InstrumentKey, float]:
        desired: dict[InstrumentKey, float] = {}
        for pool in self._pools.values():
            for key, distance in pool.members.items():
                desired[key] = min(distance, desired.get(key, distance))
        room = self.settings.subscription_token_limit - len(self.pinned)
        if len(desired) > room:
            ranked = sorted(desired.items(), key=lambda item: (item[1], str(item[0])))
            self.trimmed_for_limit += len(desired) - room
            log.warning(
                "token pool over the subscription limit: keeping %d of %d strikes nearest the money",
                max(room, 0),
                len(desired),
            )
            desired = dict(ranked[: max(room, 0)])
        return desired

    def _reconcile(self, now: datetime, immediate: set[InstrumentKey]) -> SubscriptionDiff:
        desired = self._desired()
        wanted = set(desired) | self.pinned
        additions = sorted(
            wanted - self.subscribed,
            key=lambda key: (key not in self.pinned, desired.get(key, 0.0), str(key)),
        )
        # Tokens that came back into the pool are no longer leaving.
        for key in wanted:
            self.pending_removals.pop(key, None)
            self.held_for_exposure.discard(key)
        leaving = sorted(self.subscribed - wanted - set(self.pending_removals), key=str)
        window = self.settings.replacement_window_seconds
        for position, key in enumerate(leaving):
            if key in immediate:
                self.pending_removals[key] = now
            else:
                self.pending_removals[key] = now + timedelta(seconds=window * (position + 1) / len(leaving))
        # Make room at once when the new tokens would breach the limit.
        overflow = len(self.subscribed) + len(additions) - self.settings.subscription_token_limit
        if overflow > 0:
            for key in sorted(self.pending_removals, key=lambda item: self.pending_removals[item])[:overflow]:
                self.pending_removals[key] = now
        removals: list[InstrumentKey] = []
        for key, due in sorted(self.pending_removals.items(), key=lambda item: (item[1], str(item[0]))):
            if due > now:
                continue
            if self._has_exposure(key):
                if key not in self.held_for_exposure:
                    log.info("token %s kept subscribed: open order or position", key)
                self.held_for_exposure.add(key)
                continue
            removals.append(key)
        for key in removals:
            del self.pending_removals[key]
            self.held_for_exposure.discard(key)
            self.subscribed.discard(key)
        room = self.settings.subscription_token_limit - len(self.subscribed)
        if len(additions) > room:
            log.error(
                "subscription limit reached: %d tokens deferred (held for open orders/positions)",
                len(additions) - max(room, 0),
            )
            additions = additions[: max(room, 0)]
        self.subscribed.update(additions)
        return SubscriptionDiff(tuple(additions), tuple(removals))


class SubscriptionSink(Protocol):
    """What `apply_diff` needs of `optbot.broker.angelone.MarketFeed`."""

    async def subscribe(self, items: Iterable[tuple[Exchange | int, str]], mode: int = ...) -> int: ...

    async def unsubscribe(self, items: Iterable[tuple[Exchange | int, str]], mode: int = ...) -> int: ...


async def run_pool(manager: TokenPoolManager, feed: SubscriptionSink, mode: int, stop: asyncio.Event) -> None:
    """Evaluate the pools every `atm_check_interval_seconds` on the manager's Clock and apply the diffs."""
    while not stop.is_set():
        diff = manager.evaluate()
        if diff:
            await apply_diff(feed, diff, mode)
        await manager.clock.sleep(manager.settings.atm_check_interval_seconds)


async def apply_diff(feed: SubscriptionSink, diff: SubscriptionDiff, mode: int) -> None:
    """Push a pool change to the feed: subscribe first, so coverage never dips during a swap."""
    if diff.subscribe:
        await feed.subscribe([(key.exchange, key.token) for key in diff.subscribe], mode)
    if diff.unsubscribe:
        await feed.unsubscribe([(key.exchange, key.token) for key in diff.unsubscribe], mode)

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from optbot.config.sections.instruments import InstrumentsSettings
from optbot.core.clock import SimClock
from optbot.instruments.chain import OptionChain
from optbot.instruments.token_pool import PoolCategory, PoolMode, TokenPoolManager, pinned_keys
from optbot.test_kit.instruments import build_master

EXPIRY = date(2026, 8, 11)


def make(exposed=frozenset(), **overrides):
    master = build_master()
    chain = OptionChain("NIFTY", EXPIRY, master.options("NIFTY", EXPIRY))
    clock = SimClock(datetime(2026, 8, 7, 3, 45, tzinfo=UTC))
    settings = InstrumentsSettings(**overrides)
    pinned = pinned_keys(master, ["NIFTY"], "INDIA VIX")
    manager = TokenPoolManager(
        settings, clock, lambda u: chain if u == "NIFTY" else None, lambda k: k in exposed, pinned
    )
    return manager, chain, clock, master


def strikes_of(keys, chain):
    by_key = {r.call.key: r.strike for r in chain.rows} | {r.put.key: r.strike for r in chain.rows}
    return sorted(by_key[k] for k in keys if k in by_key)


def test_vix_and_index_always_subscribed_even_with_no_trade():
    manager, chain, clock, master = make()
    manager.set_category("NIFTY", PoolCategory.NO_TRADE)
    manager.on_price("NIFTY", 24570)
    diff = manager.evaluate()
    assert {k.token for k in diff.subscribe} == {"99926000", "99926017"}


def test_category_one_is_calls_around_atm():
    manager, chain, clock, _ = make()
    manager.set_category("NIFTY", PoolCategory.BUY_CE)
    manager.on_price("NIFTY", 24570)
    diff = manager.evaluate()
    options = [k for k in diff.subscribe if k in {r.call.key for r in chain.rows}]
    assert strikes_of(options, chain) == [24450, 24500, 24550, 24600, 24650]
    assert manager.atm("NIFTY") == 24550
    puts = {r.put.key for r in chain.rows}
    assert not puts & set(diff.subscribe)


def test_atm_moves_only_beyond_one_strike_and_replacement_is_gradual():
    manager, chain, clock, _ = make()
    manager.set_category("NIFTY", PoolCategory.BUY_CE)
    manager.on_price("NIFTY", 24570)
    manager.evaluate()
    clock.advance(5)
    manager.on_price("NIFTY", 24595)  # nearest is 24600 but within one strike of 24550 -> held
    assert not manager.evaluate()
    assert manager.atm("NIFTY") == 24550
    clock.advance(5)
    manager.on_price("NIFTY", 24760)
    diff = manager.evaluate()
    assert manager.atm("NIFTY") == 24750
    assert strikes_of(diff.subscribe, chain) == [24700, 24750, 24800, 24850]
    assert diff.unsubscribe == ()  # removals are spread over the replacement window
    removed = []
    for _ in range(20):
        clock.advance(5)
        removed += manager.evaluate().unsubscribe
    assert strikes_of(removed, chain) == [24450, 24500, 24550, 24600]


def test_never_unsubscribes_exposed_token():
    master = build_master()
    chain = OptionChain("NIFTY", EXPIRY, master.options("NIFTY", EXPIRY))
    exposed_key = chain.row(24450).call.key
    manager, chain, clock, _ = make(exposed=frozenset({exposed_key}))
    manager.set_category("NIFTY", PoolCategory.BUY_CE)
    manager.on_price("NIFTY", 24570)
    manager.evaluate()
    manager.set_category("NIFTY", PoolCategory.BUY_PE)
    removed = []
    for _ in range(30):
        clock.advance(5)
        removed += manager.evaluate().unsubscribe
    assert exposed_key not in removed
    assert exposed_key in manager.subscribed and exposed_key in manager.held_for_exposure


def test_gap_mode_widens_then_returns_to_normal():
    manager, chain, clock, _ = make()
    manager.set_category("NIFTY", PoolCategory.BUY_PE)
    manager.on_price("NIFTY", 24570)
    manager.evaluate()
    manager.on_price("NIFTY", 25060)
    manager.enter_gap_mode("NIFTY")
    clock.advance(1)
    diff = manager.evaluate()
    assert manager.mode("NIFTY") is PoolMode.GAP
    assert len(strikes_of(diff.unsubscribe, chain)) == 5  # old pool dropped immediately
    pool = [k for k in manager.subscribed if k in {r.put.key for r in chain.rows}]
    assert 10 <= len(pool) <= 15
    for _ in range(80):
        clock.advance(5)
        manager.evaluate()
    assert manager.mode("NIFTY") is PoolMode.NORMAL
    pool = [k for k in manager.subscribed if k in {r.put.key for r in chain.rows}]
    assert len(pool) == 5


def test_stays_within_subscription_limit():
    manager, chain, clock, _ = make(subscription_token_limit=6, strikes_around_atm=9)
    manager.set_category("NIFTY", PoolCategory.BUY_CE)
    manager.on_price("NIFTY", 24570)
    manager.evaluate()
    assert len(manager.subscribed) == 6
    assert manager.trimmed_for_limit > 0
    kept = strikes_of(manager.subscribed, chain)
    assert len(kept) == 4 and 24550 in kept and all(abs(s - 24550) <= 100 for s in kept)


async def test_apply_diff_subscribes_before_unsubscribing():
    from optbot.instruments.token_pool import SubscriptionDiff, apply_diff

    calls = []

    class Feed:
        async def subscribe(self, items, mode=2):
            calls.append(("sub", list(items), mode))
            return 1

        async def unsubscribe(self, items, mode=2):
            calls.append(("unsub", list(items), mode))
            return 1

    manager, chain, clock, _ = make()
    manager.set_category("NIFTY", PoolCategory.BUY_CE)
    manager.on_price("NIFTY", 24570)
    first = manager.evaluate()
    await apply_diff(Feed(), first, 3)
    await apply_diff(Feed(), SubscriptionDiff((), first.subscribe[:1]), 3)
    assert [c[0] for c in calls] == ["sub", "unsub"] and calls[0][2] == 3
    assert len(calls[0][1]) == 7


async def test_run_pool_applies_diffs_on_the_clock():
    import asyncio

    from optbot.instruments.token_pool import run_pool

    applied = []

    class Feed:
        async def subscribe(self, items, mode=2):
            applied.append(("sub", len(list(items))))
            return 0

        async def unsubscribe(self, items, mode=2):
            applied.append(("unsub", len(list(items))))
            return 0

    manager, chain, clock, _ = make()
    manager.set_category("NIFTY", PoolCategory.BUY_CE)
    manager.on_price("NIFTY", 24570)
    stop = asyncio.Event()
    task = asyncio.create_task(run_pool(manager, Feed(), 3, stop))
    await clock.run_until(clock.now_utc() + timedelta(seconds=6))
    manager.on_price("NIFTY", 24800)
    await clock.run_until(clock.now_utc() + timedelta(seconds=200))
    stop.set()
    await clock.run_until(clock.now_utc() + timedelta(seconds=6))
    await task
    assert applied[0] == ("sub", 7)
    assert ("unsub", 1) in applied  # old strikes leave one by one over the replacement window


def test_quoted_thin_strikes_are_skipped_but_atm_kept():
    from optbot.instruments.chain import OptionQuote

    master = build_master()
    base = OptionChain("NIFTY", EXPIRY, master.options("NIFTY", EXPIRY))
    quotes = {row.call.token: OptionQuote(ltp=10.0, open_interest=50, volume=5) for row in base.rows}
    quotes[base.row(24500).call.token] = OptionQuote(ltp=10.0, open_interest=50_000, volume=500)
    thin_chain = base.with_quotes(quotes)
    clock = SimClock(datetime(2026, 8, 7, 3, 45, tzinfo=UTC))
    manager = TokenPoolManager(InstrumentsSettings(), clock, lambda u: thin_chain, lambda k: False)
    manager.set_category("NIFTY", PoolCategory.BUY_CE)
    manager.on_price("NIFTY", 24570)
    diff = manager.evaluate()
    assert strikes_of(diff.subscribe, thin_chain) == [24500, 24550]  # liquid strike + ATM

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.core.enums import Exchange, OptionType
from optbot.instruments.master import ExpiryKind, InstrumentMaster, InstrumentNotFound, MasterInfo
from optbot.test_kit.instruments import build_master


@pytest.fixture
def master() -> InstrumentMaster:
    return build_master()


def test_index_and_vix_tokens_come_from_the_master(master):
    assert master.index_token("NIFTY") == "99926000"
    assert master.index_token("Nifty 50") == "99926000"
    assert master.index_token("BANKNIFTY") == "99926009"
    assert master.vix_token() == "99926017"


def test_lookups(master):
    sbin = master.by_token(Exchange.NSE, "3045")
    assert sbin.symbol == "SBIN-EQ"
    assert master.by_symbol("sbin-eq") is sbin
    assert master.search("SBIN")[0] is sbin
    with pytest.raises(InstrumentNotFound):
        master.by_token(Exchange.NFO, "1")
    assert "NFO:1" in master.missing


def test_expiries_and_nearest(master):
    expiries = master.expiries("NIFTY")
    assert expiries == [date(2026, 8, 11), date(2026, 8, 18), date(2026, 8, 25), date(2026, 9, 1)]
    assert master.nearest_expiry("NIFTY", date(2026, 8, 12)) == date(2026, 8, 18)
    assert master.nearest_expiry("NIFTY", date(2026, 8, 7), ExpiryKind.MONTHLY) == date(2026, 8, 25)
    assert master.nearest_expiry("NIFTY", date(2026, 9, 2)) is None
    contracts = master.options("NIFTY", date(2026, 8, 11))
    assert len(contracts) == 82
    assert master.option("NIFTY", date(2026, 8, 11), 24550.0, OptionType.PE).lot_size == 65


def test_stale_master_refuses_tokens(master):
    key = master.options("NIFTY", date(2026, 8, 11))[0].key
    assert master.is_tradeable(key, date(2026, 8, 7))
    assert not master.is_tradeable(key, date(2026, 8, 12))  # expired
    stale = InstrumentMaster(master.instruments(), MasterInfo(date(2026, 7, 1), "cache", stale=True))
    assert not stale.is_tradeable(key, date(2026, 8, 7))


def test_purge_expired(master):
    kept = master.without_expired(date(2026, 8, 12))
    assert date(2026, 8, 11) not in kept.expiries("NIFTY")
    assert len(kept) == len(master) - 82


def test_refresh_in_place_adds_the_new_listing_drops_expired_and_keeps_unlisted_live_contracts():
    """A replay's engine outlives a day: the morning download must reach every holder of the master."""
    master = build_master()
    lookup = master.get  # as the order manager holds it
    first, second = master.expiries("NIFTY")[:2]
    expiring = master.options("NIFTY", first)
    unlisted = master.options("NIFTY", second)[0]  # a live contract today's download omits
    later = build_master(as_of=date(2026, 8, 14))
    new_expiry = max(later.expiries("NIFTY"))
    assert new_expiry not in master.expiries("NIFTY")
    download = [item for item in later if item.key != unlisted.key]
    expired = master.refresh(
        download, MasterInfo(as_of=date(2026, 8, 14), source="refresh"), date(2026, 8, 12)
    )
    assert {item.key for item in expired} == {item.key for item in expiring}
    assert first not in master.expiries("NIFTY") and new_expiry in master.expiries("NIFTY")
    assert lookup(unlisted.exchange, unlisted.token) == unlisted  # still listed until its expiry
    assert all(item.expiry is None or item.expiry >= date(2026, 8, 12) for item in master)
    assert master.info.as_of == date(2026, 8, 14) and master.index_token("NIFTY") == "99926000"
    assert len({item.key for item in master}) == len(master)  # no key twice


def _view(master):
    """Every lookup the master answers, for comparing two masters."""
    names = {item.underlying for item in master} | {item.symbol for item in master}
    return (
        sorted((str(item.key), item) for item in master),
        {item.token: sorted(map(str, (i.key for i in master.find_token(item.token)))) for item in master},
        {u: [(e, master.options(u, e)) for e in master.expiries(u)] for u in master.underlyings()},
        {name: _index_token(master, name) for name in sorted(names)},
        master.info,
    )


def _index_token(master, name):
    try:
        return master.index_token(name)
    except InstrumentNotFound:
        return None


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    keep=st.lists(st.booleans(), min_size=1, max_size=400),
    today_offset=st.integers(min_value=0, max_value=10),
)
def test_an_incremental_refresh_equals_a_master_rebuilt_from_the_merge(keep, today_offset):
    """Refreshing in place (the replay path, mostly unchanged rows) gives the same lookups as building
    a master from scratch out of the surviving rows and the download."""
    master = build_master()
    later = build_master(as_of=date(2026, 8, 14))
    today = date(2026, 8, 7) + timedelta(days=today_offset)
    download = [item for index, item in enumerate(later) if keep[index % len(keep)]]
    survivors = {item.key: item for item in master if item.expiry is not None and item.expiry >= today}
    survivors.update((item.key, item) for item in download)
    rebuilt = InstrumentMaster(survivors.values(), MasterInfo(as_of=date(2026, 8, 14), source="r"))
    expected_expired = {item.key for item in master if item.expiry is not None and item.expiry < today}
    expired = master.refresh(download, MasterInfo(as_of=date(2026, 8, 14), source="r"), today)
    assert {item.key for item in expired} == expected_expired
    assert _view(master) == _view(rebuilt)
    assert master.refresh(download, MasterInfo(as_of=date(2026, 8, 14), source="r"), today) == []
    assert _view(master) == _view(rebuilt)  # the same rows again: nothing moves


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    keep=st.lists(st.booleans(), min_size=1, max_size=400),
    days=st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=4),
    drop_index=st.booleans(),
)
def test_a_refresh_that_skips_the_scan_leaves_what_a_scan_would(keep, days, drop_index):
    """A refresh looks at every row only when something can leave (a contract expired, or an undated
    row is not listed again); over successive refreshes it gives the master a refresh that always
    scans gives (a rebuild from the surviving rows and the download)."""
    master = build_master()
    later = build_master(as_of=date(2026, 8, 14))
    download = [item for index, item in enumerate(later) if keep[index % len(keep)]]
    if drop_index:  # an undated row the download no longer carries leaves
        download = [item for item in download if item.symbol != "Nifty Bank"]
    for offset in sorted(days):
        today = date(2026, 8, 7) + timedelta(days=offset)
        survivors = {item.key: item for item in master if item.expiry is None or item.expiry >= today}
        survivors = {key: item for key, item in survivors.items() if item.expiry is not None}
        survivors.update((item.key, item) for item in download)
        rebuilt = InstrumentMaster(survivors.values(), MasterInfo(as_of=date(2026, 8, 14), source="r"))
        master.refresh(download, MasterInfo(as_of=date(2026, 8, 14), source="r"), today)
        assert _view(master) == _view(rebuilt)

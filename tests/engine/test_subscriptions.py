"""Spec §3.3 ATM monitoring (a refresh when the ATM moved more than `instruments.atm_move_strikes`
strikes) and gradual replacement (a strike leaves after `instruments.replacement_window_seconds`
unwanted), and the wider window after an opening gap (spec §3.4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.config.sections.instruments import InstrumentsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange
from optbot.core.events import Tick
from optbot.core.instrument import InstrumentKey
from optbot.core.timeutil import ist_datetime
from optbot.data.opening_gap import OpeningGap
from optbot.engine.market import MarketState
from optbot.engine.subscriptions import FeedWindow, LeavingStrikes, PricedChain, respond_to_opening_gap
from optbot.test_kit.instruments import build_master

A, B, C = (InstrumentKey(Exchange.NFO, token) for token in ("1", "2", "3"))
T0 = datetime(2026, 8, 7, 4, 0, tzinfo=UTC)
REPLACEMENT = timedelta(seconds=90)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_contract_leaves_once_unwanted_for_the_replacement_window_and_not_before() -> None:
    leaving = LeavingStrikes(REPLACEMENT)
    assert leaving.due([A, B, C], {A, B, C}, _at(0)) == []
    assert leaving.next_departure() is None
    assert leaving.due([A, B, C], {A}, _at(5)) == []  # B and C unwanted from 5 s on
    assert leaving.next_departure() == _at(95)
    assert leaving.due([A, B, C], {A}, _at(60)) == []
    assert leaving.due([A, B, C], {A}, _at(94.9)) == []  # 89.9 s unwanted: not yet
    assert leaving.due([A, B, C], {A}, _at(95)) == [B, C]
    assert leaving.next_departure() is None


def test_a_contract_wanted_again_in_time_stays_and_its_wait_starts_over() -> None:
    leaving = LeavingStrikes(REPLACEMENT)
    assert leaving.due([A, B, C], {A}, _at(0)) == []  # B and C on their way out
    assert leaving.due([A, B, C], {A, B}, _at(60)) == []  # the price came back to B in time
    assert leaving.next_departure() == _at(90)  # only C is still leaving
    assert leaving.due([A, B, C], {A, B}, _at(90)) == [C]
    assert leaving.due([A, B], {A}, _at(100)) == []  # B unwanted again: a fresh 90 s
    assert leaving.due([A, B], {A}, _at(189)) == []
    assert leaving.due([A, B], {A}, _at(190)) == [B]


def test_a_contract_that_stays_wanted_never_leaves() -> None:
    """Held and ordered contracts are always among the wanted (`desired_instruments`)."""
    leaving, subscribed, dropped = LeavingStrikes(REPLACEMENT), [A, B], []
    for minute in range(30):  # A is held all along; B left the window at the start
        due = leaving.due(subscribed, {A}, _at(minute * 60))
        dropped.extend(due)
        subscribed = [key for key in subscribed if key not in due]
    assert dropped == [B] and subscribed == [A]


def test_after_a_cut_over_every_unwanted_contract_leaves_at_the_next_refresh() -> None:
    """Spec §3.4: after an opening gap the old window goes at once; wanted contracts stay."""
    leaving = LeavingStrikes(REPLACEMENT)
    assert leaving.due([A, B, C], {A}, _at(0)) == []  # B and C on their way out
    leaving.cut_over()
    assert leaving.due([A, B, C], {A, C}, _at(5)) == [B]  # C wanted again (the new window) stays
    assert leaving.due([A, C], {A}, _at(10)) == []  # back to the replacement window
    assert leaving.due([A, C], {A}, _at(100)) == [C]


def test_a_cut_over_drops_contracts_unwanted_for_the_first_time() -> None:
    leaving = LeavingStrikes(REPLACEMENT)
    leaving.cut_over()
    assert leaving.due([A, B, C], {A}, _at(0)) == [B, C]
    assert leaving.due([A], {A}, _at(1)) == []


# ------------------------------------------------------------- spec §3.4: the window after an opening gap
DAY = date(2026, 8, 7)
OPEN = ist_datetime(DAY, time(9, 15, 5))
GAP = OpeningGap("NIFTY", 24_000.0, 24_550.0, 2.29, OPEN)


def _market(tmp_path: Path, **instruments: float) -> tuple[MarketState, SimClock]:
    """NIFTY strikes every 50 points from 23,550 to 25,550 (test_kit master), spot at 24,550, the
    normal window 13 strikes (`engine.atm_strike_window` 6 either side)."""
    clock = SimClock(OPEN)
    settings = Settings(
        paths={"data_root": tmp_path},
        universe={"underlyings": ["NIFTY"]},
        engine={"atm_strike_window": 6},
        instruments=instruments,
    )
    market = MarketState(settings, clock, get_calendar(), build_master(as_of=DAY))
    _price(market, clock, 24_550.0)
    return market, clock


def _price(market: MarketState, clock: SimClock, ltp: float) -> None:
    index = market.track_underlying("NIFTY")
    market.on_tick(Tick(clock.now_utc(), index.token, index.exchange, "NIFTY", ltp))


def _strikes(market: MarketState) -> list[float]:
    return sorted({contract.strike for contract in market.watch_list("NIFTY") if contract.strike is not None})


def _gap(market: MarketState) -> list[str]:
    notes: list[str] = []
    respond_to_opening_gap(
        GAP, market.gap_windows, LeavingStrikes(REPLACEMENT), lambda _kind, text: notes.append(text)
    )
    return notes


def test_a_gap_widens_the_window_to_gap_pool_strikes_around_the_new_atm(tmp_path: Path) -> None:
    market, _clock = _market(tmp_path, gap_pool_strikes=21, gap_range_points=50.0)
    assert len(_strikes(market)) == 13
    notes = _gap(market)
    assert _strikes(market) == [24_550.0 + 50 * step for step in range(-10, 11)]
    assert any("opening gap NIFTY +2.29%" in text for text in notes)


def test_a_gap_widens_the_window_to_every_strike_within_gap_range_points(tmp_path: Path) -> None:
    market, _clock = _market(tmp_path, gap_pool_strikes=10, gap_range_points=600.0)
    _gap(market)
    assert _strikes(market) == [24_550.0 + 50 * step for step in range(-12, 13)]


def test_the_gap_window_is_never_narrower_than_the_normal_one(tmp_path: Path) -> None:
    market, _clock = _market(tmp_path, gap_pool_strikes=10, gap_range_points=50.0)
    _gap(market)
    assert len(_strikes(market)) == 13


@pytest.mark.parametrize(("stability_minutes", "wide_at_minute_3"), [(2.0, False), (5.0, True)])
def test_the_window_narrows_once_the_atm_held_for_gap_stability_minutes(
    tmp_path: Path, stability_minutes: float, wide_at_minute_3: bool
) -> None:
    market, clock = _market(tmp_path, gap_pool_strikes=21, gap_stability_minutes=stability_minutes)
    _gap(market)
    assert len(_strikes(market)) == 21  # the ATM (24,550) is first seen now
    clock.advance(3 * 60)
    assert (len(_strikes(market)) == 21) is wide_at_minute_3
    assert market.gap_windows.is_open("NIFTY") is wide_at_minute_3


def test_a_moving_atm_restarts_the_wait_for_stability(tmp_path: Path) -> None:
    market, clock = _market(tmp_path, gap_pool_strikes=21, gap_stability_minutes=3.0)
    _gap(market)
    assert len(_strikes(market)) == 21
    clock.advance(2 * 60)
    _price(market, clock, 24_660.0)  # the ATM moved two strikes up: unstable, start over
    assert _strikes(market)[0] == 24_150.0  # still 21 strikes, around the new ATM 24,650
    clock.advance(2 * 60)
    assert len(_strikes(market)) == 21  # 2 minutes on this ATM, not 3
    clock.advance(1 * 60)
    assert len(_strikes(market)) == 13


def test_a_gap_window_never_reaches_the_next_session(tmp_path: Path) -> None:
    """Nobody read the chain after the gap, so the window never saw its ATM settle: it still closes
    with its session (a backtest split into chunks must quote what one process does)."""
    market, clock = _market(tmp_path, gap_pool_strikes=21, gap_stability_minutes=600.0)
    _gap(market)
    clock.advance_to(ist_datetime(date(2026, 8, 10), time(9, 15)))
    assert len(_strikes(market)) == 13
    assert not market.gap_windows.is_open("NIFTY")


def test_without_a_feed_the_gap_response_only_widens_the_window(tmp_path: Path) -> None:
    """A bar backtest has no feed subscriptions to cut over (`leaving` None): the window and the note."""
    market, _clock = _market(tmp_path, gap_pool_strikes=21)
    notes: list[str] = []
    respond_to_opening_gap(GAP, market.gap_windows, None, lambda _kind, text: notes.append(text))
    assert len(_strikes(market)) == 21 and len(notes) == 1


# ------------------------------------------------------------- spec §3.3: the ATM check
def _chains(market: MarketState) -> dict[str, PricedChain]:
    priced = market.priced_chain("NIFTY")
    assert priced is not None
    return {"NIFTY": priced}


@pytest.mark.parametrize("move_strikes", [1, 2])
@pytest.mark.parametrize("direction", [1, -1])
def test_a_refresh_is_due_once_the_atm_is_more_than_atm_move_strikes_from_the_centre(
    tmp_path: Path, move_strikes: int, direction: int
) -> None:
    market, clock = _market(tmp_path)  # ATM 24,550; strikes every 50 points
    window = FeedWindow(InstrumentsSettings(atm_move_strikes=move_strikes))
    assert window.refreshed([], set(), _chains(market), clock.now_utc()) == []
    _price(market, clock, 24_550.0 + direction * (50 * move_strikes + 20))  # ATM move_strikes away
    assert window.refresh_due(_chains(market), clock.now_utc()) is None
    _price(market, clock, 24_550.0 + direction * 50 * (move_strikes + 1))  # one strike further
    reason = window.refresh_due(_chains(market), clock.now_utc())
    assert reason is not None and "NIFTY" in reason
    window.refreshed([], set(), _chains(market), clock.now_utc())  # re-centred there
    assert window.refresh_due(_chains(market), clock.now_utc()) is None


def test_an_underlying_priced_after_the_last_refresh_is_due_at_once(tmp_path: Path) -> None:
    market, clock = _market(tmp_path)
    window = FeedWindow(InstrumentsSettings())
    window.refreshed([], set(), {}, clock.now_utc())  # no price then: an empty window
    assert window.refresh_due(_chains(market), clock.now_utc()) is not None


def test_a_refresh_is_due_when_a_leaving_strike_has_waited_the_replacement_window(tmp_path: Path) -> None:
    market, clock = _market(tmp_path)
    window = FeedWindow(InstrumentsSettings(replacement_window_seconds=60.0))
    start = clock.now_utc()
    assert window.refreshed([A, B], {A}, _chains(market), start) == []
    assert window.refresh_due(_chains(market), start + timedelta(seconds=59)) is None
    assert window.refresh_due(_chains(market), start + timedelta(seconds=60)) is not None
    assert window.refreshed([A, B], {A}, _chains(market), start + timedelta(seconds=60)) == [B]
    assert window.refresh_due(_chains(market), start + timedelta(seconds=600)) is None

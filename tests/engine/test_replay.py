"""`InProcessReplay` over several days: the paper broker rolls its books each morning, so every
end-of-day reconciliation compares one trading day with one trading day and comes out clean."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path

import pytest

from optbot.backtest.runner import choose_strategies
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.events import Alert, Event
from optbot.core.timeutil import ist_date, ist_datetime, to_ist
from optbot.engine.replay import PREMARKET_START, InProcessReplay
from optbot.engine.subscriptions import PricedChain
from optbot.sim.market.replay import ReplayMarket
from tests.backtest.conftest import make_settings

DAYS = (date(2020, 11, 17), date(2020, 11, 18), date(2020, 11, 19))


def tick_replay_settings(root: Path) -> Settings:
    """The tick replay at 15 s ticks, with the 5-minute entries its aggregated bars allow."""
    return make_settings(root, replay={"tick_seconds": 15.0}, strategy={"entry_timeframe": "5m"})


async def test_three_day_replay_reconciles_clean_every_end_of_day(tmp_path: Path) -> None:
    settings = tick_replay_settings(tmp_path / "data")
    replay = InProcessReplay(
        settings,
        tmp_path / "replay.sqlite",
        DAYS[0],
        strategies=choose_strategies(settings, "adx_trend"),
        underlyings=["NIFTY"],
    )
    try:
        await replay.run(list(DAYS))
        fills = replay.store.fills()
        traded_days = {fill.trade_date for fill in fills}
        assert len(traded_days) >= 2, "the scenario must trade on more than one day"
        clean = [entry for entry in replay.engine.journal if entry.text == "eod reconciliation clean"]
        assert [ist_date(entry.ts_utc) for entry in clean] == list(DAYS)
        alerts = [entry.text for entry in replay.engine.journal if entry.kind == "alert"]
        assert not [text for text in alerts if "reconciliation" in text], alerts
        assert replay.store.unacknowledged_mismatches() == []
        # the broker's books are the last day's only: its trades, no positions carried (flat each day)
        assert replay.paper.trading_day == DAYS[-1]
        trades = await replay.paper.trade_book()
        assert trades and all(trade.fill_time for trade in trades)
        assert {ist_date(trade.fill_time) for trade in trades if trade.fill_time} == {DAYS[-1]}
        last_day_fills = [fill for fill in fills if fill.trade_date == DAYS[-1]]
        assert len(trades) == len(last_day_fills)
        assert all(row.net_quantity == 0 for row in await replay.paper.positions())
    finally:
        replay.close()


def test_a_given_market_drives_the_replay_on_its_own_clock(tmp_path: Path) -> None:
    settings = tick_replay_settings(tmp_path / "data")
    clock = SimClock(ist_datetime(DAYS[0], PREMARKET_START))
    market = ReplayMarket(clock, settings.replay)
    replay = InProcessReplay(
        settings, tmp_path / "replay.sqlite", DAYS[0], underlyings=["NIFTY"], market=market
    )
    try:
        assert replay.clock is clock and replay.market is market
        assert replay.engine.clock is clock
        assert replay.paper.trading_day == DAYS[0]
    finally:
        replay.close()


async def test_a_long_replay_lists_new_expiries_and_keeps_only_strikes_near_the_money(tmp_path: Path) -> None:
    """Six weeks after the start, the first morning's listing has no weekly left: the replay refreshes
    the master every morning (as a live session downloads it), so the chain is the new weekly; strikes
    that left the ATM window are no longer priced, and expired contracts leave no bar history."""
    first, later = date(2025, 6, 2), date(2025, 7, 14)
    settings = tick_replay_settings(tmp_path / "data")
    replay = InProcessReplay(settings, tmp_path / "replay.sqlite", first, underlyings=["NIFTY"])
    try:
        started_with = replay.instruments.expiries("NIFTY")
        assert max(expiry for expiry in started_with if expiry.month == 6) < later
        await replay.run([first, later])
        engine = replay.engine
        weeklies = engine.calendar.expiries("NIFTY", later, date(2025, 8, 31), "weekly")[:2]
        trading = engine.market.trading_expiry("NIFTY", later)
        assert trading in weeklies and trading not in started_with  # not the start's July monthly
        assert all(expiry >= later for expiry in replay.instruments.expiries("NIFTY"))
        wanted = {instrument.token for instrument in engine.desired_instruments() if instrument.is_option}
        priced = set(replay.market._watched)
        assert wanted <= priced and len(priced) <= 2 * len(wanted)  # at most the ones on their way out
        symbols = {symbol for symbol, _ in engine.ctx._history}
        assert not any(symbol.startswith("NIFTY05JUN25") for symbol in symbols)
    finally:
        replay.close()


@pytest.mark.parametrize(("threshold_pct", "gapped"), [(0.001, True), (50.0, False)])
async def test_the_replay_checks_the_opening_gap_as_a_live_session_does(
    tmp_path: Path, threshold_pct: float, gapped: bool
) -> None:
    """The first index price at the open against the previous daily close (the live pipeline's
    `OpeningGapCheck`); above `data.opening_gap_pct` the live response runs: a note, and the wider
    §3.4 strike window opens."""
    day = DAYS[0]
    settings = make_settings(
        tmp_path / "data",
        replay={"tick_seconds": 15.0},
        data={"opening_gap_pct": threshold_pct},
        instruments={"gap_stability_minutes": 600.0},  # still open at the end of the session
    )
    replay = InProcessReplay(settings, tmp_path / "replay.sqlite", day, underlyings=["NIFTY"])
    alerts: list[str] = []  # the live pipeline's alert, on the engine's bus

    def collect(event: Event) -> None:
        if isinstance(event, Alert) and event.dedupe_key.startswith("opening-gap:NIFTY"):
            alerts.append(event.title)

    replay.engine.bus.subscribe("test-alerts", (Alert,), collect)
    try:
        await replay.run([day])
        assert "NIFTY" in replay.gap_check.detector.last  # checked: the previous close was known
        assert len(alerts) == (1 if gapped else 0)
        notes = [entry.text for entry in replay.engine.journal if "opening gap NIFTY" in entry.text]
        assert bool(notes) is gapped
        assert replay.engine.market.gap_windows.is_open("NIFTY") is gapped
    finally:
        replay.close()


async def test_the_replay_recentres_the_feed_window_at_the_atm_check_not_the_next_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spec §3.3 in the tick replay, at its replayed time: 2020-11-18 opens more than one strike from
    the window the pre-market centred, and the first check after the open (15 s ticks: a check every
    step) re-centres it, not the 9:16 full refresh. After every step's check no window is off-centre."""
    day = DAYS[1]
    replay = InProcessReplay(
        tick_replay_settings(tmp_path / "data"), tmp_path / "replay.sqlite", day, underlyings=["NIFTY"]
    )
    window, check, drain = replay._window, replay._window.refresh_due, replay._drain
    recentred: list[datetime] = []
    off_centre: list[str] = []

    def watched_check(chains: Mapping[str, PricedChain], now: datetime) -> str | None:
        reason = check(chains, now)
        if reason is not None and reason.startswith("ATM moved"):
            recentred.append(now)
        return reason

    async def drain_after_the_check() -> int:
        off_centre.extend(window.atm.moved(replay.engine.window_chains()))
        return await drain()

    monkeypatch.setattr(window, "refresh_due", watched_check)
    monkeypatch.setattr(replay, "_drain", drain_after_the_check)
    try:
        await replay.run([day])
    finally:
        replay.close()
    assert recentred, "the day must move the ATM more than one strike between two full refreshes"
    assert time(9, 15) < to_ist(recentred[0]).time() < time(9, 16)
    assert off_centre == []

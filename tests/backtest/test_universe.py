"""Every index of the universe replays from the store: SENSEX (a BSE index whose options trade on BFO)
and MIDCPNIFTY (25-point strikes) as well as NIFTY, with lots and expiries of their own.

No real SENSEX or MIDCPNIFTY bars are bundled, so the data root here carries NIFTY's real 15-minute
bars of 2024-01-08..12 rescaled to each index's level: the test checks the plumbing (index exchange,
option segment, lot sizes, strike grid, expiries from the calendar), not prices."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from optbot.backtest.runner import BacktestOutcome, run_backtest
from optbot.calendar import get_calendar
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.timeutil import ist_date
from optbot.data.store import JsonStore
from tests.backtest.conftest import make_settings
from tests.conftest import SAMPLE_STORE

FIRST, LAST = date(2024, 1, 8), date(2024, 1, 12)
LEVELS = {"SENSEX": 3.3, "MIDCPNIFTY": 0.47}  # 21,700 NIFTY → ~71,600 SENSEX, ~10,200 MIDCPNIFTY
STRATEGY = "tests.backtest.strategies:TimedAtmCall"


def _store(root: Path) -> JsonStore:
    clock = SimClock(datetime(2024, 1, 1, tzinfo=UTC))
    return JsonStore(PathsSettings(data_root=root), DataSettings(), clock)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> BacktestOutcome:
    root = tmp_path_factory.mktemp("universe")
    sample, target = _store(SAMPLE_STORE), _store(root / "store")
    for timeframe in (Timeframe.M15, Timeframe.D1):
        vix = sample.read_bars("INDIA_VIX", timeframe)
        target.merge_bars(
            "INDIA_VIX",
            timeframe,
            [bar for bar in vix if date(2023, 6, 1) <= ist_date(bar.start_utc) <= LAST],
        )
        nifty = [
            bar
            for bar in sample.read_bars("NIFTY", timeframe)
            if date(2023, 6, 1) <= ist_date(bar.start_utc) <= LAST
        ]
        for name, factor in LEVELS.items():
            scaled = [
                replace(
                    bar,
                    symbol=name,
                    open=round(bar.open * factor, 2),
                    high=round(bar.high * factor, 2),
                    low=round(bar.low * factor, 2),
                    close=round(bar.close * factor, 2),
                )
                for bar in nifty
            ]
            target.merge_bars(name, timeframe, scaled, imported=True)
    return run_backtest(
        make_settings(root / "data", universe={"underlyings": list(LEVELS)}),
        FIRST,
        LAST,
        strategy=STRATEGY,
        data_dir=root / "store",
        out_dir=root / "out",
    )


def test_sensex_and_midcpnifty_replay_and_trade_on_their_own_segments(outcome: BacktestOutcome) -> None:
    assert {row.underlying for row in outcome.coverage} == {"SENSEX", "MIDCPNIFTY"}
    assert all(
        row.replayed and row.index_bars == "15m" and row.entries == "intraday" for row in outcome.coverage
    )
    by_underlying: dict[str, list[object]] = {"SENSEX": [], "MIDCPNIFTY": []}
    for fill in outcome.fills:
        name = "SENSEX" if fill.symbol.startswith("SENSEX") else "MIDCPNIFTY"
        by_underlying[name].append(fill)
        if name == "SENSEX":
            assert fill.exchange is Exchange.BFO and fill.quantity == 10  # lot 10 before 2024-11-20
            assert int(fill.symbol[-7:-2]) % 100 == 0
        else:
            assert fill.exchange is Exchange.NFO and fill.quantity == 75
            assert int(fill.symbol[-7:-2]) % 25 == 0
    # one entry and one exit per underlying per session, every session
    assert len(by_underlying["SENSEX"]) == len(by_underlying["MIDCPNIFTY"]) == 10
    assert len(outcome.result.trades) == 10


def test_options_expire_on_each_index_s_own_weekday(outcome: BacktestOutcome) -> None:
    """The calendar's rules: SENSEX weeklies expired on Fridays in January 2024, MIDCPNIFTY's on Mondays
    (Monday 22 January 2024 was a market holiday: that week's expiry moved back to Friday the 19th)."""
    expiries: dict[str, set[date]] = {"SENSEX": set(), "MIDCPNIFTY": set()}
    for fill in outcome.fills:
        name = "SENSEX" if fill.symbol.startswith("SENSEX") else "MIDCPNIFTY"
        expiry = datetime.strptime(fill.symbol[len(name) : len(name) + 7], "%d%b%y").date()
        assert expiry >= ist_date(fill.ts_utc)
        expiries[name].add(expiry)
    assert {expiry.weekday() for expiry in expiries["SENSEX"]} == {4}
    calendar = get_calendar()
    for expiry in expiries["MIDCPNIFTY"]:
        assert expiry.weekday() == 0 or calendar.is_holiday(expiry + timedelta(days=3)), expiry

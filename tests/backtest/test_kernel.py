"""The bar kernel: its engine settings (the backtest's own kill-flag re-read interval, in replayed time)
and the instrument master it refreshes every session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from optbot.backtest.kernel import BarBacktest, _engine_settings
from optbot.backtest.runner import IN_MEMORY, store_history
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.instrument import Instrument
from tests.backtest.conftest import DAY, make_settings
from tests.conftest import SAMPLE_STORE


def test_the_engine_rereads_the_kill_flag_at_the_backtest_interval(tmp_path: Path) -> None:
    settings = Settings(paths={"data_root": tmp_path}, backtest={"kill_file_check_seconds": 300})
    engine_settings = _engine_settings(settings)
    assert engine_settings.risk.kill_file_check_seconds == 300
    assert settings.risk.kill_file_check_seconds == 1.0  # the live tick path's is left alone
    assert engine_settings.model_dump(exclude={"risk"}) == settings.model_dump(exclude={"risk"})
    assert engine_settings.risk.model_dump(exclude={"kill_file_check_seconds"}) == settings.risk.model_dump(
        exclude={"kill_file_check_seconds"}
    )


def _master_rows(kernel: BarBacktest) -> tuple[list[Instrument], list[list[str]]]:
    master = kernel.instruments
    options = [
        [option.token for option in master.options(name, expiry)]
        for name in kernel.underlyings
        for expiry in master.expiries(name)
    ]
    return master.instruments(), options


def test_a_session_refresh_with_the_new_contracts_only_leaves_the_master_the_whole_listing_gives(
    tmp_path: Path,
) -> None:
    """Each session refreshes the master with the contracts not listed before (a listed contract stays
    until it expires): the same rows, in the same order, as a refresh with the whole day's listing,
    over sessions whose strike band moves and whose weekly expiries roll off."""
    calendar = get_calendar()
    settings = make_settings(tmp_path)
    history = store_history(settings, SAMPLE_STORE, calendar)
    days = [day for day in history.days("NIFTY") if date(2024, 1, 1) <= day <= date(2024, 1, 31)]
    assert len(days) >= 15
    kernels = [
        BarBacktest(settings, IN_MEMORY, days[0], history, None, underlyings=["NIFTY"], calendar=calendar)
        for _ in range(2)
    ]
    whole, new_only = kernels
    try:
        for day in days[1:]:
            whole.engine.refresh_instruments(whole._listing(day), whole._info(day), day)
            fresh = new_only._listing(day, new_only=True)
            new_only.engine.refresh_instruments(fresh, new_only._info(day), day)
            assert len(fresh) < len(whole._listing(day))  # most contracts were listed before
            assert _master_rows(new_only) == _master_rows(whole)
    finally:
        for kernel in kernels:
            kernel.close()


def test_bars_closing_together_come_shortest_timeframe_first_then_by_symbol(tmp_path: Path) -> None:
    """NIFTY and INDIA VIX 15-minute bars on the sample day: at each close the bars of both instruments
    (base, rolled up, daily) reach the strategies by timeframe length, then symbol."""
    calendar = get_calendar()
    settings = make_settings(tmp_path)
    history = store_history(settings, SAMPLE_STORE, calendar)
    kernel = BarBacktest(settings, IN_MEMORY, DAY, history, None, underlyings=["NIFTY"], calendar=calendar)
    try:
        steps, _, base_at = kernel._session_bars(DAY)
    finally:
        kernel.close()
    symbols = {bar.symbol for group in steps.values() for bar in group}
    assert symbols == {"NIFTY", "INDIA VIX"}
    assert any(len({bar.symbol for bar in group}) == 2 for group in base_at.values())
    for group in steps.values():
        assert group == sorted(group, key=lambda bar: (bar.timeframe.seconds, bar.symbol))

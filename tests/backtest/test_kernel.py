"""The bar kernel: its engine settings (the backtest's own kill-flag re-read interval, in replayed time),
the instrument master it refreshes every session, and the live opening-gap check at each open."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from optbot.backtest.kernel import BarBacktest, _engine_settings
from optbot.backtest.runner import IN_MEMORY, store_history
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.enums import OptionType, Timeframe
from optbot.core.events import Alert, Bar, Event
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_date
from optbot.data.store import store_symbol
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext
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
        steps = kernel._session_steps(DAY)
    finally:
        kernel.close()
    symbols = {bar.symbol for step in steps for bar in step.bars}
    assert symbols == {"NIFTY", "INDIA VIX"}
    assert any(len({bar.symbol for bar in step.base}) == 2 for step in steps)
    assert [step.close for step in steps] == sorted({step.close for step in steps})
    for step in steps:
        assert step.bars == sorted(step.bars, key=lambda bar: (bar.timeframe.seconds, bar.symbol))
        assert all(bar.end_utc == step.close for bar in step.bars)
        assert all(bar in step.bars for bar in step.base)
        order = [
            symbol for symbol in ("NIFTY", "INDIA VIX") if any(bar.symbol == symbol for bar in step.base)
        ]
        assert [bar.symbol for bar in step.base] == order  # underlying order, then INDIA VIX


# ------------------------------------------------------------------ spec §2.4/§3.4: the opening gap
UNGAPPED, GAPPED = date(2024, 5, 31), date(2024, 6, 3)  # NIFTY opens +0.35 %, then +3.58 %


class QuotedStrikes(Strategy):
    """Counts the strikes its chain quotes at each session's first 15-minute NIFTY bar: what a strategy
    sees of the strike window."""

    name = "quoted_strikes"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.quoted: dict[date, int] = {}

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        day = ist_date(bar.start_utc)
        if bar.timeframe is not Timeframe.M15 or bar.symbol != "NIFTY" or day in self.quoted:
            return
        chain = ctx.chain("NIFTY")
        assert chain is not None
        self.quoted[day] = sum(1 for row in chain.rows if row.quote(OptionType.CE) is not None)


async def test_a_gapped_open_gets_the_live_response_and_an_ungapped_one_none(tmp_path: Path) -> None:
    """The first bar's open against the store's previous close (`OpeningGapCheck`, as the live pipeline
    checks it): only above `data.opening_gap_pct` the pipeline's alert reaches the bus, the session's
    note is written and the chain a strategy reads is quoted over the wider §3.4 window."""
    calendar = get_calendar()
    settings = make_settings(tmp_path, instruments={"gap_stability_minutes": 600.0})
    history = store_history(settings, SAMPLE_STORE, calendar)
    strategy = QuotedStrikes(settings)
    kernel = BarBacktest(
        settings,
        IN_MEMORY,
        UNGAPPED,
        history,
        None,
        strategies=[strategy],
        underlyings=["NIFTY"],
        calendar=calendar,
    )
    alerts: list[Alert] = []

    def collect(event: Event) -> None:
        assert isinstance(event, Alert)
        if event.dedupe_key.startswith("opening-gap"):
            alerts.append(event)

    kernel.engine.bus.subscribe("test-alerts", (Alert,), collect)
    gap_notes = lambda: [e.text for e in kernel.engine.journal if "opening gap" in e.text]  # noqa: E731
    try:
        await kernel.engine.start(UNGAPPED)
        kernel.warm_up(UNGAPPED)
        await kernel.run_day(UNGAPPED)
        assert round(kernel.gap_check.detector.last["NIFTY"], 2) == 0.35  # checked, below 2 %
        assert not gap_notes() and not alerts
        assert not kernel.engine.market.gap_windows.is_open("NIFTY")
        await kernel.run_day(GAPPED)
        assert [alert.title for alert in alerts] == ["NIFTY opened with a +3.58% gap"]
        assert alerts[0].dedupe_key == "opening-gap:NIFTY:2024-06-03"
        assert len(gap_notes()) == 1 and "opening gap NIFTY +3.58%" in gap_notes()[0]
        assert kernel.engine.market.gap_windows.is_open("NIFTY")
        assert strategy.quoted[GAPPED] > strategy.quoted[UNGAPPED] == 2 * 6 + 1  # ATM ± the window
    finally:
        kernel.close()


def test_the_replay_history_reads_each_index_under_the_row_the_kernel_names_it_by(tmp_path: Path) -> None:
    """`store_history` reads the stored bars under the index rows the kernel's master lists (so each bar
    is built once): its labels are the kernel's (token, symbol) for every replayed index and INDIA VIX,
    and the session's base bars are the parsed bars themselves."""
    calendar = get_calendar()
    settings = make_settings(tmp_path)
    history = store_history(settings, SAMPLE_STORE, calendar)
    kernel = BarBacktest(settings, IN_MEMORY, DAY, history, None, underlyings=["NIFTY"], calendar=calendar)
    try:
        for name in ("NIFTY", "INDIA VIX"):
            index = kernel._index(name)
            assert history.labels[store_symbol(name)] == (index.token, index.underlying)
        steps = kernel._session_steps(DAY)
    finally:
        kernel.close()
    parsed = history.day("NIFTY", DAY)
    assert parsed is not None
    base = [bar for step in steps for bar in step.base if bar.symbol == "NIFTY"]
    assert len(base) == len(parsed.bars) and all(a is b for a, b in zip(base, parsed.bars, strict=True))

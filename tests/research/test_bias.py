"""Bias checks through the backtest kernel on the bundled data root: peeking strategies (a Python one and
a legs engine fed the session's close) are caught; every shipped strategy, built-in and legs template,
passes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.backtest.store_data import StoreHistory
from optbot.cli.main import app
from optbot.config import Settings
from optbot.core.enums import SignalDirection, Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar, Signal
from optbot.core.timeutil import ist_date, to_ist
from optbot.research.bias import (
    BiasData,
    ReplaySpec,
    check_look_ahead,
    check_warm_up,
    load_bias_data,
    replay_decisions,
    sample_settings,
)
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext
from optbot.strategy.legs import LegStrategy, template_names
from optbot.strategy.registry import BUILTIN_STRATEGIES, resolve
from tests.conftest import SAMPLE_STORE

# 15-minute index sessions (the built-ins' 15-minute entries), and 1-minute sessions with real option
# bars (the 09:20 straddle needs minute bars). Each strategy is checked on sample days it trades.
START, END = date(2020, 11, 2), date(2020, 11, 4)
LEGS_START, LEGS_END = date(2022, 11, 1), date(2022, 11, 2)
TRADING_DAYS = {
    "adaptive": date(2020, 11, 3),
    "adx_trend": date(2020, 11, 18),
    "gap_fill": date(2024, 6, 3),  # a 3.6 % opening gap
    "mean_reversion": date(2020, 11, 3),
    "momentum": date(2020, 11, 4),
    "trend_following": date(2020, 11, 11),
    "volatility": date(2020, 11, 5),
    "adx_directional": date(2020, 11, 13),  # ADX category 1 and a range breakout
}


class TomorrowPeeker(Strategy):
    """Holds the history it was handed and signals when the *next* 15-minute bar closes higher."""

    name = "peeker"

    def __init__(self, settings: Settings, history: StoreHistory) -> None:
        super().__init__(settings)
        self.history = history

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if bar.timeframe is not Timeframe.M15 or bar.symbol != "NIFTY":
            return
        found = self.history.session_bars("NIFTY", ist_date(bar.start_utc))
        later = (
            [b for b in found[1] if b.timeframe is Timeframe.M15 and b.start_utc >= bar.end_utc]
            if found
            else []
        )
        if later and later[0].close > bar.close * 1.001:
            ctx.emit(Signal(ctx.now_utc(), self.name, "NIFTY", SignalDirection.BULLISH, "next bar is higher"))


class ClosePeekingLegs(LegStrategy):
    """The legs engine with one defect: it prices the strikes off the session's closing level (a daily
    bar it was handed ahead of time) instead of the spot at the decision."""

    name = "peeking_straddle"

    def __init__(self, settings: Settings, history: StoreHistory) -> None:
        super().__init__(settings, resolve("short_straddle_0920").plan)
        self.history = history

    def _step(self, ctx: StrategyContext) -> None:
        daily = self.history.daily_bar(self.underlying, ist_date(ctx.now_utc()))
        if daily is not None:
            self.spot = daily.close
        super()._step(ctx)


class HistoryCounter(Strategy):
    """Decides on how much daily history exists — the pattern of an indicator seeded from the first bar."""

    name = "history-counter"

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        local = to_ist(bar.start_utc)
        if bar.timeframe is Timeframe.M15 and bar.symbol == "NIFTY" and (local.hour, local.minute) == (9, 15):
            count = len(ctx.bars("NIFTY", Timeframe.D1, 5000))
            direction = SignalDirection.BULLISH if count % 2 else SignalDirection.BEARISH
            ctx.emit(Signal(ctx.now_utc(), self.name, "NIFTY", direction, f"{count} daily bars"))


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return sample_settings(Settings(paths={"data_root": tmp_path_factory.mktemp("bias")}))


@pytest.fixture(scope="module")
def data(settings: Settings) -> BiasData:
    return load_bias_data(settings, "adx_trend", SAMPLE_STORE, START, END)


@pytest.fixture(scope="module")
def legs_data(settings: Settings) -> BiasData:
    return load_bias_data(settings, "short_straddle_0920", SAMPLE_STORE, LEGS_START, LEGS_END)


def test_the_peeking_strategy_is_flagged_at_its_first_signal(settings: Settings, data: BiasData) -> None:
    spec = ReplaySpec(settings, TomorrowPeeker)
    decisions = replay_decisions(spec, data).decisions
    assert decisions, "the peeker should signal on real sessions"
    verdict = check_look_ahead(spec, data, max_checks=4)
    assert not verdict.passed
    first = to_ist(decisions[0].at)
    assert verdict.line.startswith(f"look-ahead: FAIL at {first:%Y-%m-%d %H:%M} IST")
    assert "next bar is higher" in verdict.details[0]


def test_a_legs_engine_fed_the_close_is_flagged(settings: Settings, legs_data: BiasData) -> None:
    spec = ReplaySpec(settings, ClosePeekingLegs)
    verdict = check_look_ahead(spec, legs_data, max_checks=3)
    assert not verdict.passed and verdict.line.startswith("look-ahead: FAIL at 2022-11-01 09:20 IST")
    # 09:20 spot 18,099.45 -> ATM 18,100; the close 18,145.40 -> 18,150
    assert "NIFTY03NOV2218150CE" in verdict.details[0] and "NIFTY03NOV2218100CE" in verdict.details[0]


@pytest.mark.parametrize("name", [*sorted(BUILTIN_STRATEGIES), *template_names()])
def test_every_shipped_strategy_passes_look_ahead(name: str, settings: Settings, legs_data: BiasData) -> None:
    cls = resolve(name)
    spec = ReplaySpec(settings, lambda configured, _history: cls(configured))
    day = TRADING_DAYS.get(name)
    data = legs_data if day is None else load_bias_data(settings, name, SAMPLE_STORE, day, day)
    verdict = check_look_ahead(spec, data, max_checks=3)
    assert verdict.passed, (verdict.line, verdict.details)
    assert verdict.line.startswith("look-ahead: PASS")


def test_a_strategy_without_decisions_is_not_reported_as_passing(settings: Settings, data: BiasData) -> None:
    # the 09:20 straddle cannot enter on 15-minute sessions (its first bar closes at 09:30)
    cls = resolve("short_straddle_0920")
    verdict = check_look_ahead(ReplaySpec(settings, lambda configured, _history: cls(configured)), data)
    assert not verdict.passed and verdict.line.startswith("look-ahead: NOT TESTED")


def test_warm_up_reports_the_history_a_strategy_needs(settings: Settings, data: BiasData) -> None:
    spec = ReplaySpec(settings, lambda configured, _history: BUILTIN_STRATEGIES["adx_trend"](configured))
    verdict, rows = check_warm_up(spec, data, (5, 200), tolerance=1e-6)
    by_length = {row.sessions: row for row in rows}
    assert set(by_length) == {5, 200}
    # five sessions cannot seed a 14-day Wilder ADX or a 21-bar EMA on daily bars: the values move
    assert by_length[5].max_relative_difference > 1e-6
    # the strategy reads a bounded window (3x each period), so a long enough history reproduces it exactly
    assert by_length[200].decisions_agree and by_length[200].max_relative_difference <= 1e-6
    assert verdict.passed and verdict.line.startswith("warm-up: PASS")


def test_warm_up_flags_a_strategy_that_depends_on_all_of_history(settings: Settings, data: BiasData) -> None:
    spec = ReplaySpec(settings, lambda configured, _history: HistoryCounter(configured))
    verdict, rows = check_warm_up(spec, data, (20, 100), tolerance=1e-6)
    assert not verdict.passed and verdict.line.startswith("warm-up: FAIL")
    assert all(not row.decisions_agree for row in rows)


def test_bias_command_checks_a_legs_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("OPTBOT__RESEARCH__BIAS_MAX_LOOK_AHEAD_CHECKS", "2")
    args = [
        "research",
        "bias",
        "--strategy",
        "short_straddle_0920",
        "--from",
        "2022-11-01",
        "--to",
        "2022-11-01",
    ]
    result = CliRunner().invoke(app, [*args, "--data", str(SAMPLE_STORE), "--warmup", "300"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("look-ahead: PASS") for line in lines)
    assert any(line.startswith("warm-up: PASS") for line in lines)
    bad = CliRunner().invoke(app, [*args, "--data", str(SAMPLE_STORE), "--warmup", "x"])
    assert isinstance(bad.exception, UserError) and str(bad.exception).startswith("--warmup:")


def test_the_cut_data_hides_every_bar_after_the_cut(data: BiasData) -> None:
    from optbot.research.bias import CutHistory

    day = data.days[1]
    found = data.history.session_bars("NIFTY", day)
    assert found is not None
    moment = found[1][10].end_utc
    cut = CutHistory(data.history, until=moment).session_bars("NIFTY", day)
    assert cut is not None
    # every bar after the cut is gone: what ends later is a roll-up of the bars before it, marked
    # incomplete (the context refuses it) or the day's daily bar built from them, never the stored one
    later = [bar for bar in cut[1] if bar.end_utc > moment]
    assert all(not bar.complete for bar in later if bar.timeframe is not Timeframe.D1)
    assert max(bar.end_utc for bar in cut[1] if bar.timeframe is Timeframe.M15) == moment
    stored_daily = data.history.daily_bar("NIFTY", day)
    assert stored_daily is not None and CutHistory(data.history, until=moment).daily_bar("NIFTY", day) is None

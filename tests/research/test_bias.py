"""Bias checks on real NIFTY / INDIA VIX sample bars: a peeking strategy is caught, the built-ins pass."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.config import Settings
from optbot.core.enums import SignalDirection, Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar, Signal
from optbot.core.timeutil import to_ist
from optbot.research.bias import (
    BiasSeries,
    ReplaySpec,
    check_look_ahead,
    check_warm_up,
    load_bias_series,
    replay_decisions,
    sample_settings,
)
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext
from optbot.strategy.registry import BUILTIN_STRATEGIES
from tests.conftest import SAMPLE_DATA

START, END = date(2020, 11, 2), date(2020, 11, 6)


class TomorrowPeeker(Strategy):
    """Holds the whole series it was handed and signals when the *next* 15-minute bar closes higher."""

    name = "peeker"

    def __init__(self, settings: Settings, series: BiasSeries) -> None:
        super().__init__(settings)
        self.future = [bar for bar in series.intraday if bar.timeframe is Timeframe.M15]

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if bar.timeframe is not Timeframe.M15:
            return
        following = next((later for later in self.future if later.start_utc >= bar.end_utc), None)
        if following is not None and following.close > bar.close * 1.002:
            ctx.emit(Signal(ctx.now_utc(), self.name, "NIFTY", SignalDirection.BULLISH, "next bar is higher"))


class HistoryCounter(Strategy):
    """Decides on how much daily history exists — the pattern of an indicator seeded from the first bar."""

    name = "history-counter"

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if (
            bar.timeframe is Timeframe.M15
            and to_ist(bar.start_utc).hour == 9
            and to_ist(bar.start_utc).minute == 15
        ):
            count = len(ctx.bars("NIFTY", Timeframe.D1, 5000))
            direction = SignalDirection.BULLISH if count % 2 else SignalDirection.BEARISH
            ctx.emit(Signal(ctx.now_utc(), self.name, "NIFTY", direction, f"{count} daily bars"))


@pytest.fixture(scope="module")
def series() -> BiasSeries:
    return load_bias_series(SAMPLE_DATA, START, END, intraday_history_days=45)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return sample_settings(Settings(paths={"data_root": tmp_path_factory.mktemp("bias")}))


def test_the_peeking_strategy_is_flagged_at_its_first_signal(settings: Settings, series: BiasSeries) -> None:
    spec = ReplaySpec(settings, TomorrowPeeker, START, END)
    decisions = replay_decisions(spec, series).decisions
    assert decisions, "the peeker should signal on a real week"
    verdict = check_look_ahead(spec, series)
    assert not verdict.passed
    first = to_ist(decisions[0].at)
    assert verdict.line.startswith(f"look-ahead: FAIL at {first:%Y-%m-%d %H:%M} IST")
    assert "next bar is higher" in verdict.details[0]


@pytest.mark.parametrize("name", sorted(BUILTIN_STRATEGIES))
def test_every_built_in_strategy_passes_look_ahead(name: str, settings: Settings, series: BiasSeries) -> None:
    cls = BUILTIN_STRATEGIES[name]
    spec = ReplaySpec(settings, lambda configured, _series: cls(configured), START, END)
    verdict = check_look_ahead(spec, series, max_checks=6)
    assert verdict.passed, (verdict.line, verdict.details)
    assert verdict.line.startswith("look-ahead: PASS")


def test_warm_up_reports_the_history_a_strategy_needs(settings: Settings, series: BiasSeries) -> None:
    spec = ReplaySpec(
        settings, lambda configured, _series: BUILTIN_STRATEGIES["adx_trend"](configured), START, END
    )
    verdict, rows = check_warm_up(spec, series, (5, 60, 400), tolerance=1e-6)
    by_length = {row.sessions: row for row in rows}
    assert set(by_length) == {5, 60, 400}
    # five sessions cannot seed a 14-day Wilder ADX or a 21-bar EMA on daily bars: the values move
    assert by_length[5].max_relative_difference > 1e-6
    # the strategy reads a bounded window (3x each period), so a long enough history reproduces it exactly
    assert by_length[400].decisions_agree and by_length[400].max_relative_difference <= 1e-6
    assert verdict.passed and verdict.line.startswith("warm-up: PASS")


def test_warm_up_flags_a_strategy_that_depends_on_all_of_history(
    settings: Settings, series: BiasSeries
) -> None:
    spec = ReplaySpec(settings, lambda configured, _series: HistoryCounter(configured), START, END)
    verdict, rows = check_warm_up(spec, series, (20, 200), tolerance=1e-6)
    assert not verdict.passed and verdict.line.startswith("warm-up: FAIL")
    assert all(not row.decisions_agree for row in rows)


def test_bias_command_prints_one_verdict_per_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path))
    args = ["research", "bias", "--strategy", "momentum", "--from", "2020-11-02", "--to", "2020-11-04"]
    result = CliRunner().invoke(app, [*args, "--data", str(SAMPLE_DATA), "--warmup", "10,300"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("look-ahead: PASS") for line in lines)
    assert any(line.startswith("warm-up: ") for line in lines)
    bad = CliRunner().invoke(app, [*args, "--data", str(SAMPLE_DATA), "--warmup", "x"])
    assert isinstance(bad.exception, UserError) and str(bad.exception).startswith("--warmup:")

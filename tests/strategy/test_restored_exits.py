"""Exit plans rebuilt after a restart: the recorded plan again, or a conservative one; and the one-way
state (best price, breakeven, partial exit) carried forward to what happened before the restart."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from optbot.config import Settings
from optbot.core.enums import SignalDirection
from optbot.strategy.adoption import RecordedExitPlan
from optbot.strategy.exits import restored_plan, resume_progress

PARAMS = Settings().strategy
ENTRY = datetime(2024, 5, 21, 4, 30, tzinfo=UTC)  # 10:00 IST
EXPIRY = date(2024, 5, 30)


def restored(direction=SignalDirection.BULLISH, recorded=None):
    return restored_plan(PARAMS, direction, ENTRY, 20000.0, 100, 25, EXPIRY, False, recorded, 14.0)


def test_a_recorded_plan_comes_back_as_it_was_set() -> None:
    plan = restored(recorded=(19850.0, 20300.0))
    assert (plan.stop, plan.target, plan.initial_risk) == pytest.approx((19850.0, 20300.0, 150.0))
    assert plan.entry_vix == 14.0 and plan.best_price == 20000.0 and not plan.partial_done


def test_without_a_recorded_plan_the_stop_is_the_tightest_the_settings_allow() -> None:
    tightest = min(PARAMS.initial_stop_pct, PARAMS.high_vix_stop_pct)
    bullish = restored()
    assert bullish.stop == pytest.approx(20000.0 * (1 - tightest / 100))
    assert bullish.target == pytest.approx(20000.0 + 20000.0 * tightest / 100 * PARAMS.target_reward_risk)
    bearish = restored(SignalDirection.BEARISH)
    assert bearish.stop == pytest.approx(20000.0 * (1 + tightest / 100)) and bearish.target < 20000.0
    assert "conservative stop" in bullish.notes[0]


def test_breakeven_reached_before_the_restart_holds_after_it() -> None:
    plan = restored(recorded=(19800.0, 20400.0))
    resume_progress(plan, PARAMS, 20000.0 * (1 + PARAMS.breakeven_after_pct / 100) + 1.0, partly_closed=False)
    assert plan.at_breakeven and plan.stop == pytest.approx(20000.0) and not plan.partial_done


def test_a_partial_exit_before_the_restart_trails_from_the_best_close() -> None:
    plan = restored(recorded=(19800.0, 20400.0))
    resume_progress(plan, PARAMS, 20250.0, partly_closed=True)
    assert plan.partial_done and plan.best_price == 20250.0
    assert plan.stop == pytest.approx(max(20000.0, 20250.0 * (1 - PARAMS.trail_stop_pct / 100)))


def test_an_adverse_best_price_changes_nothing() -> None:
    plan = restored(recorded=(19800.0, 20400.0))
    resume_progress(plan, PARAMS, 19900.0, partly_closed=False)
    assert plan.best_price == 20000.0 and plan.stop == 19800.0 and not plan.at_breakeven


def test_a_recorded_plan_round_trips_through_the_signal_detail() -> None:
    recorded = RecordedExitPlan(20000.0, 19800.0, 20400.0, None)
    assert RecordedExitPlan.from_detail(recorded.as_detail()) == recorded
    assert RecordedExitPlan.from_detail({"stop": 1.0}) is None and RecordedExitPlan.from_detail(None) is None

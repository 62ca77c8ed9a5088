from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from optbot.config import Settings
from optbot.core.enums import IntentPurpose, SignalDirection
from optbot.risk.views import SessionWindow
from optbot.strategy.exits import ExitKind, evaluate_exit, plan_exits

PARAMS = Settings().strategy
ENTRY = datetime(2024, 5, 21, 4, 30, tzinfo=UTC)  # 10:00 IST
SESSION = SessionWindow(datetime(2024, 5, 21, 3, 45, tzinfo=UTC), datetime(2024, 5, 21, 10, 0, tzinfo=UTC))
EXPIRY = date(2024, 5, 30)


def plan(
    direction=SignalDirection.BULLISH, quantity=100, vix=14.0, key_level=None, physical=False, expiry=EXPIRY
):
    return plan_exits(PARAMS, direction, ENTRY, 20000.0, quantity, 25, vix, 25.0, expiry, physical, key_level)


def step(p, minutes, price, vix=14.0):
    return evaluate_exit(p, PARAMS, ENTRY + timedelta(minutes=minutes), price, vix, SESSION, 30.0)


def test_initial_stop_and_target_are_one_percent_and_one_to_two() -> None:
    p = plan()
    assert p.stop == pytest.approx(19800.0) and p.target == pytest.approx(20400.0)
    action = step(p, 5, 19799.0)
    assert action.kind is ExitKind.STOP and action.purpose is IntentPurpose.STOP and action.quantity == 100


def test_bearish_mirror_and_high_vix_tightening() -> None:
    p = plan(SignalDirection.BEARISH, vix=26.0)
    assert p.stop == pytest.approx(20100.0) and p.target == pytest.approx(19800.0)
    assert any("tightened to 0.5%" in note for note in p.notes)


def test_high_vix_target_reward_risk_sets_the_target_further_out() -> None:
    """Spec §4.2/§10.4 dynamic targets: at VIX >= risk.vix_high the target can be 2-5x the (tightened)
    risk; below that level, and by default, the normal 1:2 stands."""
    wide = Settings(strategy={"high_vix_target_reward_risk": 4.0}).strategy
    high = plan_exits(wide, SignalDirection.BULLISH, ENTRY, 20000.0, 100, 25, 26.0, 25.0, EXPIRY, False)
    assert high.stop == pytest.approx(19900.0) and high.target == pytest.approx(20400.0)  # 4 x 100
    assert any("target at 1:4" in note for note in high.notes)
    calm = plan_exits(wide, SignalDirection.BULLISH, ENTRY, 20000.0, 100, 25, 14.0, 25.0, EXPIRY, False)
    assert calm.target == pytest.approx(20400.0)  # 2 x 200: the normal target
    assert plan(vix=26.0).target == pytest.approx(20200.0)  # unset: 2 x the tightened 100


def test_low_vix_stop_pct_tightens_the_stop_below_vix_low() -> None:
    """Spec §10.1/§10.4: stops adjusted by VIX level, tighter in low volatility (VIX < risk.vix_low)."""
    tight = Settings(strategy={"low_vix_stop_pct": 0.6}).strategy
    low = plan_exits(tight, SignalDirection.BULLISH, ENTRY, 20000.0, 100, 25, 13.0, 25.0, EXPIRY, False,
                     low_vix_level=15.0)  # fmt: skip
    assert low.stop == pytest.approx(19880.0) and low.target == pytest.approx(20240.0)
    assert any("low VIX 13.00 (< 15): stop at 0.6%" in note for note in low.notes)
    normal = plan_exits(tight, SignalDirection.BULLISH, ENTRY, 20000.0, 100, 25, 16.0, 25.0, EXPIRY, False,
                        low_vix_level=15.0)  # fmt: skip
    assert normal.stop == pytest.approx(19800.0)
    assert plan(vix=13.0).stop == pytest.approx(19800.0)  # unset: the 1 % initial stop
    with pytest.raises(ValueError, match="low_vix_stop_pct must be at least min_stop_pct"):
        Settings(strategy={"low_vix_stop_pct": 0.3})


def test_high_vix_target_below_the_minimum_reward_risk_is_refused() -> None:
    with pytest.raises(ValueError, match="high_vix_target_reward_risk must be at least min_reward_risk"):
        Settings(strategy={"high_vix_target_reward_risk": 1.5})


def test_level_stop_respects_minimum_distance() -> None:
    assert plan(key_level=19880.0).stop == pytest.approx(19880.0 * (1 - 0.0005))
    close_level = plan(key_level=19990.0)
    assert close_level.stop == pytest.approx(19900.0)  # 0.5 % minimum


def test_breakeven_partial_trail_then_trailing_stop() -> None:
    p = plan()
    assert step(p, 5, 20110.0) is None and p.at_breakeven and p.stop == 20000.0
    partial = step(p, 10, 20210.0)
    assert partial.kind is ExitKind.PARTIAL and partial.quantity == 50 and p.quantity == 50
    assert "trail the rest" in partial.reason
    assert step(p, 15, 20300.0) is None
    assert p.stop == pytest.approx(20300.0 * 0.995)
    final = step(p, 20, 20190.0)
    assert final.kind is ExitKind.STOP and "trailing stop" in final.reason and final.quantity == 50


def test_single_lot_has_no_partial() -> None:
    p = plan(quantity=25)
    assert step(p, 10, 20210.0) is None and p.partial_done and p.quantity == 25


def test_target_exit() -> None:
    p = plan()
    p.partial_done = True  # partial already taken
    action = step(p, 10, 20400.0)
    assert action.kind is ExitKind.TARGET and action.purpose is IntentPurpose.TARGET


def test_time_stop_after_thirty_minutes_without_movement() -> None:
    p = plan()
    assert step(p, 29, 20010.0) is None
    action = step(p, 30, 20010.0)
    assert action.kind is ExitKind.TIME_STOP and "no movement in 30 min" in action.reason


def test_rolling_time_stop_closes_a_trade_that_moved_early_then_stalled() -> None:
    """Spec §10.4 'no movement in 30 minutes' over the last 30 minutes: +0.25 % at minute 5, then
    nothing more for 30 minutes, is a stalled trade (the fixed window never closes it)."""
    rolling = Settings(strategy={"time_stop_rolling": True}).strategy
    early_then_flat = [(5, 20050.0), (20, 20040.0), (34, 20060.0), (35, 20055.0)]
    fixed = plan()
    assert all(step(fixed, minute, price) is None for minute, price in early_then_flat)
    p = plan()
    actions = [
        evaluate_exit(p, rolling, ENTRY + timedelta(minutes=m), price, 14.0, SESSION, 30.0)
        for m, price in early_then_flat
    ]
    assert actions[:3] == [None, None, None]  # 20060 is under 0.2 % beyond the 20050 step
    assert actions[3] is not None and actions[3].kind is ExitKind.TIME_STOP and actions[3].quantity == 100
    assert "since 10:05" in actions[3].reason
    moving = plan()
    for minute, price in [(5, 20050.0), (30, 20095.0), (55, 20100.0)]:  # a new 0.2 % step at minute 30
        assert (
            evaluate_exit(moving, rolling, ENTRY + timedelta(minutes=minute), price, 14.0, SESSION, 30.0)
            is None
        )


def test_flat_before_calendar_close() -> None:
    p = plan()
    action = evaluate_exit(p, PARAMS, SESSION.close_utc - timedelta(minutes=30), 20050.0, 14.0, SESSION, 30.0)
    assert action.kind is ExitKind.SESSION_CLOSE and "15:30 close" in action.reason


def test_vix_jump_exit() -> None:
    action = step(plan(vix=14.0), 5, 20010.0, vix=19.5)
    assert action.kind is ExitKind.VIX_JUMP and "5.50 points" in action.reason


def test_expiry_window_and_stock_options() -> None:
    near = plan(expiry=date(2024, 5, 24))  # 3 days away
    assert step(near, 1, 20000.0).kind is ExitKind.EXPIRY
    stock = plan(expiry=date(2024, 5, 25), physical=True)
    assert step(stock, 1, 20000.0) is None
    stock_settings = PARAMS.model_copy(update={"stock_close_days_before_expiry": 5})
    action = evaluate_exit(stock, stock_settings, ENTRY, 20000.0, 14.0, SESSION, 30.0)
    assert action.kind is ExitKind.EXPIRY and "physical settlement" in action.reason


def test_neutral_direction_refused() -> None:
    with pytest.raises(ValueError):
        plan(SignalDirection.NEUTRAL)

"""The cap on automatic resumes after a lost broker session (runbook §1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from optbot.config.sections.engine import EngineSettings
from optbot.ops.session import BrokerSessionRecovery

MORNING = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 09:30 IST


def test_resumes_are_capped_per_ist_day_and_spaced_by_the_minimum_gap() -> None:
    recovery = BrokerSessionRecovery(
        EngineSettings(session_recovery_max_per_day=2, session_recovery_min_gap_minutes=5)
    )
    assert not recovery.capped(MORNING) and recovery.wait_seconds(MORNING) == 0
    recovery.resumed(MORNING)
    assert recovery.wait_seconds(MORNING + timedelta(minutes=2)) == 180
    assert recovery.wait_seconds(MORNING + timedelta(minutes=5)) == 0
    recovery.resumed(MORNING + timedelta(minutes=6))
    assert recovery.capped(MORNING + timedelta(hours=1))
    assert recovery.resumes_today(MORNING + timedelta(hours=1)) == 2
    next_day = MORNING + timedelta(days=1)
    assert not recovery.capped(next_day) and recovery.resumes_today(next_day) == 0


def test_a_cap_of_zero_never_resumes_by_itself() -> None:
    recovery = BrokerSessionRecovery(EngineSettings(session_recovery_max_per_day=0))
    assert recovery.capped(MORNING)

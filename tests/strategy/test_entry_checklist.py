"""Spec §10.3's pre-entry checklist item by item, at its thresholds, and the time-based entry slots."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest

from optbot.config.sections.strategy import StrategySettings
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.risk.views import SessionWindow
from optbot.strategy.checklist import ChecklistResult, entry_checklist, in_time_entry_window
from optbot.test_kit.execution import option_instrument

DAY = date(2025, 10, 20)
SESSION = SessionWindow(to_utc(ist_datetime(DAY, time(9, 15))), to_utc(ist_datetime(DAY, time(15, 30))))
PARAMS = StrategySettings()


def at(hour: int, minute: int) -> datetime:
    return to_utc(ist_datetime(DAY, time(hour, minute)))


def run(
    now: datetime | None = None,
    contract: Instrument | None = None,
    open_interest: int | None = 5000,
    vix: float | None = 15.0,
    trend: bool = True,
    near_level: bool = True,
) -> ChecklistResult:
    return entry_checklist(
        PARAMS,
        now or at(11, 0),
        SESSION,
        45.0,
        contract or option_instrument(),
        open_interest,
        vix,
        trend,
        "trend detail",
        near_level,
        "level detail",
        volume=None,
        min_volume=0,
    )


def failed(result: ChecklistResult) -> list[str]:
    return [item.name for item in result.items if not item.passed]


def test_a_trade_meeting_every_item_passes() -> None:
    result = run()
    assert result.passed and [item.name for item in result.items] == [
        "market hours",
        "token validity",
        "liquidity",
        "volatility",
        "trend confirmation",
        "support/resistance",
    ]


@pytest.mark.parametrize(
    ("now", "inside"),
    [(at(9, 14), False), (at(9, 15), True), (at(14, 44), True), (at(14, 45), False), (at(15, 20), False)],
)
def test_market_hours_are_the_session_less_the_no_new_entries_window(now: datetime, inside: bool) -> None:
    assert ("market hours" not in failed(run(now=now))) is inside


def test_an_expired_contract_or_none_fails_token_validity() -> None:
    expired = replace(option_instrument(), expiry=DAY - timedelta(days=1))
    assert failed(run(contract=expired)) == ["token validity"]


@pytest.mark.parametrize(("oi", "ok"), [(999, False), (1000, True), (None, False)])
def test_liquidity_needs_the_minimum_open_interest(oi: int | None, ok: bool) -> None:
    assert ("liquidity" not in failed(run(open_interest=oi))) is ok


@pytest.mark.parametrize(
    ("vix", "ok"), [(11.9, False), (12.0, True), (30.0, True), (30.1, False), (None, False)]
)
def test_vix_must_lie_within_12_and_30(vix: float | None, ok: bool) -> None:
    assert ("volatility" not in failed(run(vix=vix))) is ok


def test_trend_and_level_items_follow_the_idea() -> None:
    assert failed(run(trend=False, near_level=False)) == ["trend confirmation", "support/resistance"]


@pytest.mark.parametrize(
    ("now", "slot"),
    [
        (at(10, 29), None),
        (at(10, 30), "10:30"),
        (at(10, 34), "10:30"),
        (at(10, 35), None),
        (at(14, 32), "14:30"),
    ],
)
def test_time_based_entry_slots_are_10_30_and_14_30_for_five_minutes(now: datetime, slot: str | None) -> None:
    assert in_time_entry_window(PARAMS, now) == slot

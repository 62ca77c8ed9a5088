"""Backtest days past the calendar's known range are replayed provisionally and said so (§13.7)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from optbot.backtest.runner import check_range, provisional_note
from optbot.calendar import get_calendar


def test_provisional_days_are_not_refused_but_warned(caplog: pytest.LogCaptureFixture) -> None:
    calendar = get_calendar()
    with caplog.at_level(logging.WARNING, logger="optbot.backtest.runner"):
        days = check_range(calendar, date(2026, 12, 30), date(2027, 1, 5))
    assert days == [
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
        date(2027, 1, 4),
        date(2027, 1, 5),
    ]
    assert "provisional sessions" in caplog.text
    note = provisional_note(calendar, days)
    assert note is not None and note.startswith(
        "3 replayed day(s) are after the market calendar's known range"
    )
    assert provisional_note(calendar, days[:2]) is None


def test_known_days_do_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="optbot.backtest.runner"):
        check_range(get_calendar(), date(2024, 1, 1), date(2024, 1, 5))
    assert "provisional" not in caplog.text

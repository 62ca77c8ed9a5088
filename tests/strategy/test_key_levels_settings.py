"""The `[indicators]` level settings reach the levels the trend strategy enters and stops on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from optbot.config.sections.indicators import IndicatorsSettings
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.strategy.levels import key_levels

START = datetime(2024, 1, 2, 3, 45, tzinfo=UTC)
PEAKS = {4: 110.0, 12: 110.5}  # two swing highs 0.45 % apart: one level only at a wide tolerance


def bars() -> list[Bar]:
    """Twenty 15-minute bars between 99 and 101 with the two PEAKS; the last closes at 105."""
    made = []
    for index in range(20):
        opened = START + timedelta(minutes=15 * index)
        high = PEAKS.get(index, 101.0)
        close = 105.0 if index == 19 else 100.0
        made.append(
            Bar(
                opened + timedelta(minutes=15),
                "X",
                "X",
                Timeframe.M15,
                opened,
                opened + timedelta(minutes=15),
                100.0,
                max(high, close),
                99.0,
                close,
            )
        )
    return made


def test_defaults_keep_the_two_peaks_apart_and_fall_back_to_the_range() -> None:
    levels = key_levels(bars(), 5, IndicatorsSettings())
    assert levels is not None and levels.source == "5-bar range"


def test_a_wider_tolerance_clusters_the_peaks_into_one_resistance() -> None:
    levels = key_levels(bars(), 5, IndicatorsSettings(level_tolerance_pct=1.0))
    assert levels is not None and levels.source == "pivots"
    assert levels.resistance == 110.25


def test_one_touch_is_enough_when_level_min_touches_is_one() -> None:
    levels = key_levels(bars(), 5, IndicatorsSettings(level_min_touches=1))
    assert levels is not None and levels.source == "pivots"
    assert levels.resistance == 110.0  # the nearer of the two single-touch levels above 105


def test_a_wider_swing_no_longer_sees_the_early_peak() -> None:
    wide = IndicatorsSettings(level_tolerance_pct=1.0, swing_left_bars=5)
    levels = key_levels(bars(), 5, wide)
    assert levels is not None and levels.source == "5-bar range"


def test_a_longer_right_confirmation_hides_a_peak_too_close_to_the_end() -> None:
    late = IndicatorsSettings(level_tolerance_pct=1.0, swing_right_bars=7)
    levels = key_levels(bars(), 5, late)
    assert levels is not None and levels.source == "5-bar range"

"""instruments.liquidity_min_volume: the entry checklist's traded-volume item (spec §3.3/§5.4)."""

from __future__ import annotations

from datetime import UTC, datetime

from optbot.config.sections.strategy import StrategySettings
from optbot.strategy.checklist import ChecklistResult, entry_checklist

NOW = datetime(2025, 9, 10, 5, 0, tzinfo=UTC)


def checklist(volume: int | None, min_volume: int) -> ChecklistResult:
    return entry_checklist(
        StrategySettings(),
        NOW,
        None,
        15.0,
        None,
        5000,
        15.0,
        True,
        "aligned",
        True,
        "near support",
        volume=volume,
        min_volume=min_volume,
    )


def volume_items(result: ChecklistResult) -> list[tuple[bool, str]]:
    return [(item.passed, item.detail) for item in result.items if item.name == "traded volume"]


def test_no_volume_item_at_the_default_of_zero() -> None:
    assert volume_items(checklist(None, 0)) == []
    assert volume_items(checklist(10, 0)) == []


def test_a_minimum_volume_fails_a_thin_contract_and_passes_a_traded_one() -> None:
    assert volume_items(checklist(499, 500)) == [(False, "volume 499 vs minimum 500")]
    assert volume_items(checklist(500, 500)) == [(True, "volume 500 vs minimum 500")]


def test_unknown_volume_fails_when_a_minimum_is_set() -> None:
    assert volume_items(checklist(None, 500)) == [(False, "volume unknown (minimum 500)")]

"""The soak campaign's figures: each soak test records what it did and found; `make soak` prints them.

One row per campaign (runs, faults injected, duplicate orders, lost fills, reconciliation breaks and
recovery times, with whether the targets were met), then each campaign's detailed measures.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    campaign: str
    measure: str
    value: int | float | str
    required: str = ""


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One campaign's summary. None marks a figure the campaign does not measure."""

    campaign: str
    runs: int
    faults: int
    duplicates: int | None = None
    lost_fills: int | None = None
    breaks: int | None = None
    recoveries: tuple[float, ...] = ()
    met: bool = True
    note: str = ""

    @property
    def recovery_p50(self) -> str:
        return f"{statistics.median(self.recoveries):.1f} s" if self.recoveries else "-"

    @property
    def recovery_max(self) -> str:
        return f"{max(self.recoveries):.1f} s" if self.recoveries else "-"


FIGURES: list[Figure] = []
CAMPAIGNS: list[CampaignRow] = []


def record(campaign: str, measure: str, value: int | float | str, required: str = "") -> None:
    FIGURES.append(Figure(campaign, measure, value, required))


def record_campaign(row: CampaignRow) -> None:
    CAMPAIGNS.append(row)


def targets_missed() -> list[str]:
    return [row.campaign for row in CAMPAIGNS if not row.met]


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def campaign_table() -> list[str]:
    """The campaigns as one aligned table (targets: 0 duplicates, 0 lost fills, 0 breaks)."""
    header = (
        "campaign",
        "runs",
        "faults injected",
        "duplicates",
        "lost fills",
        "breaks",
        "recovery p50",
        "recovery max",
        "targets",
        "note",
    )
    rows = [header]
    rows += [
        (
            row.campaign,
            f"{row.runs:,}",
            f"{row.faults:,}",
            _count(row.duplicates),
            _count(row.lost_fills),
            _count(row.breaks),
            row.recovery_p50,
            row.recovery_max,
            "met" if row.met else "MISSED",
            row.note,
        )
        for row in CAMPAIGNS
    ]
    return _aligned(rows)


def table() -> list[str]:
    """The detailed measures as aligned text lines (campaign, measure, value, requirement)."""
    rows = [("campaign", "measure", "value", "required")]
    rows += [
        (f.campaign, f.measure, f"{f.value:,}" if isinstance(f.value, int) else str(f.value), f.required)
        for f in FIGURES
    ]
    return _aligned(rows)

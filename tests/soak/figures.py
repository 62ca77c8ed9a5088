"""The soak campaign's figures: each soak test records what it did and found; `make soak` prints them.

One row per campaign (runs, faults injected, duplicate orders, lost fills, reconciliation breaks and
recovery times, with whether the targets were met), then each campaign's detailed measures.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path


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
#: Set by the test session (tests/conftest.py): every figure is also appended here as a JSON line, so
#: the campaigns of all pytest-xdist workers reach the one table the controller prints.
SHARED_FILE = "OPTBOT_SOAK_FIGURES_FILE"


def _share(kind: str, row: Figure | CampaignRow) -> None:
    path = os.environ.get(SHARED_FILE)
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"kind": kind, **asdict(row)}) + "\n")


def record(campaign: str, measure: str, value: int | float | str, required: str = "") -> None:
    figure = Figure(campaign, measure, value, required)
    FIGURES.append(figure)
    _share("figure", figure)


def record_campaign(row: CampaignRow) -> None:
    CAMPAIGNS.append(row)
    _share("campaign", row)


def load_shared() -> None:
    """Replace this process's figures with every process's (the shared file), in recorded order."""
    path = os.environ.get(SHARED_FILE)
    if not path or not Path(path).exists():
        return
    FIGURES.clear()
    CAMPAIGNS.clear()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        kind = row.pop("kind")
        if kind == "figure":
            FIGURES.append(Figure(**row))
        else:
            row["recoveries"] = tuple(row["recoveries"])
            CAMPAIGNS.append(CampaignRow(**row))


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

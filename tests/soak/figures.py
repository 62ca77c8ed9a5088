"""The soak campaign's figures: each soak test records what it did and found; `make soak` prints them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    campaign: str
    measure: str
    value: int | float | str
    required: str = ""


FIGURES: list[Figure] = []


def record(campaign: str, measure: str, value: int | float | str, required: str = "") -> None:
    FIGURES.append(Figure(campaign, measure, value, required))


def table() -> list[str]:
    """The figures as aligned text lines (campaign, measure, value, requirement)."""
    rows = [("campaign", "measure", "value", "required")]
    rows += [
        (f.campaign, f.measure, f"{f.value:,}" if isinstance(f.value, int) else str(f.value), f.required)
        for f in FIGURES
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]

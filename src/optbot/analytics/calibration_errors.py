"""The calibration's error table: model vs real premium per segment, and the issue's targets.

Error = (model − real) / real. A row gives the median and 90th percentile of the absolute error and
the bias (the median signed error), in percent. Targets (issue 14) apply to 3–35 days to expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Target:
    """Limits in percent: median abs error, optionally p90 abs error and |bias|."""

    median: float
    p90: float | None = None
    bias: float | None = None

    def text(self) -> str:
        parts = [f"median <= {self.median:g} %"]
        if self.p90 is not None:
            parts.append(f"p90 <= {self.p90:g} %")
        if self.bias is not None:
            parts.append(f"bias within ±{self.bias:g} %")
        return ", ".join(parts)

    def met_by(self, median: float, p90: float, bias: float) -> bool:
        return (
            median <= self.median
            and (self.p90 is None or p90 <= self.p90)
            and (self.bias is None or abs(bias) <= self.bias)
        )


#: "UNDERLYING|kind" or "|kind" (any underlying) -> target, for the 3-35 d segments.
TARGETS: dict[str, Target] = {
    "NIFTY|ATM straddle": Target(4.0, 10.0, 3.0),
    "NIFTY|ATM legs": Target(6.0, 15.0),
    "BANKNIFTY|ATM legs": Target(7.0, 20.0),
    "|OTM 1-3 SD": Target(5.0),
}
TARGET_SEGMENT = "3-35 d"


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """One line of the error table."""

    evaluation: str
    segment: str
    observations: int
    median_abs_pct: float
    p90_abs_pct: float
    bias_pct: float
    target: str
    #: "yes"/"no" against the target, "-" for a segment without one.
    met: str = "-"

    def as_dict(self) -> dict[str, Any]:
        return {
            "evaluation": self.evaluation,
            "segment": self.segment,
            "observations": self.observations,
            "median_abs_pct": round(self.median_abs_pct, 2),
            "p90_abs_pct": round(self.p90_abs_pct, 2),
            "bias_pct": round(self.bias_pct, 2),
            "target": self.target,
            "met": self.met,
        }


def segment_of(source: str, days: int) -> str | None:
    """The segment of a chain observation by data source and calendar days to expiry."""
    if source == "EOD":
        return "3-35 d EOD" if 3 <= days <= 35 else None
    if days == 0:
        return "expiry day 1-minute"
    return "1-7 d 1-minute" if days <= 7 else None


def target_for(key: str) -> Target | None:
    """The target of a bucket key "UNDERLYING SEGMENT|kind", if any."""
    if TARGET_SEGMENT not in key:
        return None
    underlying, kind = key.split(" ", 1)[0], key.split("|", 1)[1]
    return TARGETS.get(f"{underlying}|{kind}", TARGETS.get(f"|{kind}"))


def error_row(label: str, key: str, values: list[float]) -> ErrorRow:
    """Statistics of relative errors (fractions) under bucket key "UNDERLYING SEGMENT|kind"."""
    errors = np.array(values) * 100.0
    median = float(np.median(np.abs(errors)))
    p90 = float(np.percentile(np.abs(errors), 90))
    bias = float(np.median(errors))
    target = target_for(key)
    return ErrorRow(
        evaluation=label,
        segment=key.replace("|", " "),
        observations=len(values),
        median_abs_pct=median,
        p90_abs_pct=p90,
        bias_pct=bias,
        target=target.text() if target else "-",
        met=("yes" if target.met_by(median, p90, bias) else "no") if target else "-",
    )

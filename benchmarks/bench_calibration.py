"""The synthetic option model against real premiums: fit time on the bundled data, the speed of
pricing a chain, the issue-14 target rows (in sample, out of sample, other period) with whether each
target is met, and the out-of-sample end-of-day breakdown (per underlying, moneyness, side, days to
expiry; with the near future as the forward; the smile alone on the chain's own ATM vol).
Deterministic: the same data gives the same table."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import numpy as np

from optbot.analytics.calibration import Calibrator, FitOptions
from optbot.analytics.synthetic import SyntheticOptionModel
from optbot.calendar import get_calendar
from optbot.core.timeutil import IST

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
CHAIN_STRIKES = 40
CHAIN_REPEATS = 2000


def _chain_pricing_rate(model: SyntheticOptionModel) -> float:
    """Chains of `CHAIN_STRIKES` strikes valued per second (one expiry, ±5 % around the spot)."""
    strikes = np.linspace(23600 * 0.95, 23600 * 1.05, CHAIN_STRIKES)
    calls = np.arange(CHAIN_STRIKES) % 2 == 0
    at = datetime(2025, 1, 7, 11, 0, tzinfo=IST)
    started = time.process_time()
    for _ in range(CHAIN_REPEATS):
        model.value_chain("NIFTY", 23600.0, 14.5, at, date(2025, 1, 16), strikes, calls)
    return CHAIN_REPEATS / (time.process_time() - started)


def main() -> None:
    calendar = get_calendar()
    started = time.process_time()
    result = Calibrator(calendar, FitOptions()).calibrate(SAMPLE)
    fitted_in = time.process_time() - started
    rate = _chain_pricing_rate(SyntheticOptionModel(result.params, calendar))
    print(f"fit on {SAMPLE.name}: {result.chains} chain observations, {fitted_in:.1f} s CPU")
    print(f"pricing: {rate:,.0f} chains of {CHAIN_STRIKES} strikes per CPU second")
    print(f"{'evaluation':14} {'segment':46} {'n':>5} {'median%':>8} {'p90%':>7} {'bias%':>7}  met  target")
    for row in result.errors:
        breakdown = (
            row.evaluation == "out-of-sample" and "EOD" in row.segment and "implied vol" not in row.segment
        )
        if row.met == "-" and not breakdown:
            continue
        print(
            f"{row.evaluation:14} {row.segment:46} {row.observations:5d} {row.median_abs_pct:8.2f} "
            f"{row.p90_abs_pct:7.2f} {row.bias_pct:+7.2f}  {row.met:3}  {row.target}"
        )

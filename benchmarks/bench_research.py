"""Research-suite speed: Monte Carlo on a year of trades, and the cost of one optimisation trial.

- Monte Carlo: 1,000 paths of each method over a year's worth of trades (≈ 750 round trips, 250
  sessions); target ≤ 10 s for the three methods together. Baseline measured in the same run: the same
  reshuffle done path by path in plain Python (what a loop-per-path implementation costs).
- Walk-forward: real trials of a legs template (backtests of `short_straddle_0920` over the sample's
  10 one-minute sessions with real option bars) are timed in one process and as a study worked by two
  processes (`--workers 2`); the 2-year walk-forward (6-month in-sample, 1-month out-of-sample, 100
  trials a window: 18 windows × 100 trials × the in-sample sessions + the out-of-sample runs) is
  projected from the faster measured rate. Target ≤ 30 minutes. The load average is printed: on a
  shared machine a second process only helps when a core is free.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date

import numpy as np

from optbot.config import Settings
from optbot.research.evaluate import BacktestEvaluator
from optbot.research.montecarlo import Method, MonteCarloSettings, run_monte_carlo, sample_from_backtest
from optbot.research.objectives import Objective
from optbot.research.optimise import StudySpec, run_study
from optbot.strategy.registry import resolve
from optbot.strategy.tunable import apply_parameters

TRADES_A_YEAR = 750
SESSIONS_A_YEAR = 250


def _year_of_trades() -> object:
    generator = np.random.default_rng(7)  # inputs only; timings do not depend on the values
    pnls = generator.normal(150.0, 2_500.0, TRADES_A_YEAR)
    daily = np.add.reduceat(pnls, np.linspace(0, TRADES_A_YEAR, SESSIONS_A_YEAR, endpoint=False).astype(int))
    equity = [500_000.0, *(500_000.0 + np.cumsum(daily))]
    return sample_from_backtest(pnls, [60.0] * TRADES_A_YEAR, [30_000.0] * TRADES_A_YEAR, equity, 500_000.0)


def _plain_python_reshuffle(pnls: list[float], paths: int) -> float:
    import random

    generator = random.Random(1)
    worst = 0.0
    for _ in range(paths):
        order = pnls[:]
        generator.shuffle(order)
        equity = peak = 500_000.0
        for pnl in order:
            equity += pnl
            peak = max(peak, equity)
            worst = max(worst, peak - equity)
    return worst


def monte_carlo() -> None:
    sample = _year_of_trades()
    settings = MonteCarloSettings(paths=1000)
    started = time.perf_counter()
    for method in Method:
        run_monte_carlo(sample, method, settings)  # type: ignore[arg-type]
    ours = time.perf_counter() - started
    started = time.perf_counter()
    _plain_python_reshuffle(list(sample.net_pnl), 1000)  # type: ignore[attr-defined]
    plain = time.perf_counter() - started
    print(
        f"Monte Carlo, 1,000 paths × 3 methods over {TRADES_A_YEAR} trades / {SESSIONS_A_YEAR} sessions: "
        f"{ours:.2f} s (target ≤ 10 s: {'met' if ours <= 10 else 'MISSED'}); "
        f"plain-Python reshuffle alone {plain:.2f} s → {plain / (ours / 3):.1f}× per method"
    )


def walk_forward_projection() -> None:
    """Time real optimisation trials of a legs template (each a full backtest of the one engine over
    1-minute index bars and real option bars): three in one process, then a study of the same trials
    worked by 2 processes (`--workers 2`); project the 2-year walk-forward from the measured rate."""
    settings = Settings()
    strategy = "short_straddle_0920"
    evaluator = BacktestEvaluator(strategy, None)
    start, end = date(2022, 11, 1), date(2022, 11, 15)
    tunables = resolve(strategy).tunables
    timings: list[float] = []
    sessions = 1
    for pct in (15, 25, 35):
        started = time.perf_counter()
        outcome = evaluator.run(apply_parameters(settings, {tunables[0].path: pct}), start, end)
        timings.append(time.perf_counter() - started)
        sessions = max(len(outcome.days), 1)
    print(
        f"{strategy}: 3 trials of {sessions} one-minute sessions (real option bars) in one process: "
        + ", ".join(f"{seconds:.2f} s" for seconds in timings)
        + f" (the first parses the bar store; {min(timings) / sessions:.3f} s/session after)"
    )
    trials = 6
    with tempfile.TemporaryDirectory() as folder:
        spec = StudySpec(
            "bench", f"sqlite:///{folder}/bench.db", start, end, trials, tunables, Objective("net_pnl"),
            pruner="none", workers=2,
        )  # fmt: skip
        started = time.perf_counter()
        run_study(settings, spec, evaluator)
        parallel = time.perf_counter() - started
    serial = min(timings) / sessions
    per_session = parallel / (trials * sessions)
    print(
        f"a {trials}-trial study worked by 2 processes: {parallel:.1f} s = {per_session:.3f} s per "
        f"session-trial ({serial / per_session:.2f}× one process; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    best, how = min((per_session, "--workers 2"), (serial, "one process"))
    windows, per_window, in_sample_sessions, oos_sessions = 18, 100, 126, 21
    total = windows * (per_window * in_sample_sessions + oos_sessions) * best
    print(
        f"2-year walk-forward (18 windows × 100 trials × 126 in-sample sessions, {how}) projected: "
        f"{total / 60:,.1f} min (target ≤ 30 min: {'met' if total <= 1800 else 'MISSED'}; "
        f"{total / 1800:.1f}× the target)"
    )


def main() -> None:
    monte_carlo()
    walk_forward_projection()


if __name__ == "__main__":
    main()

"""Research-suite speed: Monte Carlo on a year of trades, and a 2-year walk-forward of a template.

- Monte Carlo: 1,000 paths of each method over a year's worth of trades (≈ 750 round trips, 250
  sessions); target ≤ 10 s for the three methods together. Baseline measured in the same run: the same
  reshuffle done path by path in plain Python (what a loop-per-path implementation costs).
- Walk-forward (target: a 2-year walk-forward, 6-month in-sample, 1-month out-of-sample, 100 trials a
  window = 18 windows, in ≤ 30 minutes on 2 cores): the legs template `iron_condor` over the sample
  store (15-minute NIFTY bars, option prices from the calibrated model). Measured for real: one plain
  trial (the per-session rate of the engine), cold and repeated (`optbot.backtest.shared_cache`: the
  work every trial of a process repeats identically is done once), then 2 full windows of 100 TPE
  trials each with the median pruner, worked by 2 processes (`--workers 2`: one window each). The full
  walk-forward is extrapolated from that run: 18 windows are 9 such rounds of 2, so 9 × the measured
  time (windows are the same size; their trades differ, so this is an estimate, printed as one). The
  same figure at the per-session rate of 1-minute sessions (`short_straddle_0920` over the sample's
  real 1-minute days) says what a store of 1-minute bars would cost. The machine is shared (the load
  average is printed): wall-clock figures rise with the other work on it, so each is printed beside
  the CPU time the work took, and the figure for this 2-core machine when it is free is derived from
  CPU time (the parent's, plus the two workers' divided by 2: each works one window of the same size).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import numpy as np

from optbot.backtest import shared_cache
from optbot.config import Settings
from optbot.research.evaluate import BacktestEvaluator, BacktestSegments
from optbot.research.montecarlo import Method, MonteCarloSettings, run_monte_carlo, sample_from_backtest
from optbot.research.objectives import Objective
from optbot.research.optimise import StudySpec
from optbot.research.walkforward import plan_windows, run_walk_forward
from optbot.strategy.registry import resolve

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


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # CPU seconds of this process and of its finished children (the pool's workers)
    cpu_children: float


@contextmanager
def timed() -> Iterator[list[Timing]]:
    box: list[Timing] = []
    wall, cpu = time.perf_counter(), time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    yield box
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    box.append(Timing(time.perf_counter() - wall, time.process_time() - cpu, spent))


def _per_session(strategy: str, start: date, end: date) -> tuple[Timing, Timing, int]:
    """One trial's time per replayed session, cold and repeated: after a first run that loads the
    data, a run with the process's shared backtest work forgotten (listings, model valuations, solved
    implied volatilities: what the first trial of a study computes), then the same run again (a
    later trial reading all of it; one with other parameters reads most of it)."""
    settings = Settings()
    evaluator = BacktestEvaluator(strategy, None)
    evaluator.run(settings, start, end)
    shared_cache.clear()
    rates: list[Timing] = []
    for _ in range(2):
        with timed() as box:
            outcome = evaluator.run(settings, start, end)
        sessions = max(len(outcome.days), 1)
        rates.append(Timing(box[0].wall / sessions, box[0].cpu / sessions, 0.0))
    return rates[0], rates[1], sessions


#: The 2-year walk-forward: 18 windows of 6 in-sample months (≈ 126 sessions) and 1 out-of-sample (≈ 21).
WINDOWS, TRIALS, IN_SAMPLE_SESSIONS, OUT_OF_SAMPLE_SESSIONS = 18, 100, 126, 21
TARGET_SECONDS = 30 * 60


def walk_forward_projection() -> None:
    settings = Settings()
    strategy = "iron_condor"
    windows = plan_windows(date(2023, 1, 1), date(2023, 8, 31), 6, 1, 1, anchored=False)
    rate, repeated, sessions = _per_session(strategy, *windows[0].in_sample)
    rate_1m, repeated_1m, sessions_1m = _per_session(
        "short_straddle_0920", date(2022, 11, 1), date(2022, 11, 15)
    )
    naive = WINDOWS * (TRIALS * IN_SAMPLE_SESSIONS + OUT_OF_SAMPLE_SESSIONS) * rate.cpu
    print(
        f"one {strategy} trial, {sessions} 15-minute sessions: {rate.cpu * 1000:.0f} ms CPU/session "
        f"({rate.wall * 1000:.0f} ms wall) cold, {repeated.cpu * 1000:.0f} ms CPU/session repeated (the "
        f"process's shared listings, valuations and volatilities read, not computed); short_straddle_0920 "
        f"over {sessions_1m} real 1-minute sessions: {rate_1m.cpu * 1000:.0f} ms CPU/session cold, "
        f"{repeated_1m.cpu * 1000:.0f} repeated. Trial by trial in one process at the cold rate, the "
        f"2-year walk-forward is {naive / 60:,.0f} min of CPU"
    )
    with tempfile.TemporaryDirectory() as folder:
        spec = StudySpec(
            "bench", f"sqlite:///{folder}/bench.db", windows[0].in_sample[0], windows[0].in_sample[1],
            TRIALS, resolve(strategy).tunables, Objective("net_pnl"), pruner="median", workers=2,
        )  # fmt: skip
        run = BacktestSegments(BacktestEvaluator(strategy, None))
        with timed() as box:
            result = run_walk_forward(settings, spec, windows, run)
    measured = box[0]
    for window in result.windows:
        print(
            f"  window IS {window.plan.in_sample[0]}..{window.plan.in_sample[1]}: {window.trials} trials = "
            f"{window.backtested} backtested ({window.pruned} of all trials pruned by the median rule) + "
            f"{window.trials - window.backtested} repeating earlier values (result reused); "
            f"best {window.parameters}"
        )
    free = measured.cpu + measured.cpu_children / 2
    print(
        f"{len(windows)} windows × {TRIALS} trials on 2 processes: {measured.wall:.0f} s wall (load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores), CPU {measured.cpu:.0f} s here + "
        f"{measured.cpu_children:.0f} s in the 2 workers → {free:.0f} s on 2 free cores"
    )
    rounds = WINDOWS / len(windows)
    for label, seconds in (
        ("on 2 free cores", free * rounds),
        ("at this run's wall clock", measured.wall * rounds),
    ):
        print(
            f"2-year walk-forward ({WINDOWS} windows × {TRIALS} trials, 15-minute sessions) {label}, "
            f"extrapolated {rounds:.0f} × the measured run: {seconds / 60:,.1f} min (target ≤ 30 min: "
            f"{'met' if seconds <= TARGET_SECONDS else 'MISSED'}; {seconds / TARGET_SECONDS:.2f}× the target)"
        )
    ratio = rate_1m.cpu / rate.cpu
    at_1m = free * rounds * ratio
    verdict = "met" if at_1m <= TARGET_SECONDS else "MISSED"
    print(
        f"the same on 1-minute sessions (× {ratio:.1f}, the measured CPU per-session ratio), 2 free cores: "
        f"{at_1m / 60:,.1f} min (target: {verdict}; {naive * ratio / 60:,.0f} min trial by trial); what "
        "is left is the per-bar engine's cost"
    )


def main() -> None:
    monte_carlo()
    walk_forward_projection()


if __name__ == "__main__":
    main()

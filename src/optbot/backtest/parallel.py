"""Backtests on every core (issue 15 part 4): one run split by sessions, and many runs at once.

**One run, split.** When every strategy declares `sessions_independent` (it holds nothing overnight
and its decisions in a session depend only on market data, not on earlier sessions' trading), the
plan's sessions are cut into consecutive chunks, each replayed in its own process by a fresh engine
warmed up from the store exactly as the first session of a run is. The chunks' fills, intents and
day summaries are joined in session order and the report is built from them as in one process (the
equity curve comes from the fills alone, `optbot.backtest.runner.equity_curve`), so the report is the
same file. Strategies that carry state across sessions are never split.

**Many runs.** `run_many(configs)` runs independent backtests (the research suite's trials) on a
process pool and returns their outcomes in the order given.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from optbot.backtest.runner import (
    BacktestOutcome,
    BacktestPlan,
    ReplayEvidence,
    replay_days,
    run_backtest,
)
from optbot.config import Settings
from optbot.log import JsonLogInFolder, shutdown_logging


def default_workers() -> int:
    """Every core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def sessions_independent(plan: BacktestPlan) -> bool:
    return all(getattr(strategy, "sessions_independent", False) for strategy in plan.strategies)


def chunk_count(plan: BacktestPlan, workers: int) -> int:
    """How many processes the plan's sessions are split over (1: not split)."""
    if workers <= 1 or len(plan.days) < 2 or not sessions_independent(plan):
        return 1
    return min(workers, len(plan.days))


def _chunks(days: Sequence[tuple[date, str]], count: int) -> list[list[tuple[date, str]]]:
    size, extra = divmod(len(days), count)
    chunks: list[list[tuple[date, str]]] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(days[start:end]))
        start = end
    return chunks


def _replay_chunk(plan: BacktestPlan, days: list[tuple[date, str]]) -> ReplayEvidence:
    """One chunk in a worker process (strategies are built there from the plan's settings)."""
    try:
        return asyncio.run(replay_days(plan, days))
    finally:
        if plan.on_clock is not None:
            shutdown_logging()  # this chunk's JSON log flushed and closed before the worker's next


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork: the workers inherit the loaded modules and calendar instead of importing them again
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


def replay_parallel(plan: BacktestPlan, chunks: int) -> ReplayEvidence:
    """The plan's sessions in `chunks` processes, joined in session order."""
    # the workers log where this process would (a closure cannot be sent to them; the folder hook can)
    on_clock = plan.on_clock if isinstance(plan.on_clock, JsonLogInFolder) else None
    portable = replace(plan, strategies=(), on_clock=on_clock, on_day=None, history=None)
    parts = _chunks(plan.days, chunks)
    with _pool(chunks) as pool:
        results = list(pool.map(_replay_chunk, [portable] * len(parts), parts))
    joined = ReplayEvidence()
    for evidence in results:
        joined.summaries.extend(evidence.summaries)
        joined.held_value.update(evidence.held_value)
        joined.synthetic |= evidence.synthetic
        joined.forward_from_future |= evidence.forward_from_future
        joined.real |= evidence.real
        joined.fills += evidence.fills
        joined.intent_log += evidence.intent_log
        joined.intent_reasons.update(evidence.intent_reasons)
        joined.intents += evidence.intents
        joined.refused += evidence.refused
        joined.signals += evidence.signals
        for reason, count in evidence.refusals.items():
            joined.refusals[reason] = joined.refusals.get(reason, 0) + count
    if plan.on_day is not None:
        for done, summary in enumerate(joined.summaries, start=1):
            plan.on_day(summary, done, len(joined.summaries))
    return joined


@dataclass(frozen=True)
class BacktestConfig:
    """One backtest for `run_many`: the arguments of `run_backtest`."""

    settings: Settings
    start: date
    end: date
    out_dir: Path
    strategy: str | None = None
    data_dir: Path | None = None
    underlyings: tuple[str, ...] | None = None
    require_real_options: bool = False


def _run_config(config: BacktestConfig) -> BacktestOutcome:
    return run_backtest(
        config.settings,
        config.start,
        config.end,
        strategy=config.strategy,
        data_dir=config.data_dir,
        out_dir=config.out_dir,
        underlyings=config.underlyings,
        require_real_options=config.require_real_options,
    )


def run_many(configs: Sequence[BacktestConfig], workers: int | None = None) -> list[BacktestOutcome]:
    """Run independent backtests on a process pool (`workers`, default every core); outcomes in the
    order of `configs`. A bad config raises its `UserError` here, as `run_backtest` would."""
    if not configs:
        return []
    count = min(workers or default_workers(), len(configs))
    if count <= 1:
        return [_run_config(config) for config in configs]
    with _pool(count) as pool:
        return list(pool.map(_run_config, configs))


__all__ = [
    "BacktestConfig",
    "chunk_count",
    "default_workers",
    "replay_parallel",
    "run_many",
    "sessions_independent",
]

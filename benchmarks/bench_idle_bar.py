"""What one index bar costs the bar kernel when nothing trades, and what marking a held option costs.

Data: the synthesised NIFTY 1-minute sessions of `bench_backtest` (the last `DAYS` of its year) in a
data root with the sample's INDIA VIX daily bars. Two runs of the bar kernel (`BarBacktest`, the
engine `optbot backtest` drives), each after one untimed warm-up session:

- idle: no strategy, so no order, position or chain: every bar is the idle path. Each session's
  bars go straight into the engine as the kernel's session loop hands them over when nothing is held
  (the clock moves to the close, the index bar's close as the instrument's last price through
  `TradingEngine.take_bar_close`, the closed bars through `TradingEngine.take_bar`: deadlines, market
  view, risk windows, strategy context), the steps built before the timer starts. Printed per index bar:
  the fastest session and the median one;
- marks: the kernel's own session loop with the benchmark strategy (`bench_backtest.EmaCrossOptions`),
  which holds an ATM option for long stretches: each open position is marked at its contract's
  (modelled) last close every minute (`BarBacktest._mark_positions`, timed around each call).
"""

from __future__ import annotations

import asyncio
import inspect
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.bench_backtest import (
    BARS_PER_DAY,
    EmaCrossOptions,
    MinuteBars,
    synthesise_year,
    write_data_root,
)
from optbot.backtest.kernel import BarBacktest
from optbot.backtest.runner import IN_MEMORY, open_archive, store_history
from optbot.calendar import get_calendar
from optbot.config import Settings, load_settings
from optbot.log import configure_logging, shutdown_logging
from optbot.strategy.base import Strategy

DAYS = 40


class _Timed:
    """An awaitable method wrapped to add up the time spent in it and count its calls."""

    def __init__(self, method: Callable[..., Any]) -> None:
        self.method = method
        self.seconds = 0.0
        self.calls = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = self.method(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return result

    def per_call_us(self) -> float:
        return self.seconds / self.calls * 1e6 if self.calls else 0.0


def _recent(days: int) -> MinuteBars:
    bars = synthesise_year()
    count = days * BARS_PER_DAY
    return MinuteBars(
        bars.times[-count:],
        bars.opens[-count:],
        bars.highs[-count:],
        bars.lows[-count:],
        bars.closes[-count:],
    )


def _kernel(
    settings: Settings, root: Path, days: Sequence[date], strategies: Sequence[Strategy]
) -> BarBacktest:
    calendar = get_calendar()
    return BarBacktest(
        settings,
        IN_MEMORY,
        days[0],
        store_history(settings, root, calendar),
        open_archive(root),
        strategies=strategies,
        underlyings=["NIFTY"],
        calendar=calendar,
    )


async def _start(kernel: BarBacktest, days: Sequence[date]) -> None:
    """The run's start and its first session, untimed (warm-up)."""
    await kernel.engine.start(days[0])
    kernel.warm_up(days[0])
    await kernel._seed_last_prices(days[0])
    await kernel.run_day(days[0])


async def _idle(kernel: BarBacktest, days: Sequence[date]) -> dict[str, Any]:
    """Each later session's bars straight into the engine, as the kernel's session loop hands them
    over when nothing is held, ordered or filled (the steps are built before the clock starts): the
    time per index bar, each session."""
    engine, clock = kernel.engine, kernel.clock
    await _start(kernel, days)
    per_session: list[float] = []
    for day in days[1:]:
        engine.begin_day(day)
        exchange_of = kernel._exchange_of
        prepared = [
            (step.close, [(bar, exchange_of[bar.token]) for bar in step.base], step.bars)
            for step in kernel._session_steps(day)
        ]
        take_bar_close, take_bar = engine.take_bar_close, engine.take_bar
        start = time.perf_counter()
        for close, prices, group in prepared:
            clock.advance_to(close)
            for bar, exchange in prices:
                rest = take_bar_close(bar, exchange)
                if rest is not None:
                    await rest
            for bar in group:
                rest = take_bar(bar)
                if rest is not None:
                    await rest
        per_session.append((time.perf_counter() - start) / len(prepared))
        await engine.end_of_day()
    await engine.stop()
    return {"sessions": per_session}


async def _marks(kernel: BarBacktest, days: Sequence[date]) -> dict[str, Any]:
    """The kernel's own session loop with `_mark_positions` timed."""
    await _start(kernel, days)
    marks = _Timed(kernel._mark_positions)
    kernel._mark_positions = marks  # type: ignore[method-assign]
    for day in days[1:]:
        await kernel.run_day(day)
    await kernel.engine.stop()
    return {"marks": marks}


def _run(
    root: Path,
    days: Sequence[date],
    strategies: Sequence[Strategy],
    drive: Callable[[BarBacktest, Sequence[date]], Coroutine[Any, Any, dict[str, Any]]],
) -> dict[str, Any]:
    settings = load_settings(
        None,
        {
            "paths": {"data_root": str(root / "state")},
            "universe": {"underlyings": ["NIFTY"]},
            "logging": {"console": False},
        },
    )
    kernel = _kernel(settings, root, days, strategies)
    configure_logging(settings, kernel.clock, log_dir=root / "state" / "logs")  # as `optbot backtest`
    try:
        return asyncio.run(drive(kernel, days))
    finally:
        shutdown_logging()
        kernel.close()


def main() -> None:
    get_calendar()
    bars = _recent(DAYS)
    days = sorted({moment.date() for moment in bars.times})
    with tempfile.TemporaryDirectory(prefix="optbot-bench-idle-") as folder:
        root = Path(folder)
        write_data_root(bars, root)
        idle = _run(root, days, [], _idle)
        strategy_settings = load_settings(None, {"universe": {"underlyings": ["NIFTY"]}})
        held = _run(root, days, [EmaCrossOptions(strategy_settings)], _marks)
    sessions: list[float] = idle["sessions"]
    timed = len(sessions) * BARS_PER_DAY
    print(f"data: {len(days) - 1} synthesised NIFTY sessions timed ({timed:,} index bars)")
    print(
        f"idle bar in the engine  {min(sessions) * 1e6:8.2f} us per index bar in the fastest session, "
        f"median {statistics.median(sessions) * 1e6:.2f} us "
        "(take_bar_close + take_bar; a shared machine adds noise)"
    )
    marks: _Timed = held["marks"]
    print(
        f"marking held options    {marks.per_call_us():8.2f} us per minute marked "
        f"({marks.calls:,} marks, {marks.seconds:.2f} s)"
    )


if __name__ == "__main__":
    main()

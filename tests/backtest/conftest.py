"""One replayed session shared by the backtest tests that only read its outcome.

2020-11-18 from the bundled data root (NIFTY and INDIA VIX 15-minute bars, synthetic options), with
15-minute entries (the finest bars stored that day): adx_trend buys an ATM call and closes it.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from optbot.backtest.runner import BacktestOutcome, DaySummary, run_backtest_async
from optbot.config import Settings, load_settings
from tests.conftest import SAMPLE_STORE

DAY = date(2020, 11, 18)
PROGRESS: list[tuple[date, int, int]] = []  # the shared run's on_day calls
PROGRESS_EQUITY: list[float] = []  # the equity each of those calls reported


def make_settings(root: Path, **sections: dict[str, object]) -> Settings:
    values: dict[str, dict[str, object]] = {
        "paths": {"data_root": str(root)},
        "universe": {"underlyings": ["NIFTY"]},
        "replay": {"data_dir": str(SAMPLE_STORE)},
        "strategy": {"entry_timeframe": "15m"},
    }
    for name, update in sections.items():
        values[name] = {**values.get(name, {}), **update}
    return load_settings(None, values)


def _progress(summary: DaySummary, done: int, total: int) -> None:
    PROGRESS.append((summary.day, done, total))
    PROGRESS_EQUITY.append(summary.equity)


@pytest.fixture(scope="session")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> BacktestOutcome:
    """Through `run_backtest_async` (the CLI test reruns it through the synchronous `run_backtest`)."""
    root = tmp_path_factory.mktemp("backtest")
    return asyncio.run(
        run_backtest_async(
            make_settings(root / "data"),
            DAY,
            DAY,
            strategy="adx_trend",
            data_dir=SAMPLE_STORE,
            out_dir=root / "out",
            on_day=_progress,
        )
    )

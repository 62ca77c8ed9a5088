"""One replayed session shared by the backtest tests that only read its outcome.

2020-11-18, NIFTY only, ticks every 15 s: adx_trend buys an ATM call on a breakout and closes it at
the flatten deadline.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from optbot.backtest.runner import BacktestOutcome, run_backtest_async
from optbot.config import Settings, load_settings
from tests.conftest import SAMPLE_DATA

DAY = date(2020, 11, 18)
TICK_SECONDS = 15.0
PROGRESS: list[tuple[date, int, int]] = []  # the shared run's on_day calls


def make_settings(root: Path) -> Settings:
    return load_settings(
        None,
        {
            "paths": {"data_root": str(root)},
            "universe": {"underlyings": ["NIFTY"]},
            "replay": {"data_dir": str(SAMPLE_DATA), "tick_seconds": TICK_SECONDS},
        },
    )


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
            data_dir=SAMPLE_DATA,
            out_dir=root / "out",
            tick_seconds=TICK_SECONDS,
            on_day=lambda summary, done, total: PROGRESS.append((summary.day, done, total)),
        )
    )

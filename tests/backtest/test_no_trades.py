"""A backtest that closes no trade says why in one line: no signal, every entry refused (with the
reasons counted), orders that never filled, or a position still open at the end."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from optbot.backtest.no_trades import no_trade_reason
from optbot.backtest.runner import run_backtest_async
from tests.backtest.conftest import make_settings
from tests.conftest import SAMPLE_STORE

QUIET = {"closed_trades": 0, "fills": 0, "sessions": 3, "bars": 1125, "coverage": ()}


def test_a_closed_trade_needs_no_explanation() -> None:
    facts = {**QUIET, "closed_trades": 1, "fills": 2}
    assert no_trade_reason(signals=1, intents=2, refused=0, refusals={}, **facts) is None  # type: ignore[arg-type]


def test_no_signal_names_the_sessions_and_bars() -> None:
    line = no_trade_reason(signals=0, intents=0, refused=0, refusals={}, **QUIET)  # type: ignore[arg-type]
    assert line == "no trades: the strategies gave no entry signal in 3 session(s) (1,125 bars replayed)"


def test_refusals_are_counted_by_kind_whatever_their_numbers() -> None:
    refusals = {
        "risk: per-trade margin cap 0.1% = 500 (120,377/lot)": 2,
        "risk: per-trade margin cap 0.1% = 500 (120,840/lot)": 1,
        "risk: outside entry window": 4,
    }
    line = no_trade_reason(signals=7, intents=7, refused=7, refusals=refusals, **QUIET)  # type: ignore[arg-type]
    assert line is not None and line.startswith("no trades: all 7 order intent(s) were refused: ")
    assert (
        "4 x 'risk: outside entry window', 3 x 'risk: per-trade margin cap 0.1% = 500 (120,377/lot)'" in line
    )


def test_basket_legs_refused_before_any_order_are_counted_too() -> None:
    line = no_trade_reason(signals=1, intents=2, refused=2, refusals={}, **QUIET)  # type: ignore[arg-type]
    assert (
        line
        == "no trades: all 2 order intent(s) were refused: 2 basket leg(s) refused before their first order"
    )


def test_orders_sent_but_never_filled_and_a_position_left_open() -> None:
    unfilled = no_trade_reason(signals=2, intents=2, refused=0, refusals={}, **QUIET)  # type: ignore[arg-type]
    assert unfilled is not None and unfilled.startswith("no trades: 2 order(s) sent but none filled")
    opened = no_trade_reason(signals=1, intents=1, refused=0, refusals={}, **{**QUIET, "fills": 1})  # type: ignore[arg-type]
    assert opened is not None and "still open at the end" in opened


def test_a_real_backtest_refused_by_the_margin_cap_says_so(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", risk={"max_trade_margin_pct": 0.1})
    outcome = asyncio.run(
        run_backtest_async(
            settings,
            date(2025, 9, 8),
            date(2025, 9, 8),
            strategy="short_straddle_0920",
            data_dir=SAMPLE_STORE,
            out_dir=tmp_path / "out",
        )
    )
    assert outcome.intents > 0 and outcome.refused == outcome.intents
    line = outcome.no_trade_reason()
    assert line is not None and line.startswith(
        f"no trades: all {outcome.intents} order intent(s) were refused"
    )
    assert "per-trade margin cap" in line

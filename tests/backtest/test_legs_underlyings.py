"""A backtest of legs files replays the underlyings the files trade, not the whole universe: a NIFTY
legs file under the default NIFTY + BANKNIFTY universe warned that BANKNIFTY's days (daily bars only
in the sample for 2025-09) were too coarse for its entries, though it never trades BANKNIFTY."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from optbot.backtest.runner import choose_strategies, own_underlyings, plan_backtest
from tests.backtest.conftest import make_settings
from tests.conftest import SAMPLE_STORE

FIRST, LAST = date(2025, 9, 8), date(2025, 9, 9)  # NIFTY 1-minute bars, BANKNIFTY daily only
BOTH = {"underlyings": ["NIFTY", "BANKNIFTY"]}


@pytest.mark.parametrize("underlyings", [None, ["NIFTY"]])
def test_a_nifty_legs_file_neither_replays_nor_warns_about_banknifty(
    tmp_path: Path, underlyings: list[str] | None
) -> None:
    plan = plan_backtest(
        make_settings(tmp_path / "data", universe=BOTH),
        FIRST,
        LAST,
        strategy="short_straddle_0920",
        data_dir=SAMPLE_STORE,
        out_dir=tmp_path / "out",
        underlyings=underlyings,
    )
    assert plan.underlyings == ("NIFTY",) and plan.requested == ("NIFTY",)
    assert {row.underlying for row in plan.coverage} == {"NIFTY"}
    assert not [row for row in plan.coverage if row.entries_refused]
    assert plan.settings.universe.underlyings == ["NIFTY"]  # as `--underlying NIFTY` makes it


def test_a_directional_strategy_still_trades_the_whole_universe(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", universe=BOTH)
    assert own_underlyings(choose_strategies(settings, "adx_trend")) is None
    assert own_underlyings(choose_strategies(settings, "short_straddle_0920")) == ("NIFTY",)
    plan = plan_backtest(
        settings, FIRST, LAST, strategy="adx_trend", data_dir=SAMPLE_STORE, out_dir=tmp_path / "out"
    )
    assert plan.underlyings == ("NIFTY", "BANKNIFTY")

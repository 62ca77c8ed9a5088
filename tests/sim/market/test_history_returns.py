"""The simulator's replay gives the synthetic model the same recent returns as the bar backtest of the
same data root (`StoreHistory.recent_return`), so an option's quote after a fall is the same in both."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from optbot.backtest.store_data import StoreHistory
from optbot.calendar import get_calendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.clock import SimClock
from optbot.core.timeutil import ist_datetime
from optbot.engine.replay import PREMARKET_START
from optbot.sim.market.history import HistoryReturns
from optbot.sim.market.replay import ReplayMarket, load_store_histories
from tests.conftest import SAMPLE_STORE

WINDOWS = [(date(2022, 10, 20), date(2022, 11, 16)), (date(2024, 1, 1), date(2024, 1, 20))]


@pytest.mark.parametrize("underlying", ["NIFTY", "BANKNIFTY"])
def test_the_replay_reads_the_backtests_recent_return_for_every_day(underlying: str) -> None:
    calendar = get_calendar()
    histories = load_store_histories(ReplaySettings(data_dir=SAMPLE_STORE), calendar)
    replay = HistoryReturns(histories, str(SAMPLE_STORE))
    backtest = StoreHistory(SAMPLE_STORE, calendar)
    compared = 0
    for first, last in WINDOWS:
        day = first
        while day <= last:
            expected = backtest.recent_return(underlying, day)
            found = replay.recent_return(underlying, day)
            assert found == pytest.approx(expected, abs=1e-12) if expected is not None else found is None
            compared += expected is not None
            day += timedelta(days=1)
    assert compared > 30  # the windows hold enough closes for the comparison to mean something


def test_a_replay_gives_its_model_the_recent_returns_unless_the_model_has_its_own() -> None:
    settings = ReplaySettings(data_dir=SAMPLE_STORE)
    market = ReplayMarket(SimClock(ist_datetime(date(2022, 11, 2), PREMARKET_START)), settings)
    assert market.option_model.returns_identity == f"replay {SAMPLE_STORE.resolve()}"
    assert market.option_model.recent_return("BANKNIFTY", date(2022, 11, 2)) is not None

"""`optbot price`'s market inputs on a data root the user imported: the near future's minute bar comes
from the store's `NIFTY-I` bars as it does from the raw futures files, so the quote with the future as
the forward is shown wherever a backtest of that root would price off it."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from optbot.analytics.futures_forward import futures_name
from optbot.analytics.market_inputs import market_inputs_at
from optbot.backtest.store_data import StoreHistory
from optbot.calendar import get_calendar
from optbot.core.timeutil import IST, ist_datetime
from tests.conftest import SAMPLE_DATA, SAMPLE_STORE

DAY = date(2022, 11, 2)
AT = ist_datetime(DAY, time(11, 0, 30))


def _future_bar_close(start: datetime) -> float:
    bars = StoreHistory(SAMPLE_STORE, get_calendar()).future_bars("NIFTY", DAY)
    return next(bar.close for bar in bars if bar.start_utc == start)


def test_the_stores_future_bar_of_the_minute_is_the_forward() -> None:
    inputs = market_inputs_at(SAMPLE_STORE, "NIFTY", AT, carry=0.0644)
    assert inputs is not None and inputs.future is not None
    minute = AT.replace(second=0).astimezone(IST)
    assert inputs.future.price == pytest.approx(_future_bar_close(minute))
    assert inputs.future.expiry == date(2022, 11, 24)
    assert inputs.spot_source == "index 1-minute close"


def test_raw_files_and_the_store_give_the_same_future() -> None:
    from_raw = market_inputs_at(SAMPLE_DATA, "NIFTY", AT, carry=0.0644)
    from_store = market_inputs_at(SAMPLE_STORE, "NIFTY", AT, carry=0.0644)
    assert from_raw is not None and from_store is not None
    assert from_raw.future == from_store.future


def test_no_future_bars_no_future() -> None:
    inputs = market_inputs_at(SAMPLE_STORE, "NIFTY", ist_datetime(date(2025, 9, 8), time(11, 0)), 0.0644)
    assert inputs is not None and inputs.future is None
    assert futures_name("BANKNIFTY") == "BANKNIFTY-I"

"""Which open day a contract's prices come from, as each underlying's listing moves day by day."""

from __future__ import annotations

from datetime import date, time

from optbot.analytics.synthetic import model_for
from optbot.backtest.option_bars import OptionPrices
from optbot.calendar import get_calendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.timeutil import ist_datetime

MONDAY, TUESDAY = date(2024, 6, 3), date(2024, 6, 4)


def _prices() -> OptionPrices:
    calendar = get_calendar()
    spots = {"NIFTY": 22_000.0, "BANKNIFTY": 49_000.0}
    return OptionPrices(calendar, ReplaySettings(), None, spots.get, lambda: 14.0, model_for(None, calendar))


def test_a_contract_is_priced_from_its_underlyings_latest_listing_only() -> None:
    prices = _prices()
    monday = prices.open_day("NIFTY", MONDAY, 22_000.0)
    banks = prices.open_day("BANKNIFTY", MONDAY, 49_000.0)
    tuesday = prices.open_day("NIFTY", TUESDAY, 23_500.0)  # the strike band moves up
    dropped = [token for token in monday.contracts if token not in tuesday.contracts]
    kept = [token for token in monday.contracts if token in tuesday.contracts]
    added = [token for token in tuesday.contracts if token not in monday.contracts]
    assert dropped and kept and added
    assert all(prices.day_of(token) is None for token in dropped)
    assert all(prices.day_of(token) is tuesday for token in kept + added)
    assert all(prices.day_of(token) is banks for token in banks.contracts)  # another underlying's day stays
    assert prices.day_of("not-a-token") is None
    noon = ist_datetime(TUESDAY, time(12, 0))
    assert prices.last_price(dropped[0], noon) is None
    assert prices.last_price(kept[0], noon) is not None
    assert prices.fill_bars(dropped[0], noon, noon, None) == []

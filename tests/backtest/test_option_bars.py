"""Which open day a contract's prices come from, as each underlying's listing moves day by day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa

from optbot.analytics.synthetic import model_for
from optbot.backtest.option_bars import OptionPrices
from optbot.calendar import get_calendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.timeutil import ist_datetime
from optbot.data.archive import OptionArchive, OptionBarRow, rows_to_table

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


class _CountingArchive(OptionArchive):
    """The archive, counting the full day tables read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.tables_read: list[date] = []

    def day(self, underlying: str, day: date, timeframe: str = "1m") -> pa.Table:
        self.tables_read.append(day)
        return super().day(underlying, day, timeframe)


def _archive_row(start: datetime, strike: float, option_type: str, close: float) -> OptionBarRow:
    return OptionBarRow(
        ts=start, underlying="NIFTY", expiry=date(2022, 11, 3), strike=strike, option_type=option_type,
        symbol=f"NIFTY03NOV22{round(strike)}{option_type}", open=close, high=close, low=close,
        close=close, volume=50, oi=1000, source="vendor",
    )  # fmt: skip


def test_a_real_days_bars_are_read_once_and_only_when_a_contracts_bars_are_asked_for(tmp_path: Path) -> None:
    archive = _CountingArchive(tmp_path)
    first, second = date(2022, 11, 1), date(2022, 11, 2)
    for day in (first, second):
        open_utc = ist_datetime(day, time(9, 15))
        archive.write(
            rows_to_table(
                [_archive_row(open_utc + timedelta(minutes=minute), strike, side, 100.0 + minute)
                 for minute in range(3) for strike in (18000.0, 18050.0) for side in ("CE", "PE")]
            ),
            "1m",
        )  # fmt: skip
    calendar = get_calendar()
    prices = OptionPrices(
        calendar, ReplaySettings(), archive, lambda _: 18000.0, lambda: 14.0, model_for(None, calendar)
    )
    listed = prices.open_day("NIFTY", first, 18000.0)
    assert len(listed.contracts) == 4 and archive.tables_read == []  # the listing reads no bar
    call, put = sorted(listed.contracts)[:2]
    later = ist_datetime(first, time(9, 18))
    assert prices.last_price(call, later) == (102.0, later, 50, 1000)
    assert prices.last_price(put, later) is not None
    assert archive.tables_read == [first]  # once for the day, whichever contract asked
    prices.open_day("NIFTY", second, 18000.0)
    assert archive.tables_read == [first]
    assert prices.fill_bars(call, ist_datetime(second, time(9, 15)), ist_datetime(second, time(9, 17)), None)
    assert archive.tables_read == [first, second]

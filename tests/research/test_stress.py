from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from optbot.analytics.pricing import black76_price
from optbot.config.sections.strategy import StrategySettings
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.research.stress import (
    NAMED_WINDOWS,
    OptionPosition,
    Shock,
    day_regimes,
    shock_positions,
    split_by_days_to_expiry,
    split_by_regime,
    split_by_weekday,
    vix_spike_windows,
)
from optbot.research.tearsheet import TradeRow
from optbot.strategy.regime import Regime

AT = datetime(2024, 11, 18, 11, 0, tzinfo=IST)


def _mark(strike: float, kind: str, spot: float = 23_500.0, vol: float = 0.14) -> float:
    years = (datetime(2024, 11, 21, 15, 30, tzinfo=IST) - AT).total_seconds() / (365 * 86400)
    return round(black76_price(spot, strike, years, vol, 0.065, kind), 2)


def test_named_windows_hold_the_issue_list() -> None:
    names = {window.name for window in NAMED_WINDOWS}
    assert {"COVID crash", "demonetisation", "2024 election results"} <= names
    assert any(name.startswith("Union Budget") for name in names)


def test_vix_spikes_are_the_largest_one_day_rises() -> None:
    closes = {date(2020, 3, 2) + timedelta(days=i): v for i, v in enumerate([20, 30, 28, 42, 40, 41])}
    windows = vix_spike_windows(closes, 2)
    assert [w.start for w in windows] == [date(2020, 3, 3), date(2020, 3, 5)]
    assert "+50%" in windows[0].name


def test_a_short_straddle_loses_on_big_moves_and_vix_and_earns_decay() -> None:
    straddle = [
        OptionPosition.from_symbol("NIFTY21NOV2423500CE", -75, _mark(23_500, "CE")),
        OptionPosition.from_symbol("NIFTY21NOV2423500PE", -75, _mark(23_500, "PE")),
    ]
    report = shock_positions(straddle, {"NIFTY": 23_500.0}, AT)
    by_name = {result.shock.name: result.pnl for result in report.results}
    assert by_name["spot -10 %"] < by_name["spot -5 %"] < by_name["spot -1 %"] < 0
    assert by_name["spot +10 %"] < 0 and by_name["VIX +20"] < by_name["VIX +5"] < 0
    assert by_name["one day of decay"] > 0
    assert dict(report.implied_vols)["NIFTY21NOV2423500CE"] == pytest.approx(0.14, abs=1e-3)
    assert report.notes == ()
    # an unshocked scenario reprices to the marks: zero P&L
    assert shock_positions(straddle, {"NIFTY": 23_500.0}, AT, [Shock("none")]).results[
        0
    ].pnl == pytest.approx(0.0, abs=0.5)


def test_bad_positions_are_refused() -> None:
    with pytest.raises(ValueError, match="not an option trading symbol"):
        OptionPosition.from_symbol("NIFTY", 1, 1.0)
    position = OptionPosition.from_symbol("BANKNIFTY27NOV2450000CE", 15, 100.0)
    with pytest.raises(ValueError, match="no spot price"):
        shock_positions([position], {"NIFTY": 1.0}, AT)


def _bar(day: date, open_: float, close: float) -> Bar:
    start = datetime(day.year, day.month, day.day, 3, 45, tzinfo=UTC)
    return Bar(
        ts_utc=start,
        token="26000",
        symbol="NIFTY",
        timeframe=Timeframe.D1,
        start_utc=start,
        end_utc=start + timedelta(hours=6, minutes=15),
        open=open_,
        high=max(open_, close) + 10,
        low=min(open_, close) - 10,
        close=close,
    )


def test_trades_split_by_regime_dte_and_weekday() -> None:
    days = [date(2024, 11, 11) + timedelta(days=i) for i in range(5)]
    bars = [_bar(d, 23_000 + 10 * i, 23_005 + 10 * i) for i, d in enumerate(days)]
    bars[3] = _bar(days[3], 23_600, 23_610)  # a gap of ~2.4 % at the open of the 4th day
    regimes = day_regimes(
        bars, {days[0]: 14.0, days[1]: 14.0, days[2]: 26.0, days[3]: 16.0}, StrategySettings()
    )
    assert Regime.LOW_VOLATILITY.value in regimes[days[2]]  # judged on the previous close's VIX (14)
    assert Regime.VOLATILE.value in regimes[days[3]] and Regime.GAP.value in regimes[days[3]]
    trade = TradeRow(
        "NIFTY21NOV2423000CE",
        "BUY",
        75,
        "2024-11-14T04:00:00+00:00",
        "2024-11-14T05:00:00+00:00",
        100.0,
        120.0,
        50.0,
        1450.0,
    )
    assert [row.group for row in split_by_weekday([trade])] == ["Thu"]
    assert [row.group for row in split_by_days_to_expiry([trade])] == ["7 days"]
    rows = split_by_regime([trade], regimes)
    assert sum(row.trades for row in rows) == len(regimes[days[3]])


def test_weekday_and_days_to_expiry_rows_read_in_calendar_order() -> None:
    def trade(symbol: str, day: str) -> TradeRow:
        return TradeRow(
            symbol, "SELL", 50, f"{day}T04:00:00+00:00", f"{day}T05:00:00+00:00", 100.0, 90.0, 40, 460
        )

    trades = [
        trade("NIFTY20JUN2423000CE", "2024-06-07"),  # Fri, 13 days
        trade("NIFTY06JUN2423000CE", "2024-06-04"),  # Tue, 2 days
        trade("NIFTY06JUN2423000PE", "2024-06-03"),  # Mon, 3 days
    ]
    assert [row.group for row in split_by_weekday(trades)] == ["Mon", "Tue", "Fri"]
    assert [row.group for row in split_by_days_to_expiry(trades)] == ["2 days", "3 days", "13 days"]

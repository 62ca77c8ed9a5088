"""Issue 18: `report pnl`, `report statement` and the daily report agree to the paisa.

They used to differ by a paisa: the statement and `report pnl` rounded each order's charges once, as a
contract note does, while the daily report added the unrounded charges of every fill. Orders here fill
in several parts at prices chosen so that the two ways of adding differ; the day ends flat, so all
three reports must show the same charges and the same net P&L.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from optbot.core.enums import IntentPurpose, Side
from optbot.core.timeutil import ist_datetime
from optbot.execution.reports import build_pnl_report, report_json
from optbot.execution.statement import contract_note, contract_note_json
from optbot.ops.daily_report import build_daily_report
from optbot.ops.reports import render_html
from optbot.ops.sentiment import SentimentMonitor
from optbot.test_kit.data import make_range_bar
from optbot.test_kit.execution import option_intent
from tests.engine.test_core import DAY, Rig

#: (side, the order's parts as (lots, price)): every order fills in two to four parts.
ORDERS = [
    (Side.BUY, [(1, 120.05), (2, 120.15), (1, 120.35)]),
    (Side.SELL, [(1, 121.45), (1, 121.05), (2, 120.85)]),
    (Side.BUY, [(2, 119.95), (1, 119.65)]),
    (Side.SELL, [(1, 118.15), (1, 118.35), (1, 118.25)]),
]


async def _trade_the_day(rig: Rig) -> None:
    await rig.start()
    await rig.ticks()
    contract = rig.engine.market.watch_list("NIFTY")[0]
    for number, (side, parts) in enumerate(ORDERS):
        lots = sum(count for count, _ in parts)
        intent = option_intent(
            f"paisa-{number}",
            side=side,
            quantity=lots * contract.lot_size,
            limit_price=120.0,
            purpose=IntentPurpose.ENTRY if side is Side.BUY else IntentPurpose.EXIT,
            instrument=contract,
            strategy=f"paisa-{number}",
            when=rig.clock.now_utc(),
        )
        result = await rig.engine.orders.submit(intent)
        assert result.accepted, result.reasons
        order = rig.broker.order_for_tag(result.ordertags[0])
        assert order is not None
        for count, price in parts:
            rig.clock.advance(1)
            rig.broker.fill(order.order_id, count * contract.lot_size, price)
            await rig.deliver()
            await rig.engine.orders.poll_once()
        rig.clock.advance(30)


async def test_pnl_statement_and_daily_report_agree_to_the_paisa(tmp_path: Path) -> None:
    rig = Rig(tmp_path, fill_policy="none")
    await _trade_the_day(rig)
    fills = rig.store.fills()
    assert len(fills) == sum(len(parts) for _, parts in ORDERS)
    assert all(position.net_quantity == 0 for position in rig.store.positions())  # flat: net = cash
    card, rounding = rig.engine.rate_card, rig.settings.execution.charges_rounding

    pnl = report_json(build_pnl_report(fills, DAY, DAY, card, rounding))["summary"]
    statement = contract_note_json(contract_note(fills, card, rounding, DAY))
    report = build_daily_report(rig.engine, DAY)
    daily = report.metrics

    charges = statement["total_charges"]
    assert pnl["total_charges"] == charges
    assert daily["charges"] == charges and daily["charges_all_fills"] == charges
    assert pnl["net_pnl"] == daily["net_pnl"] == statement["net_amount"]
    assert round(rig.engine.portfolio.daily_pnl(DAY), 2) == statement["net_amount"]  # the dashboard's
    # what each fill was booked with adds up, order by order, to the contract note's charges
    assert round(sum(fill.charges for fill in fills), 2) == charges
    # each round trip names the intent of the fill that closed it: a sell of two lots that closes the
    # rest of one buy and all of the next gives two trades, both with the exit's reason
    trades = report.tables["closed trades"]
    assert len(trades) == 7 > len([fill for fill in fills if fill.side is Side.SELL])
    assert [trade["exit_reason"] for trade in trades] == ["exit"] * 7


async def test_market_sentiment_section_from_the_engine_chain(tmp_path: Path) -> None:
    """Spec §11.2: the monitor reads the engine's quoted chain; the report shows its last row."""
    rig = Rig(tmp_path, fill_policy="none")
    await rig.start()
    await rig.ticks()
    monitor = SentimentMonitor(rig.engine)
    monitor.sample()
    (first,) = monitor.rows()
    # every quoted contract carries OI 500,000 and volume 10,000: both ratios are 1, and with equal OI
    # on every strike the writers' payout is least at the middle strike, the ATM
    assert (first["underlying"], first["pcr_oi"], first["pcr_volume"]) == ("NIFTY", 1.0, 1.0)
    assert first["max_pain"] == first["atm_strike"] == 24_550.0
    assert first["atm_iv_pct"] is not None and first["atm_call_build_up"] is None  # nothing earlier yet
    assert first["hv_pct"] is None and first["iv_regime"] is None  # no daily history loaded: unknown
    rig.clock.advance(60)
    await rig.ticks(option_ltp=130.0)
    monitor.sample()
    (later,) = monitor.rows()
    assert later["atm_call_build_up"] == later["atm_put_build_up"] == "neutral"  # price up, OI flat

    report = build_daily_report(rig.engine, DAY, sentiment=monitor.rows())
    assert report.tables["market sentiment"] == [later]
    page = render_html(report)
    assert "<h2>market sentiment</h2>" in page and "<th>pcr oi</th>" in page and "24,550.00" in page
    assert build_daily_report(rig.engine, DAY).tables["market sentiment"] == []


def _add_minute_bar(rig: Rig, start: datetime, low: float, high: float, volume: int) -> None:
    rig.engine.ctx.add_bar(make_range_bar(start, low, high, volume))


async def test_session_profile_columns_follow_the_three_indicator_settings(tmp_path: Path) -> None:
    """Spec §11.2 profile of today's closed 1-minute bars (yesterday's is left out). Six 10-point bins
    over 24,500-24,560 hold 50 150 200 200 100 100: POC 24,525 (of the two 200s, the lower is nearer
    the middle); 70 % (560) grows 24,520-24,530 up, down, up to 24,510-24,550. IB: periods A and B."""
    rig = Rig(tmp_path, fill_policy="none")
    await rig.start()
    await rig.ticks()
    _add_minute_bar(rig, ist_datetime(DAY - timedelta(days=1), time(15, 0)), 23_000.0, 23_010.0, 1_000)
    for clock_time, low, high, volume in [
        (time(9, 15), 24_500.0, 24_520.0, 100),
        (time(9, 20), 24_510.0, 24_540.0, 300),
        (time(9, 45), 24_520.0, 24_560.0, 400),
    ]:
        _add_minute_bar(rig, ist_datetime(DAY, clock_time), low, high, volume)
    indicators = rig.settings.indicators
    indicators.volume_profile_bins, indicators.value_area_fraction = 6, 0.70
    indicators.initial_balance_periods = 2
    monitor = SentimentMonitor(rig.engine)

    def profile() -> tuple[float | None, ...]:
        monitor.sample()
        (row,) = monitor.rows()
        assert row["profile_basis"] == "volume"
        keys = ("profile_poc", "profile_val", "profile_vah", "initial_balance_low", "initial_balance_high")
        return tuple(row[key] for key in keys)

    assert profile() == pytest.approx((24_525.0, 24_510.0, 24_550.0, 24_500.0, 24_560.0))
    # 20-point bins hold 200 400 200: POC mid 24,520-24,540; 400 + 200 above (a tie) reaches 560
    indicators.volume_profile_bins = 3
    assert profile() == pytest.approx((24_530.0, 24_520.0, 24_560.0, 24_500.0, 24_560.0))
    indicators.volume_profile_bins, indicators.value_area_fraction = 6, 0.3  # 240: 200 + 200 above
    assert profile() == pytest.approx((24_525.0, 24_520.0, 24_540.0, 24_500.0, 24_560.0))
    indicators.initial_balance_periods = 1  # 09:15-09:44 alone
    assert profile() == pytest.approx((24_525.0, 24_520.0, 24_540.0, 24_500.0, 24_540.0))
    report = build_daily_report(rig.engine, DAY, sentiment=monitor.rows())
    (row,) = report.tables["market sentiment"]
    assert (row["profile_poc"], row["initial_balance_high"]) == pytest.approx((24_525.0, 24_540.0))
    assert "<th>profile poc</th>" in render_html(report)

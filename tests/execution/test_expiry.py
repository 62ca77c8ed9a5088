"""Expiry / exercise settlement of option positions held through expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.charges import RateCard, exercise_stt
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, InstrumentKind, OptionType, Side
from optbot.core.instrument import Instrument
from optbot.execution.expiry import (
    EXPIRY_FILL_SOURCE,
    SettlementOutcome,
    intrinsic_value,
    settle_expiries,
)
from optbot.persistence.records import FillRecord
from optbot.persistence.store import Store
from optbot.portfolio.positions import apply_fill_to_position, empty_position, net_realised_pnl

EXPIRY = date(2026, 3, 3)  # a Tuesday NIFTY expiry
AFTER_CLOSE = datetime(2026, 3, 3, 10, 30, tzinfo=UTC)  # 16:00 IST
CARD = RateCard.load(None)


def _instrument(
    token: str = "70001",
    option_type: OptionType = OptionType.CE,
    strike: float = 24400.0,
    kind: InstrumentKind = InstrumentKind.OPTIDX,
    expiry: date = EXPIRY,
) -> Instrument:
    return Instrument(
        token=token,
        exchange=Exchange.NFO,
        symbol=f"NIFTY03MAR26{int(strike)}{option_type.value}",
        underlying="NIFTY",
        kind=kind,
        lot_size=75,
        tick_size=0.05,
        expiry=expiry,
        strike=strike,
        option_type=option_type,
    )


def _open(
    store: Store, instrument: Instrument, side: Side, quantity: int, price: float, charges: float
) -> None:
    """Book an opening fill the way the order manager does (fill + position, one transaction)."""
    now = AFTER_CLOSE
    fill = FillRecord(
        fill_id=f"F-{instrument.token}-{side.value}",
        broker_order_id=f"B-{instrument.token}-{side.value}",
        ordertag=None,
        intent_id="",
        exchange=instrument.exchange,
        token=instrument.token,
        symbol=instrument.symbol,
        side=side,
        quantity=quantity,
        price=price,
        trade_date=date(2026, 3, 2),
        ts_utc=now,
        charges=charges,
    )
    current = store.position(instrument.exchange, instrument.token) or empty_position(
        instrument.exchange, instrument.token, instrument.symbol, now
    )
    assert store.apply_fill(fill, None, apply_fill_to_position(current, side, quantity, price, charges, now))


def _lookup(*instruments: Instrument):  # type: ignore[no-untyped-def]
    by_key = {(item.exchange, item.token): item for item in instruments}
    return lambda exchange, token: by_key.get((exchange, token))


def _closes(value: float | None):  # type: ignore[no-untyped-def]
    return lambda underlying, day: value if (underlying, day) == ("NIFTY", EXPIRY) else None


def _settle_at_24500(harness):  # type: ignore[no-untyped-def]
    """Settle a test-kit harness's option at its expiry against an index close of 24,500."""
    expiry, instrument = harness.instrument.expiry, harness.instrument
    assert expiry is not None
    return settle_expiries(
        harness.store, expiry, lambda underlying, day: 24500.0, CARD, harness.clock, _lookup(instrument)
    )


@pytest.fixture
def store() -> Store:
    return Store.open(":memory:", SimClock(AFTER_CLOSE))


def test_intrinsic_value() -> None:
    assert intrinsic_value(OptionType.CE, 24400, 24512.35) == 112.35
    assert intrinsic_value(OptionType.PE, 24400, 24512.35) == 0.0
    assert intrinsic_value(OptionType.PE, 24400, 24300.0) == 100.0
    assert intrinsic_value(OptionType.CE, 24400, 24400.0) == 0.0


def test_long_itm_call_settles_at_intrinsic_with_exercise_stt(store: Store) -> None:
    call = _instrument()
    _open(store, call, Side.BUY, 150, 80.0, 45.0)
    [result] = settle_expiries(store, EXPIRY, _closes(24512.35), CARD, SimClock(AFTER_CLOSE), _lookup(call))
    assert result.outcome is SettlementOutcome.SETTLED_IN_THE_MONEY
    assert result.intrinsic_value == 112.35
    stt = 150 * 112.35 * 0.125 / 100
    assert result.exercise_stt == pytest.approx(stt)
    position = store.position(Exchange.NFO, call.token)
    assert position is not None and position.net_quantity == 0
    assert net_realised_pnl(position) == pytest.approx(150 * (112.35 - 80.0) - 45.0 - stt)
    [settlement] = [fill for fill in store.fills() if fill.source == EXPIRY_FILL_SOURCE]
    assert (settlement.side, settlement.quantity, settlement.price) == (Side.SELL, 150, 112.35)
    assert settlement.trade_date == EXPIRY and settlement.charges == pytest.approx(stt)
    audit = [row for row in store.audit_rows() if row["kind"] == "expiry_settlement"]
    assert audit and audit[0]["payload"]["underlying_close"] == 24512.35
    assert store.verify_chain().ok


def test_short_itm_put_is_assigned_without_stt(store: Store) -> None:
    put = _instrument(token="70002", option_type=OptionType.PE)
    _open(store, put, Side.SELL, 75, 60.0, 30.0)
    [result] = settle_expiries(store, EXPIRY, _closes(24300.0), CARD, SimClock(AFTER_CLOSE), _lookup(put))
    assert result.outcome is SettlementOutcome.SETTLED_IN_THE_MONEY and result.exercise_stt == 0.0
    assert result.fill is not None and result.fill.side is Side.BUY and result.fill.price == 100.0
    assert result.realised_pnl_net == pytest.approx(75 * (60.0 - 100.0) - 30.0)


def test_otm_positions_expire_worthless(store: Store) -> None:
    long_call = _instrument(token="1", strike=25000.0)
    short_put = _instrument(token="2", option_type=OptionType.PE, strike=24000.0)
    _open(store, long_call, Side.BUY, 75, 12.0, 20.0)
    _open(store, short_put, Side.SELL, 75, 9.0, 21.0)
    results = settle_expiries(
        store, EXPIRY, _closes(24500.0), CARD, SimClock(AFTER_CLOSE), _lookup(long_call, short_put)
    )
    assert {result.outcome for result in results} == {SettlementOutcome.EXPIRED_WORTHLESS}
    by_token = {result.token: result for result in results}
    assert by_token["1"].realised_pnl_net == pytest.approx(-75 * 12.0 - 20.0)
    assert by_token["2"].realised_pnl_net == pytest.approx(75 * 9.0 - 21.0)
    assert all(position.net_quantity == 0 for position in store.positions())


def test_running_twice_settles_once(store: Store) -> None:
    call = _instrument()
    _open(store, call, Side.BUY, 75, 80.0, 20.0)
    args = (EXPIRY, _closes(24512.35), CARD, SimClock(AFTER_CLOSE), _lookup(call))
    assert len(settle_expiries(store, *args)) == 1
    audit_rows = len(store.audit_rows())
    assert settle_expiries(store, *args) == []
    assert len(store.audit_rows()) == audit_rows
    assert len([fill for fill in store.fills() if fill.source == EXPIRY_FILL_SOURCE]) == 1


def test_not_yet_expired_and_flat_positions_are_left_alone(store: Store) -> None:
    weekly_later = _instrument(token="9", expiry=date(2026, 3, 10))
    _open(store, weekly_later, Side.BUY, 75, 50.0, 20.0)
    assert (
        settle_expiries(store, EXPIRY, _closes(24500.0), CARD, SimClock(AFTER_CLOSE), _lookup(weekly_later))
        == []
    )
    assert store.position(Exchange.NFO, "9").net_quantity == 75  # type: ignore[union-attr]


def test_missed_expiry_is_settled_on_a_later_day_with_its_own_close(store: Store) -> None:
    call = _instrument()
    _open(store, call, Side.BUY, 75, 80.0, 20.0)
    [result] = settle_expiries(
        store, date(2026, 3, 5), _closes(24450.0), CARD, SimClock(AFTER_CLOSE), _lookup(call)
    )
    assert result.outcome is SettlementOutcome.SETTLED_IN_THE_MONEY and result.intrinsic_value == 50.0
    assert result.fill is not None and result.fill.trade_date == EXPIRY


@pytest.mark.parametrize("close", [None, 0.0, -5.0, float("nan")])
def test_missing_or_bad_close_changes_nothing(store: Store, close: float | None) -> None:
    call = _instrument()
    _open(store, call, Side.BUY, 75, 80.0, 20.0)
    before = store.position(Exchange.NFO, call.token)
    [result] = settle_expiries(store, EXPIRY, _closes(close), CARD, SimClock(AFTER_CLOSE), _lookup(call))
    assert result.outcome is SettlementOutcome.MISSING_UNDERLYING_CLOSE and "not settled" in result.detail
    assert store.position(Exchange.NFO, call.token) == before
    assert store.anomalies()[-1]["kind"] == "expiry_missing_underlying_close"


def test_unknown_instrument_and_physical_delivery_are_reported_not_settled(store: Store) -> None:
    stock_call = replace(_instrument(token="5", strike=1000.0), kind=InstrumentKind.OPTSTK, underlying="SBIN")
    _open(store, stock_call, Side.BUY, 750, 5.0, 20.0)
    _open(store, _instrument(token="6"), Side.BUY, 75, 5.0, 20.0)
    results = settle_expiries(
        store,
        EXPIRY,
        lambda underlying, day: 1100.0,
        CARD,
        SimClock(AFTER_CLOSE),
        _lookup(stock_call),
    )
    outcomes = {result.token: result.outcome for result in results}
    assert outcomes == {"5": SettlementOutcome.NEEDS_DELIVERY, "6": SettlementOutcome.UNKNOWN_INSTRUMENT}
    assert all(position.net_quantity != 0 for position in store.positions())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    long_side=st.booleans(),
    option_type=st.sampled_from([OptionType.CE, OptionType.PE]),
    lots=st.integers(min_value=1, max_value=40),
    premium=st.decimals(min_value="0.05", max_value="900", places=2).map(float),
    entry_charges=st.decimals(min_value="0", max_value="200", places=2).map(float),
    close_offset=st.decimals(min_value="-1500", max_value="1500", places=2).map(float),
)
def test_property_pnl_is_intrinsic_minus_premium_minus_charges_and_idempotent(
    long_side: bool,
    option_type: OptionType,
    lots: int,
    premium: float,
    entry_charges: float,
    close_offset: float,
) -> None:
    store = Store.open(":memory:", SimClock(AFTER_CLOSE))
    instrument = _instrument(option_type=option_type)
    quantity = lots * 75
    side = Side.BUY if long_side else Side.SELL
    _open(store, instrument, side, quantity, premium, entry_charges)
    close = 24400.0 + close_offset
    args = (EXPIRY, _closes(close), CARD, SimClock(AFTER_CLOSE), _lookup(instrument))
    [result] = settle_expiries(store, *args)
    intrinsic = intrinsic_value(option_type, 24400.0, close)
    stt = exercise_stt(CARD, Exchange.NFO, quantity, intrinsic, EXPIRY) if long_side else 0.0
    direction = 1 if long_side else -1
    expected = direction * quantity * (intrinsic - premium) - entry_charges - stt
    assert result.realised_pnl_net == pytest.approx(expected, abs=1e-6)
    assert settle_expiries(store, *args) == []
    position = store.position(Exchange.NFO, instrument.token)
    assert position is not None and position.net_quantity == 0
    assert net_realised_pnl(position) == pytest.approx(expected, abs=1e-6)
    store.close()


def test_statement_and_pnl_report_charge_only_the_exercise_stt(store: Store) -> None:
    from optbot.execution.reports import build_pnl_report
    from optbot.execution.statement import contract_note

    call = _instrument()
    _open(store, call, Side.BUY, 75, 80.0, 20.0)
    [result] = settle_expiries(store, EXPIRY, _closes(24500.0), CARD, SimClock(AFTER_CLOSE), _lookup(call))
    note = contract_note(store.fills(), CARD, "exact", EXPIRY)
    assert note.charges.total == pytest.approx(result.exercise_stt) and note.sell_value == 75 * 100.0
    report = build_pnl_report(store.fills(), EXPIRY, EXPIRY, CARD, "exact")
    [trade] = report.trades
    assert trade.exit_price == 100.0 and trade.gross_pnl == pytest.approx(75 * 20.0)


async def test_reconciliation_does_not_expect_settlement_fills_in_the_trade_book() -> None:
    from optbot.config.settings import Settings
    from optbot.execution.reconciliation import Reconciler
    from optbot.test_kit.execution import build_harness, option_intent

    harness = build_harness()
    await harness.manager.submit(option_intent("held-through-expiry"))
    await harness.manager.poll_once()
    [result] = _settle_at_24500(harness)
    assert result.outcome is SettlementOutcome.SETTLED_IN_THE_MONEY
    report = await Reconciler(harness.broker, harness.store, harness.clock, Settings()).run("eod")
    assert not [item for item in report.discrepancies if item.kind == "fill"]


async def test_on_expiry_day_the_broker_still_listing_the_settled_contract_is_no_mismatch() -> None:
    """optbot settles at the close; Angel's position book drops the contract only at its overnight roll."""
    from datetime import time as clock_time

    from optbot.config.settings import Settings
    from optbot.core.clock import SimClock
    from optbot.core.timeutil import ist_datetime
    from optbot.execution.reconciliation import Reconciler
    from optbot.test_kit.execution import build_harness, option_instrument, option_intent

    expiry = option_instrument().expiry
    assert expiry is not None
    harness = build_harness(clock=SimClock(ist_datetime(expiry, clock_time(14, 0))))
    await harness.manager.submit(option_intent("held-to-expiry-day"))
    await harness.manager.poll_once()
    harness.clock.advance_to(ist_datetime(expiry, clock_time(15, 45)))
    [result] = _settle_at_24500(harness)
    assert result.outcome is SettlementOutcome.SETTLED_IN_THE_MONEY
    assert [position.net_quantity for position in harness.store.positions()] == [0]
    report = await Reconciler(harness.broker, harness.store, harness.clock, Settings()).run("eod")
    assert not [item for item in report.discrepancies if item.kind in ("position", "fill")], (
        report.discrepancies
    )

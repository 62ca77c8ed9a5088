"""Expiry settlement of option positions held through expiry (spec §7.1-7.2, §11.1).

Index options settle in cash against the underlying's closing price on expiry day: an in-the-money
position closes at its intrinsic value, an out-of-the-money one expires worthless (price 0). The
buyer of an exercised ITM option pays STT on the settlement value (`stt_exercised_itm_pct` of the
dated rate card); the assigned writer pays none. Each settlement is one fill with source "expiry",
booked atomically with the position and an audit row, so running settlement twice settles once.

Physically settled (stock) options in the money are not cash settled here: they are reported as
needing delivery and left open for a person to handle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from optbot.charges import RateCard, exercise_stt
from optbot.core.clock import Clock
from optbot.core.enums import Exchange, OptionType, Settlement, Side
from optbot.core.instrument import Instrument
from optbot.persistence.records import FillRecord, PositionRecord
from optbot.persistence.store import Store
from optbot.portfolio.positions import apply_fill_to_position, net_realised_pnl

#: The underlying's closing (settlement) price on a day, by underlying name ("NIFTY"); None if unknown.
UnderlyingCloseLookup = Callable[[str, date], float | None]
#: The instrument-master row for (exchange, token); None if the token is not in the master.
InstrumentLookup = Callable[[Exchange, str], Instrument | None]

EXPIRY_FILL_SOURCE = "expiry"


class SettlementOutcome(StrEnum):
    SETTLED_IN_THE_MONEY = "settled_in_the_money"
    EXPIRED_WORTHLESS = "expired_worthless"
    NEEDS_DELIVERY = "needs_delivery"
    MISSING_UNDERLYING_CLOSE = "missing_underlying_close"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    NOT_BOOKED_CONCURRENT_CHANGE = "not_booked_concurrent_change"

    @property
    def closed_position(self) -> bool:
        return self in (SettlementOutcome.SETTLED_IN_THE_MONEY, SettlementOutcome.EXPIRED_WORTHLESS)


@dataclass(frozen=True, slots=True)
class ExpirySettlement:
    """What happened to one open position at (or after) its expiry."""

    exchange: Exchange
    token: str
    symbol: str
    outcome: SettlementOutcome
    net_quantity_before: int
    expiry: date | None = None
    underlying_close: float | None = None
    intrinsic_value: float = 0.0
    exercise_stt: float = 0.0
    position: PositionRecord | None = None
    fill: FillRecord | None = None
    detail: str = ""

    @property
    def realised_pnl_net(self) -> float:
        """The position's realised P&L net of every charge after settlement (0 when not settled)."""
        return 0.0 if self.position is None else net_realised_pnl(self.position)


def intrinsic_value(option_type: OptionType, strike: float, underlying_close: float) -> float:
    """Per-unit intrinsic value at the settlement price, to the paisa (never negative)."""
    raw = underlying_close - strike if option_type is OptionType.CE else strike - underlying_close
    return round(max(0.0, raw), 2)


def expiry_fill_key(exchange: Exchange, token: str, expiry: date) -> tuple[str, str]:
    """(broker_order_id, fill_id) of the settlement fill: one per contract, the idempotency key."""
    return f"EXPIRY:{exchange.value}:{token}", f"EXP-{expiry.isoformat()}"


def settle_expiries(
    store: Store,
    day: date,
    underlying_close_lookup: UnderlyingCloseLookup,
    rate_card: RateCard,
    clock: Clock,
    instruments_lookup: InstrumentLookup,
) -> list[ExpirySettlement]:
    """Settle every open option position whose expiry is on or before `day` (IST trading date).

    Call after the close on expiry day (post-market). Idempotent: a settled position is flat and its
    settlement fill is keyed by contract, so a second run settles nothing again. Positions that cannot
    be settled (no instrument, no underlying close, physical delivery) are reported, recorded as
    anomalies, and left unchanged.
    """
    results: list[ExpirySettlement] = []
    for position in store.open_positions():
        instrument = instruments_lookup(position.exchange, position.token)
        if instrument is None:
            results.append(_unknown_instrument(store, position))
            continue
        if not _expires_by(instrument, day):
            continue
        results.append(_settle_one(store, position, instrument, underlying_close_lookup, rate_card, clock))
    return results


def _expires_by(instrument: Instrument, day: date) -> bool:
    return instrument.is_option and instrument.expiry is not None and instrument.expiry <= day


def _unknown_instrument(store: Store, position: PositionRecord) -> ExpirySettlement:
    detail = "open position's token is not in the instrument master: expiry unknown, not settled"
    store.record_anomaly(
        "expiry_unknown_instrument",
        {"exchange": position.exchange.value, "token": position.token, "symbol": position.symbol},
    )
    return ExpirySettlement(
        position.exchange,
        position.token,
        position.symbol,
        SettlementOutcome.UNKNOWN_INSTRUMENT,
        position.net_quantity,
        detail=detail,
    )


def _valid_close(value: float | None) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _settle_one(
    store: Store,
    position: PositionRecord,
    instrument: Instrument,
    underlying_close_lookup: UnderlyingCloseLookup,
    rate_card: RateCard,
    clock: Clock,
) -> ExpirySettlement:
    expiry = instrument.expiry
    assert expiry is not None and instrument.option_type is not None  # checked by _expires_by
    close = underlying_close_lookup(instrument.underlying, expiry)
    base = ExpirySettlement(
        position.exchange,
        position.token,
        position.symbol,
        SettlementOutcome.MISSING_UNDERLYING_CLOSE,
        position.net_quantity,
        expiry=expiry,
    )
    if not _valid_close(close) or instrument.strike is None:
        detail = f"no valid {instrument.underlying} close for {expiry} (got {close!r}); not settled"
        store.record_anomaly(
            "expiry_missing_underlying_close",
            {"token": position.token, "underlying": instrument.underlying, "expiry": expiry.isoformat()},
        )
        return replace(base, detail=detail)
    assert close is not None
    intrinsic = intrinsic_value(instrument.option_type, instrument.strike, float(close))
    if intrinsic > 0 and instrument.settlement is Settlement.PHYSICAL:
        detail = "in the money and physically settled: delivery must be handled by a person"
        store.record_anomaly(
            "expiry_needs_delivery", {"token": position.token, "symbol": position.symbol, "close": close}
        )
        return replace(
            base,
            outcome=SettlementOutcome.NEEDS_DELIVERY,
            underlying_close=close,
            intrinsic_value=intrinsic,
            detail=detail,
        )
    return _book_settlement(store, position, instrument, expiry, float(close), intrinsic, rate_card, clock)


def _book_settlement(
    store: Store,
    position: PositionRecord,
    instrument: Instrument,
    expiry: date,
    close: float,
    intrinsic: float,
    rate_card: RateCard,
    clock: Clock,
) -> ExpirySettlement:
    quantity = abs(position.net_quantity)
    long_position = position.net_quantity > 0
    stt = exercise_stt(rate_card, position.exchange, quantity, intrinsic, expiry) if long_position else 0.0
    broker_order_id, fill_id = expiry_fill_key(position.exchange, position.token, expiry)
    now = clock.now_utc()
    fill = FillRecord(
        fill_id=fill_id,
        broker_order_id=broker_order_id,
        ordertag=None,
        intent_id="",
        exchange=position.exchange,
        token=position.token,
        symbol=position.symbol,
        side=Side.SELL if long_position else Side.BUY,
        quantity=quantity,
        price=intrinsic,
        trade_date=expiry,
        ts_utc=now,
        charges=stt,
        source=EXPIRY_FILL_SOURCE,
    )
    outcome = SettlementOutcome.SETTLED_IN_THE_MONEY if intrinsic > 0 else SettlementOutcome.EXPIRED_WORTHLESS
    with store.transaction():
        current = store.position(position.exchange, position.token)
        if current is None or current.net_quantity != position.net_quantity:
            return _not_booked(position, expiry, "position changed while settling; left for the next run")
        settled = apply_fill_to_position(current, fill.side, quantity, intrinsic, stt, now)
        if not store.apply_fill(fill, None, settled):
            return _not_booked(position, expiry, "settlement fill already recorded")
        store.audit(
            "expiry_settlement",
            f"{position.exchange.value}:{position.token}",
            {
                "symbol": position.symbol,
                "expiry": expiry.isoformat(),
                "outcome": outcome.value,
                "net_quantity": position.net_quantity,
                "strike": instrument.strike,
                "option_type": instrument.option_type.value if instrument.option_type else "",
                "underlying": instrument.underlying,
                "underlying_close": close,
                "intrinsic_value": intrinsic,
                "exercise_stt": stt,
                "realised_pnl_net": net_realised_pnl(settled),
            },
        )
    return ExpirySettlement(
        position.exchange,
        position.token,
        position.symbol,
        outcome,
        position.net_quantity,
        expiry=expiry,
        underlying_close=close,
        intrinsic_value=intrinsic,
        exercise_stt=stt,
        position=settled,
        fill=fill,
    )


def _not_booked(position: PositionRecord, expiry: date, detail: str) -> ExpirySettlement:
    return ExpirySettlement(
        position.exchange,
        position.token,
        position.symbol,
        SettlementOutcome.NOT_BOOKED_CONCURRENT_CHANGE,
        position.net_quantity,
        expiry=expiry,
        detail=detail,
    )

"""Synthetic option quotes from the calibrated model (`optbot.analytics.synthetic`) off the replayed index.

Every value produced here is model output, never a traded price, and is flagged
`SimQuote.synthetic=True`. Spreads widen away from the money and into expiry, depth has five levels,
and volume / open interest evolve deterministically from the contract and the tick sequence.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from optbot.analytics.synthetic import SyntheticOptionModel
from optbot.sim.contracts import SimDepthLevel, SimQuote
from optbot.sim.market.instruments import OptionContract
from optbot.sim.market.pricing import MIN_YEARS, round_to_tick

DEPTH_LEVELS = 5
OI_ATM_LOTS = 60_000  # open interest (lots) of an at-the-money near-expiry strike at the start of a day


@dataclass(frozen=True, slots=True)
class MarketState:
    """The inputs every option price depends on at one instant."""

    moment: datetime
    spot: float
    vix: float


@dataclass(frozen=True, slots=True)
class OptionValuation:
    """Model outputs for a batch of contracts (arrays aligned with the contract list)."""

    value: NDArray[np.float64]
    moneyness: NDArray[np.float64]
    years: NDArray[np.float64]
    intrinsic: NDArray[np.float64]


def value_options(
    contracts: list[OptionContract],
    state: MarketState,
    model: SyntheticOptionModel,
    spots: NDArray[np.float64] | None = None,
) -> OptionValuation:
    """Values of `contracts` (one underlying) at `state` from the calibrated synthetic model (the one
    backtests use); `spots` overrides the spot per row (a candle's open/high/low/close)."""
    strikes = np.array([c.strike for c in contracts], dtype=np.float64)
    is_call = np.array([c.is_call for c in contracts], dtype=np.bool_)
    spot = np.asarray(spots if spots is not None else state.spot, dtype=np.float64)
    underlying = contracts[0].underlying if contracts else ""
    expiries = {contract.expiry for contract in contracts}
    if len(expiries) == 1:  # the common case: one expiry's chain, no regrouping
        chain = model.value_chain(underlying, spot, state.vix, state.moment, expiries.pop(), strikes, is_call)
        values, moneyness, forward = chain.value, chain.moneyness, chain.forward
        calendar_years = np.full(len(contracts), chain.time.calendar_years)
    else:
        values, moneyness, forward, calendar_years = (np.empty(len(contracts)) for _ in range(4))
        for expiry in expiries:
            picked = np.array([index for index, c in enumerate(contracts) if c.expiry == expiry])
            row_spot = spot[picked] if spot.ndim else spot
            chain = model.value_chain(
                underlying, row_spot, state.vix, state.moment, expiry, strikes[picked], is_call[picked]
            )
            values[picked], moneyness[picked], forward[picked] = chain.value, chain.moneyness, chain.forward
            calendar_years[picked] = chain.time.calendar_years
    payoff = np.where(is_call, forward - strikes, strikes - forward)
    intrinsic = np.exp(-model.params.discount_rate * calendar_years) * np.maximum(payoff, 0.0)
    years = np.maximum(calendar_years, MIN_YEARS)
    return OptionValuation(values, moneyness, years, intrinsic)


@dataclass(frozen=True, slots=True)
class SingleValuation:
    """Model outputs for one contract (`OptionValuation` of a batch of one, as floats)."""

    value: float
    moneyness: float
    years: float


def value_option(
    contract: OptionContract, state: MarketState, model: SyntheticOptionModel
) -> SingleValuation:
    """`value_options` for one contract without numpy: a backtest values each held contract on every
    bar, where arrays of length one cost ten times the arithmetic."""
    value, moneyness, years = model.value_moneyness_years(
        contract.underlying,
        state.spot,
        state.vix,
        state.moment,
        contract.expiry,
        contract.strike,
        contract.is_call,
    )
    return SingleValuation(value, moneyness, max(years, MIN_YEARS))


def _salt(token: str) -> int:
    return zlib.crc32(token.encode())


@dataclass(slots=True)
class OptionDay:
    """One contract's running session statistics."""

    contract: OptionContract
    previous_close: float
    open_interest_start: int
    band_upper: float
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    volume: int = 0
    turnover: float = 0.0
    sequence: int = 0
    started: bool = False
    salt: int = field(default=0)

    def __post_init__(self) -> None:
        self.salt = _salt(self.contract.token)


def opening_open_interest(contract: OptionContract, moneyness: float, years: float) -> int:
    """A hump around the money, larger for near expiries; deterministic per contract."""
    days = max(years * 365.0, 0.5)
    expiry_weight = 1.0 / (1.0 + days / 10.0)
    lots = OI_ATM_LOTS * float(np.exp(-0.5 * moneyness * moneyness)) * (0.3 + expiry_weight)
    jitter = 0.8 + (_salt(contract.token) % 400) / 1000.0
    return max(contract.lot_size, int(lots * jitter) * contract.lot_size)


def option_quote(
    day: OptionDay,
    value: float,
    moneyness: float,
    moment: datetime,
    spread: float,
    trading: bool = True,
    depth_levels: int = DEPTH_LEVELS,
) -> SimQuote:
    """Advance the contract's day by one tick at model value `value` and return its quote (with
    `depth_levels` levels a side; the levels shown do not depend on how many are asked for).

    `spread` is the model's bid/ask width in rupees (`SyntheticOptionModel.spread`).
    Before the underlying's first tick of the session (`trading` false) the quote shows the model
    value but no open, range or volume is recorded, so the day's open is the first traded value.
    """
    contract = day.contract
    tick = contract.tick_size
    mid = round_to_tick(value, tick)
    spread_ticks = max(1, round(spread / tick))
    bid_ticks = max(0, round(mid / tick) - spread_ticks // 2 - spread_ticks % 2)
    bid = round(bid_ticks * tick, 2)
    ask = round((bid_ticks + spread_ticks) * tick, 2)
    day.sequence += 1
    activity = max(1, int(6 * math.exp(-0.5 * moneyness * moneyness)))
    traded_lots = (day.sequence * 7 + day.salt) % (activity + 1) if trading else 0
    last_quantity = max(1, traded_lots) * contract.lot_size
    if trading and not day.started:
        day.open = day.high = day.low = mid
        day.started = True
    if day.started:
        day.high = max(day.high, mid)
        day.low = min(day.low, mid)
    if traded_lots:
        day.volume += traded_lots * contract.lot_size
        day.turnover += traded_lots * contract.lot_size * mid
    average = round(day.turnover / day.volume, 2) if day.volume else mid
    # Writers add positions as premiums fall and cover as they rise: OI drifts with volume and price.
    direction = 1 if mid <= day.previous_close else -1
    oi_lots = (
        day.open_interest_start // contract.lot_size + direction * (day.volume // contract.lot_size) // 4
    )
    open_interest = max(contract.lot_size, oi_lots * contract.lot_size)
    depth_lots = max(1, int(40 * math.exp(-0.25 * moneyness * moneyness)))
    bids: list[SimDepthLevel] = []
    asks: list[SimDepthLevel] = []
    for level in range(depth_levels):
        lots = 1 + (day.salt + day.sequence * 13 + level * 17) % depth_lots + level
        orders = 1 + lots // 3
        bid_price = round(bid - level * tick, 2)
        if bid_price >= tick:
            bids.append(SimDepthLevel(bid_price, lots * contract.lot_size, orders))
        asks.append(SimDepthLevel(round(ask + level * tick, 2), (lots + 1) * contract.lot_size, orders))
    return SimQuote(
        exchange="NFO",
        token=contract.token,
        symbol=contract.symbol,
        ltp=mid,
        last_quantity=last_quantity,
        average_price=average,
        volume=day.volume,
        open=day.open if day.started else mid,
        high=day.high if day.started else mid,
        low=day.low if day.started else mid,
        close=day.previous_close,
        open_interest=open_interest,
        upper_circuit=max(day.band_upper, round(mid * 1.5, 2)),
        lower_circuit=tick,
        week52_high=max(day.high, mid, day.previous_close),
        week52_low=min(day.low if day.started else mid, mid, day.previous_close),
        bids=tuple(bids),
        asks=tuple(asks),
        exchange_time=moment,
        sequence=day.sequence,
        synthetic=True,
    )

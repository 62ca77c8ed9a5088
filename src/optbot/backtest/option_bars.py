"""Option prices for a backtest: real per-contract bars where the data root has them, else the model.

Per underlying and day, `OptionDay` answers three questions the bar kernel asks, and only when it
asks them (a contract nobody holds, orders or watches costs nothing):

* which contracts were listed (the instrument master of the day);
* the contract's bar over an interval (to fill a resting order, `fill_bars`);
* the contract's last price at a moment (a chain a strategy asked for, a position to mark).

Real bars come from the option archive (`<data root>/archive/options/...`, 1-minute or 5-minute bars
with volume). Without them the price is the synthetic model's, derived deterministically from the
index bar (the calibrated synthetic model, `optbot.analytics.synthetic`, as the simulator prices):
no random number enters a price. Which it was is recorded per contract for the report.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from optbot.analytics.futures_forward import FuturesForward
from optbot.analytics.synthetic import SyntheticOptionModel
from optbot.backtest import shared_cache
from optbot.broker.paper.fill_model import BarPrices
from optbot.calendar import NseCalendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.events import Bar
from optbot.sim.market.instruments import (
    UNDERLYINGS,
    ContractBook,
    OptionContract,
    UnderlyingSpec,
    build_option_contracts,
    option_token,
)
from optbot.sim.market.options import MarketState, opening_open_interest, value_option
from optbot.sim.market.pricing import round_to_tick

log = logging.getLogger("optbot.backtest.option_bars")

REAL_TIMEFRAMES = ("1m", "5m")  # finest first; an archive's EOD (1d) bars cannot fill intraday orders
REAL = "real"
SYNTHETIC = "synthetic"
MISSING = "missing"


class OptionBarSource(Protocol):
    """The option archive's read side (`optbot.data.archive.OptionArchive`)."""

    def day(self, underlying: str, day: date, timeframe: str = "1m") -> pa.Table: ...

    def timeframes(self, underlying: str, day: date) -> list[str]: ...

    def listing(self, underlying: str, day: date, timeframe: str = "1m") -> pa.Table:
        """The day's distinct (symbol, expiry, strike, option_type) rows, in the order of each
        contract's first bar (`optbot.data.archive.listed_contracts` of `day`)."""
        ...


@dataclass(frozen=True, slots=True)
class ContractBars:
    """One contract's real bars for one day, in start order."""

    starts: list[datetime]
    ends: list[datetime]
    opens: list[float]
    highs: list[float]
    lows: list[float]
    closes: list[float]
    volumes: list[int]
    open_interest: list[int]

    def between(self, start: datetime, end: datetime) -> list[BarPrices]:
        """Bars that start in [start, end)."""
        first, last = bisect_left(self.starts, start), bisect_left(self.starts, end)
        return [
            BarPrices(
                self.starts[index],
                self.opens[index],
                self.highs[index],
                self.lows[index],
                self.closes[index],
                self.volumes[index],
            )
            for index in range(first, last)
        ]

    def last_closed(self, now: datetime) -> int | None:
        """Index of the last bar that ended at or before `now`."""
        index = bisect_right(self.ends, now) - 1
        return index if index >= 0 else None


@dataclass
class OptionDay:
    """One underlying's options on one day (see the module docstring)."""

    underlying: str
    day: date
    status: str  # real / synthetic / missing
    timeframe: str | None  # the real bars' timeframe
    contracts: dict[str, OptionContract]  # by token
    #: Reads the day's bars (the archive's table): only when a contract's bars are first asked for.
    read_table: Callable[[], pa.Table] | None = None
    _table: pa.Table | None = None
    _bars: dict[str, ContractBars | None] = field(default_factory=dict)

    def bars_of(self, token: str) -> ContractBars | None:
        """The contract's real bars (read from the day's table on first use); None without any."""
        if token in self._bars:
            return self._bars[token]
        contract = self.contracts.get(token)
        found: ContractBars | None = None
        table = self._day_table() if contract is not None else None
        if table is not None and contract is not None:
            rows = table.filter(pc.equal(table["symbol"], contract.symbol))
            if rows.num_rows:
                step = timedelta(minutes=1 if self.timeframe == "1m" else 5)
                starts = rows["ts"].to_pylist()
                found = ContractBars(
                    starts,
                    [start + step for start in starts],
                    rows["open"].to_pylist(),
                    rows["high"].to_pylist(),
                    rows["low"].to_pylist(),
                    rows["close"].to_pylist(),
                    rows["volume"].to_pylist(),
                    rows["oi"].to_pylist(),
                )
        self._bars[token] = found
        return found

    def _day_table(self) -> pa.Table | None:
        if self._table is None and self.read_table is not None:
            self._table = self.read_table()
        return self._table


class OptionPrices:
    """Per-day option listings and prices for the backtest, and the record of what was real."""

    def __init__(
        self,
        calendar: NseCalendar,
        replay: ReplaySettings,
        archive: OptionBarSource | None,
        spot: Callable[[str], float | None],
        vix: Callable[[], float | None],
        option_model: SyntheticOptionModel,
        forward: FuturesForward | None = None,
    ) -> None:
        self.calendar = calendar
        #: Where the store has the near future's bars, the model's spot comes from them (its forward
        #: is the traded future); else from the index (`spot`).
        self.forward = forward
        self.replay = replay
        self.option_model = option_model
        self.archive = archive
        self._spot = spot
        self._vix = vix
        self._days: dict[str, OptionDay] = {}
        self.priced: dict[str, str] = {}  # token -> real / synthetic (every contract priced or filled)
        #: The model's values, shared with every backtest of this process on the same model
        #: (`optbot.backtest.shared_cache`): a search's trials value the same contracts at the same bars.
        self._valuations = shared_cache.valuations(option_model)
        self._listings = shared_cache.listings(calendar)
        #: Every contract listed so far, by token: the same object comes back while it is unchanged,
        #: so each day's listing (and the instrument master built from it) is mostly lookups.
        self._known = ContractBook()

    # ------------------------------------------------------------------ coverage
    def coverage(self, underlying: str, day: date) -> tuple[str, str | None]:
        """(real / synthetic / missing, the real bars' timeframe) without reading any bar."""
        if self.archive is not None:
            held = self.archive.timeframes(underlying, day)
            for timeframe in REAL_TIMEFRAMES:
                if timeframe in held:
                    return REAL, timeframe
        return (SYNTHETIC, None) if underlying in UNDERLYINGS else (MISSING, None)

    # ------------------------------------------------------------------ listing
    def open_day(self, underlying: str, day: date, reference: float) -> OptionDay:
        """The day's listing: the archive's contracts when it has the day, else the model's."""
        status, timeframe = self.coverage(underlying, day)
        spec = UNDERLYINGS.get(underlying)
        contracts: dict[str, OptionContract] = {}
        read_table: Callable[[], pa.Table] | None = None
        if status == REAL and spec is not None and self.archive is not None and timeframe is not None:
            listed = self.archive.listing(underlying, day, timeframe)
            read_table = partial(self.archive.day, underlying, day, timeframe)
            for symbol, expiry, strike, option_type in zip(
                listed["symbol"].to_pylist(),
                listed["expiry"].to_pylist(),
                listed["strike"].to_pylist(),
                listed["option_type"].to_pylist(),
                strict=True,
            ):
                try:
                    token = option_token(spec, expiry, strike, option_type)
                except ValueError:
                    log.warning("%s %s: strike %s is off the strike grid, left out", underlying, day, strike)
                    continue
                contract = OptionContract(
                    token=token,
                    symbol=symbol,
                    underlying=underlying,
                    expiry=expiry,
                    strike=float(strike),
                    option_type=option_type,
                    lot_size=spec.lot_size(day, expiry),
                    freeze_quantity=spec.freeze_quantity(day),
                    exchange=spec.exchange,
                )
                held = self._known.get(token)
                if held != contract:
                    held = self._known[token] = contract
                contracts[token] = held
        elif spec is not None:
            status = SYNTHETIC if status != REAL else status
            contracts = {
                contract.token: contract for contract in self._modelled_listing(spec, day, reference)
            }
        option_day = self._days[underlying] = OptionDay(
            underlying, day, status, timeframe, contracts, read_table
        )
        return option_day

    def _modelled_listing(
        self, spec: UnderlyingSpec, day: date, reference: float
    ) -> tuple[OptionContract, ...]:
        """The contracts the model lists around `reference` (built once per process for these inputs:
        every backtest of the same day and data lists the same ones)."""
        replay = self.replay
        key = (
            spec.name,
            day.toordinal(),
            reference,
            replay.weekly_expiries_listed,
            replay.monthly_expiries_listed,
            replay.strike_inner_band_pct,
            replay.strike_outer_band_pct,
        )
        found = self._listings.get(key)
        if found is None:
            built = build_option_contracts(
                spec,
                self.calendar,
                day,
                reference,
                replay.weekly_expiries_listed,
                replay.monthly_expiries_listed,
                replay.strike_inner_band_pct,
                replay.strike_outer_band_pct,
                self._known,
            )
            found = self._listings.put(key, tuple(built))
        return found

    def listing(self) -> list[OptionContract]:
        return [contract for day in self._days.values() for contract in day.contracts.values()]

    def day_of(self, token: str) -> OptionDay | None:
        """The open day listing `token` (a token names its underlying: one day at most lists it)."""
        for option_day in self._days.values():
            if token in option_day.contracts:
                return option_day
        return None

    # ------------------------------------------------------------------ prices
    def _valued(
        self, contract: OptionContract, moment: datetime, spot: float, vix: float
    ) -> tuple[float, int]:
        """The model's price (on the tick grid) and its modelled open interest (the simulator's hump
        around the money), computed once per process for these inputs (`optbot.backtest.shared_cache`)."""
        key = (contract, moment, spot, vix)
        found = self._valuations.entries.get(key)  # (the table's own lookup, without its call)
        if found is None:
            valuation = value_option(contract, MarketState(moment, spot, vix), self.option_model)
            price = max(round_to_tick(valuation.value, contract.tick_size), contract.tick_size)
            interest = opening_open_interest(contract, valuation.moneyness, valuation.years)
            found = self._valuations.put(key, (price, interest))
        return found

    def _model(self, contract: OptionContract, moment: datetime, spot: float, vix: float) -> float:
        return self._valued(contract, moment, spot, vix)[0]

    def _model_spot(self, token: str, underlying: str, now: datetime) -> float | None:
        """The spot the model values from: the near future's (its forward) where it traded, else the index."""
        if self.forward is not None:
            from_future = self.forward.spot_at(underlying, now)
            if from_future is not None:
                self.forward.used.add(token)
                return from_future
        return self._spot(underlying)

    def _model_levels(self, token: str, underlying: str, index_bar: Bar) -> tuple[float, float, float, float]:
        """(open, high, low, close) spots over the bar: the future's where it has bars, else the index's."""
        if self.forward is not None:
            levels = self.forward.bar_levels(underlying, index_bar.start_utc, index_bar.end_utc)
            if levels is not None:
                self.forward.used.add(token)
                return levels
        return index_bar.open, index_bar.high, index_bar.low, index_bar.close

    def last_price(self, token: str, now: datetime) -> tuple[float, datetime, int, int | None] | None:
        """(price, as-of time, volume, open interest) of the contract at `now`; None without one."""
        option_day = self.day_of(token)
        if option_day is None:
            return None
        contract = option_day.contracts[token]
        if option_day.status == REAL:
            bars = option_day.bars_of(token)
            index = bars.last_closed(now) if bars is not None else None
            if bars is None or index is None:
                return None
            self.priced[token] = REAL
            return (
                bars.closes[index],
                bars.ends[index],
                bars.volumes[index],
                bars.open_interest[index] or None,
            )
        spot, vix = self._model_spot(token, option_day.underlying, now), self._vix()
        if spot is None or vix is None:
            return None
        self.priced[token] = SYNTHETIC
        price, interest = self._valued(contract, now, spot, vix)
        return price, now, 0, interest

    def fill_bars(self, token: str, start: datetime, end: datetime, index_bar: Bar | None) -> list[BarPrices]:
        """The contract's bars starting in [start, end): its own (real), or one modelled from the
        underlying's bar over the same interval (`index_bar`; None: no bar, nothing fills)."""
        option_day = self.day_of(token)
        if option_day is None:
            return []
        if option_day.status == REAL:
            bars = option_day.bars_of(token)
            found = bars.between(start, end) if bars is not None else []
            if found:
                self.priced[token] = REAL
            return found
        vix = self._vix()
        if index_bar is None or vix is None:
            return []
        self.priced[token] = SYNTHETIC
        contract = option_day.contracts[token]
        at_start = index_bar.start_utc
        open_, high, low, close = self._model_levels(token, option_day.underlying, index_bar)
        values = [self._model(contract, at_start, level, vix) for level in (high, low)]
        opening = self._model(contract, at_start, open_, vix)
        closing = self._model(contract, index_bar.end_utc, close, vix)
        return [
            BarPrices(
                at_start,
                opening,
                max(*values, opening, closing),
                min(*values, opening, closing),
                closing,
                None,
            )
        ]


__all__ = [
    "MISSING",
    "REAL",
    "SYNTHETIC",
    "ContractBars",
    "OptionBarSource",
    "OptionDay",
    "OptionPrices",
]

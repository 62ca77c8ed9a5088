"""Work every backtest of one process would repeat identically, done once and shared.

An optimisation runs hundreds of backtests of the same sessions that differ only in a strategy's
parameters: each lists the same contracts every morning and values the same modelled contract at the
same bar with the same inputs. What those depend on is data and model, never a trial's parameters, so
the results are kept here, per process (forked research workers inherit what the parent computed),
and every backtest reads them. Nothing here changes a result: each entry is keyed by every input its
value is computed from, so a cached run's report is byte-identical to a cold one
(tests/backtest/test_shared_cache.py compares them).

* Model valuations (`valuations`): the synthetic model's price (on the tick grid) and modelled open
  interest of a contract at a moment, keyed by the contract (its underlying, expiry, strike, side,
  lot size, tick size and token), the moment (time to expiry), the spot (the forward is the spot
  carried by the model's fitted rate) and INDIA VIX (the volatility input), in one table per model:
  per calibration parameters *and* calendar object (the time to expiry counts the calendar's
  sessions), compared by identity, so another calibration or calendar never reads these values.
* Listings (`listings`): the contracts the model lists for an underlying on a day, keyed by the day,
  the reference price that centres the strikes, the listing settings and the calendar.
* Parsed contracts (`listed_contracts`): a listed contract's instrument-master row by token, with
  the contract object it was parsed from (the kernel re-parses when the object is another one).

Each table is bounded (`MemoTable.limit`): when full it is emptied and refilled, which costs time,
never a different value. Everything cached is immutable (frozen dataclasses, tuples, floats).
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Generic, TypeVar

from optbot.analytics.synthetic import SyntheticOptionModel
from optbot.analytics.synthetic_params import CalibrationParams
from optbot.calendar import NseCalendar
from optbot.core.instrument import Instrument
from optbot.engine.market import forget_solved
from optbot.sim.market.instruments import OptionContract

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")

#: A year of 15-minute sessions over the contracts a strategy holds, watches or fills is ~100 k model
#: valuations; an entry costs about 300 bytes, so a full table is ~150 MB in each process.
VALUATIONS_LIMIT = 500_000
#: An underlying-day's listing is ~1,000 contracts: a few years of days for a few underlyings.
LISTINGS_LIMIT = 4_000
#: Distinct contracts listed over a few years of days.
PARSED_LIMIT = 200_000


class MemoTable(Generic[Key, Value]):
    """A dict with a size bound: full, it starts again empty (the values are recomputed on demand)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: dict[Key, Value] = {}

    def get(self, key: Key) -> Value | None:
        return self.entries.get(key)

    def put(self, key: Key, value: Value) -> Value:
        entries = self.entries
        if len(entries) >= self.limit:
            entries.clear()
        entries[key] = value
        return value

    def __len__(self) -> int:
        return len(self.entries)


#: (contract, moment, spot, INDIA VIX) -> (price on the tick grid, modelled open interest)
ValuationKey = tuple[OptionContract, datetime, float, float]
Valuations = MemoTable[ValuationKey, tuple[float, int]]
#: (underlying, day ordinal, reference price, weekly, monthly, inner band, outer band)
ListingKey = tuple[str, int, float, int, int, float, float]

_by_model: dict[tuple[int, int, str | None], tuple[CalibrationParams, NseCalendar, Valuations]] = {}
_listings: dict[int, tuple[NseCalendar, MemoTable[ListingKey, tuple[OptionContract, ...]]]] = {}
_listed: dict[str, tuple[OptionContract, Instrument]] = {}


def valuations(model: SyntheticOptionModel) -> Valuations:
    """The valuation table of `model`'s calibration parameters, calendar and recent-returns source
    (by identity: a model built again from the same cached parameters and calendar, reading the same
    data root's returns, shares it)."""
    params, calendar = model.params, model.calendar
    key = (id(params), id(calendar), model.returns_identity)
    found = _by_model.get(key)
    if found is None or found[0] is not params or found[1] is not calendar:
        found = _by_model[key] = (params, calendar, MemoTable(VALUATIONS_LIMIT))
    return found[2]


def listings(calendar: NseCalendar) -> MemoTable[ListingKey, tuple[OptionContract, ...]]:
    """The listing table of `calendar` (by identity: expiries and strikes follow its sessions)."""
    found = _listings.get(id(calendar))
    if found is None or found[0] is not calendar:
        found = _listings[id(calendar)] = (calendar, MemoTable(LISTINGS_LIMIT))
    return found[1]


def listed_contracts() -> dict[str, tuple[OptionContract, Instrument]]:
    """token -> (contract, its parsed instrument-master row), for a backtest starting now to read and
    add to (bounded here, at the start of each backtest: emptied when over `PARSED_LIMIT`)."""
    if len(_listed) > PARSED_LIMIT:
        _listed.clear()
    return _listed


def clear() -> None:
    """Forget everything, with the engine's solved implied volatilities (`optbot.engine.market`),
    the other table a process's backtests share (tests and benchmarks start cold with it)."""
    _by_model.clear()
    _listings.clear()
    _listed.clear()
    forget_solved()


__all__ = [
    "MemoTable",
    "ValuationKey",
    "Valuations",
    "clear",
    "listed_contracts",
    "listings",
    "valuations",
]

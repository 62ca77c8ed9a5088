"""An option chain for one underlying and expiry, built from listed contracts only.

ATM is the nearest *listed* strike to the underlying's LTP; ITM/OTM steps walk listed strikes, so a
wider spacing far from the money (or a missing strike) is respected instead of assumed away.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, overload

from optbot.core.enums import OptionType
from optbot.core.instrument import Instrument


def nearest_strike_index(strikes: Sequence[float], price: float) -> int:
    """Index of the strike nearest `price` in `strikes` (ascending, not empty); a tie goes to the lower
    strike. The one ATM rule: `OptionChain.atm` and the sentiment snapshot's ATM
    (`optbot.analytics.sentiment.nearest_strike`) both pick with it, so they never disagree."""
    position = bisect.bisect_left(strikes, price)
    if position == 0:
        return 0
    if position == len(strikes):
        return len(strikes) - 1
    below, above = strikes[position - 1], strikes[position]
    return position - 1 if price - below <= above - price else position


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """Market values for one contract; any field may be unknown (spec §2.1.0: proceed without)."""

    ltp: float | None = None
    open_interest: int | None = None
    volume: int | None = None
    implied_volatility: float | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None


@dataclass(frozen=True, slots=True)
class ChainRow:
    strike: float
    call: Instrument | None
    put: Instrument | None
    call_quote: OptionQuote | None = None
    put_quote: OptionQuote | None = None

    def contract(self, option_type: OptionType) -> Instrument | None:
        return self.call if option_type is OptionType.CE else self.put

    def quote(self, option_type: OptionType) -> OptionQuote | None:
        return self.call_quote if option_type is OptionType.CE else self.put_quote


#: Quotes one contract on demand (None: no quote known).
QuoteLookup = Callable[[Instrument], "OptionQuote | None"]

#: Where a `ChainRow` keeps its quotes (its slots): a row quoted on read fills them when first asked.
_CALL_QUOTE_SLOT = ChainRow.__dict__["call_quote"]
_PUT_QUOTE_SLOT = ChainRow.__dict__["put_quote"]


class _RowQuotedOnRead(ChainRow):
    """A chain row whose call and put are each quoted the first time that quote is read: a strategy
    picking a contract from a row reads its instruments, not its quotes, and pricing a contract (its
    implied volatility and Greeks solved) is what a chain costs. Equal to the `ChainRow` with the
    same strike, contracts and quotes."""

    __slots__ = ("_lookup",)
    _lookup: QuoteLookup

    def __init__(self, base: ChainRow, lookup: QuoteLookup) -> None:
        object.__setattr__(self, "strike", base.strike)
        object.__setattr__(self, "call", base.call)
        object.__setattr__(self, "put", base.put)
        object.__setattr__(self, "_lookup", lookup)

    def _quoted(self, slot: Any, contract: Instrument | None) -> OptionQuote | None:
        try:
            found: OptionQuote | None = slot.__get__(self, ChainRow)
        except AttributeError:  # not read yet
            found = self._lookup(contract) if contract is not None else None
            slot.__set__(self, found)
        return found

    @property
    def call_quote(self) -> OptionQuote | None:
        return self._quoted(_CALL_QUOTE_SLOT, self.call)

    @property
    def put_quote(self) -> OptionQuote | None:
        return self._quoted(_PUT_QUOTE_SLOT, self.put)

    def _fields(self) -> tuple[object, ...]:
        return (self.strike, self.call, self.put, self.call_quote, self.put_quote)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ChainRow):
            return self._fields() == (other.strike, other.call, other.put, other.call_quote, other.put_quote)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"ChainRow(strike={self.strike!r}, call={self.call!r}, put={self.put!r}, "
            f"call_quote={self.call_quote!r}, put_quote={self.put_quote!r})"
        )


class _QuotedOnRead(Sequence[ChainRow]):
    """A chain's rows whose quotes are looked up the first time each is read (`_RowQuotedOnRead`), so
    a strategy that reads one strike of a chain pays for that strike's quotes only."""

    __slots__ = ("_base", "_done", "_lookup")

    def __init__(self, base: Sequence[ChainRow], lookup: QuoteLookup) -> None:
        self._base = base
        self._lookup = lookup
        self._done: list[ChainRow | None] = [None] * len(base)

    def __len__(self) -> int:
        return len(self._base)

    def _quoted(self, index: int) -> ChainRow:
        row = self._done[index]
        if row is None:
            row = self._done[index] = _RowQuotedOnRead(self._base[index], self._lookup)
        return row

    @overload
    def __getitem__(self, index: int) -> ChainRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[ChainRow]: ...

    def __getitem__(self, index: int | slice) -> ChainRow | list[ChainRow]:
        if isinstance(index, slice):
            return [self._quoted(position) for position in range(len(self._base))[index]]
        if index < 0:
            index += len(self._base)
        if not 0 <= index < len(self._base):
            raise IndexError("chain row index out of range")
        return self._quoted(index)


def _nearest_by_ranking(strikes: Sequence[float], count: int, around: float) -> list[float]:
    """The first `count` of `strikes` ranked by (distance from `around`, strike), in strike order."""
    ranked = sorted(strikes, key=lambda strike: (abs(strike - around), strike))
    return sorted(ranked[:count])


class OptionChain:
    def __init__(
        self,
        underlying: str,
        expiry: date,
        contracts: Iterable[Instrument],
        quotes: Mapping[str, OptionQuote] | None = None,
    ) -> None:
        self.underlying = underlying
        self.expiry = expiry
        rows: dict[float, dict[OptionType, Instrument]] = {}
        for contract in contracts:
            if contract.strike is None or contract.option_type is None or contract.expiry != expiry:
                continue
            rows.setdefault(contract.strike, {})[contract.option_type] = contract
        quotes = quotes or {}
        built: list[ChainRow] = []
        for strike in sorted(rows):
            call = rows[strike].get(OptionType.CE)
            put = rows[strike].get(OptionType.PE)
            built.append(
                ChainRow(
                    strike,
                    call,
                    put,
                    quotes.get(call.token) if call else None,
                    quotes.get(put.token) if put else None,
                )
            )
        self.rows: Sequence[ChainRow] = built
        self.strikes: list[float] = [row.strike for row in built]

    def __len__(self) -> int:
        return len(self.rows)

    def with_quotes(self, quotes: Mapping[str, OptionQuote]) -> OptionChain:
        chain = OptionChain(self.underlying, self.expiry, ())
        chain.rows = [
            ChainRow(
                row.strike,
                row.call,
                row.put,
                quotes.get(row.call.token, row.call_quote) if row.call else None,
                quotes.get(row.put.token, row.put_quote) if row.put else None,
            )
            for row in self.rows
        ]
        chain.strikes = list(self.strikes)
        return chain

    def with_quote_lookup(self, lookup: QuoteLookup) -> OptionChain:
        """A copy whose quotes come from `lookup` the first time each is read (read the chain during
        the event that asked for it: a lookup reads the prices of the moment it runs)."""
        chain = OptionChain(self.underlying, self.expiry, ())
        chain.rows = _QuotedOnRead(self.rows, lookup)
        chain.strikes = list(self.strikes)
        return chain

    def _require_strikes(self) -> None:
        if not self.strikes:
            raise LookupError(f"no listed strikes for {self.underlying} {self.expiry.isoformat()}")

    def atm_index(self, underlying_ltp: float) -> int:
        """Index of the nearest listed strike; a tie goes to the lower strike (deterministic)."""
        self._require_strikes()
        if underlying_ltp <= 0:
            raise ValueError(f"underlying LTP must be positive, got {underlying_ltp}")
        return nearest_strike_index(self.strikes, underlying_ltp)

    def atm(self, underlying_ltp: float) -> float:
        return self.strikes[self.atm_index(underlying_ltp)]

    def row(self, strike: float) -> ChainRow:
        position = bisect.bisect_left(self.strikes, strike)
        if position < len(self.strikes) and self.strikes[position] == strike:
            return self.rows[position]
        raise LookupError(f"strike {strike:g} is not listed for {self.underlying} {self.expiry}")

    def strike_step(self, around: float) -> float:
        """Spacing of listed strikes next to `around` (strikes widen away from the money)."""
        self._require_strikes()
        if len(self.strikes) < 2:
            return 0.0
        index = self.atm_index(around)
        neighbours = [
            abs(self.strikes[i] - self.strikes[index])
            for i in (index - 1, index + 1)
            if 0 <= i < len(self.strikes)
        ]
        return min(neighbours)

    def _offset(self, underlying_ltp: float, steps: int) -> float:
        index = self.atm_index(underlying_ltp) + steps
        if not 0 <= index < len(self.strikes):
            raise LookupError(
                f"{abs(steps)} strikes from ATM is outside the listed strikes of {self.underlying} "
                f"{self.expiry.isoformat()}"
            )
        return self.strikes[index]

    def itm(self, n: int, option_type: OptionType, underlying_ltp: float) -> float:
        """The n-th listed strike in the money: below ATM for calls, above for puts."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return self._offset(underlying_ltp, -n if option_type is OptionType.CE else n)

    def otm(self, n: int, option_type: OptionType, underlying_ltp: float) -> float:
        """The n-th listed strike out of the money: above ATM for calls, below for puts."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return self._offset(underlying_ltp, n if option_type is OptionType.CE else -n)

    def strikes_within(self, points: float, around: float) -> list[float]:
        """Listed strikes within ±points of `around` (usually the ATM strike)."""
        low = bisect.bisect_left(self.strikes, around - points - 1e-9)
        high = bisect.bisect_right(self.strikes, around + points + 1e-9)
        return self.strikes[low:high]

    def nearest_strikes(self, count: int, around: float) -> list[float]:
        """The `count` listed strikes closest to `around` (a tie to the lower strike), in strike order.

        Only the strikes within `count` places either side of `around` can be among them (listed
        strikes are sorted, so the distance never shrinks away from `around`), so only those are
        ranked: a subscription refresh asks for a few strikes of a chain of hundreds. Below
        `around` the window takes in any strike further out at the edge's distance (distances that
        round alike): the lower strike wins that tie. Above it, such a strike loses it anyway."""
        strikes = self.strikes
        if count <= 0 or not math.isfinite(around):
            return _nearest_by_ranking(strikes, count, around)
        position = bisect.bisect_left(strikes, around)
        low, high = max(position - count, 0), min(position + count, len(strikes))
        while low > 0 and abs(strikes[low - 1] - around) == abs(strikes[low] - around):
            low -= 1
        return _nearest_by_ranking(strikes[low:high], count, around)

    def liquid(self, option_type: OptionType, min_open_interest: int, min_volume: int = 0) -> list[ChainRow]:
        """Rows whose contract has a quote meeting both thresholds; no quote = not known liquid."""
        kept: list[ChainRow] = []
        for row in self.rows:
            quote = row.quote(option_type)
            if row.contract(option_type) is None or quote is None:
                continue
            if (quote.open_interest or 0) < min_open_interest:
                continue
            if (quote.volume or 0) < min_volume:
                continue
            kept.append(row)
        return kept

    def is_liquid(
        self, strike: float, option_type: OptionType, min_open_interest: int, min_volume: int
    ) -> bool:
        try:
            quote = self.row(strike).quote(option_type)
        except LookupError:
            return False
        return (
            quote is not None
            and (quote.open_interest or 0) >= min_open_interest
            and (quote.volume or 0) >= min_volume
        )

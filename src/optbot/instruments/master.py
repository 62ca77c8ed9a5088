"""The in-memory instrument master: lookups by token, symbol, underlying and expiry.

Index and INDIA VIX tokens are resolved from the master's AMXIDX rows, never hard-coded. A master
built from a stale cache (spec §8.1) still answers lookups, but `is_tradeable` refuses its tokens.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from optbot.core.enums import Exchange, InstrumentKind, OptionType
from optbot.core.instrument import Instrument, InstrumentKey

log = logging.getLogger("optbot.instruments.master")

#: Common names people type for an index → the master's `name` field.
INDEX_ALIASES = {
    "NIFTY 50": "NIFTY",
    "NIFTY50": "NIFTY",
    "NIFTY BANK": "BANKNIFTY",
    "BANK NIFTY": "BANKNIFTY",
    "NIFTY FIN SERVICE": "FINNIFTY",
    "VIX": "INDIA VIX",
    "INDIAVIX": "INDIA VIX",
}
_OPTION_KINDS = (InstrumentKind.OPTIDX, InstrumentKind.OPTSTK)


def index_name(symbol: str) -> str:
    """The underlying name an index row's symbol stands for: "Nifty 50" -> NIFTY, "Nifty Bank" ->
    BANKNIFTY (a live feed's ticks carry the master's symbol, a backtest's the underlying's name)."""
    key = symbol.strip().upper()
    return INDEX_ALIASES.get(key, key)


class ExpiryKind(StrEnum):
    ANY = "any"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class InstrumentNotFound(LookupError):
    """A token or symbol is not in the master; it has been logged for review (spec §8.1)."""


@dataclass(frozen=True, slots=True)
class MasterInfo:
    """Where a master came from and whether it may be traded on."""

    as_of: date
    source: str
    stale: bool = False
    age_days: int = 0


class InstrumentMaster:
    def __init__(
        self,
        instruments: Iterable[Instrument],
        info: MasterInfo,
        on_missing: Callable[[str], None] | None = None,
    ) -> None:
        self.info = info
        self._on_missing = on_missing
        self._by_key: dict[InstrumentKey, Instrument] = {}
        self._by_token: dict[str, list[Instrument]] = defaultdict(list)
        self._by_symbol: dict[str, list[Instrument]] = defaultdict(list)
        self._options: dict[str, dict[date, list[Instrument]]] = defaultdict(lambda: defaultdict(list))
        self._indices: dict[str, list[Instrument]] = defaultdict(list)
        self.missing: set[str] = set()
        for instrument in instruments:
            self._by_key[instrument.key] = instrument
            self._by_token[instrument.token].append(instrument)
            self._by_symbol[instrument.symbol.upper()].append(instrument)
            if instrument.kind in _OPTION_KINDS and instrument.expiry is not None:
                self._options[instrument.underlying.upper()][instrument.expiry].append(instrument)
            elif instrument.kind is InstrumentKind.INDEX:
                self._indices[instrument.underlying.upper()].append(instrument)
                self._indices[instrument.symbol.upper()].append(instrument)
        for by_expiry in self._options.values():
            for contracts in by_expiry.values():
                contracts.sort(key=lambda item: (item.strike or 0.0, item.option_type or ""))

    def refresh(self, instruments: Iterable[Instrument], info: MasterInfo, today: date) -> list[Instrument]:
        """Take a newer download in place, so every holder of this master sees the new contracts.

        Contracts that expired before `today` leave; unexpired ones the download no longer lists stay
        (a listed strike trades until its expiry), and the download wins for a key in both. Returns
        the contracts that left, for callers to drop what they kept about them."""
        expired = [item for item in self._by_key.values() if item.expiry is not None and item.expiry < today]
        merged = {key: item for key, item in self._by_key.items() if item.expiry is not None}
        for item in expired:
            merged.pop(item.key, None)
        merged.update((item.key, item) for item in instruments)
        fresh = InstrumentMaster(merged.values(), info, self._on_missing)
        self.info = fresh.info
        self._by_key, self._by_token, self._by_symbol = fresh._by_key, fresh._by_token, fresh._by_symbol
        self._options, self._indices = fresh._options, fresh._indices
        return expired

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_key.values())

    def instruments(self) -> list[Instrument]:
        return list(self._by_key.values())

    # -- lookups -------------------------------------------------------------------------------

    def _missing(self, what: str) -> None:
        if what not in self.missing:
            self.missing.add(what)
            log.warning("instrument not in master (logged for review): %s", what)
            if self._on_missing is not None:
                self._on_missing(what)

    def get(self, exchange: Exchange, token: str) -> Instrument | None:
        return self._by_key.get(InstrumentKey(exchange, str(token)))

    def by_token(self, exchange: Exchange, token: str) -> Instrument:
        instrument = self.get(exchange, token)
        if instrument is None:
            self._missing(f"{exchange.value}:{token}")
            raise InstrumentNotFound(f"token {exchange.value}:{token} is not in the instrument master")
        return instrument

    def find_token(self, token: str) -> list[Instrument]:
        """Every instrument with this token (the same number exists on several exchanges)."""
        return list(self._by_token.get(str(token), ()))

    def by_symbol(self, symbol: str) -> Instrument:
        matches = self._by_symbol.get(symbol.strip().upper(), [])
        if not matches:
            self._missing(f"symbol {symbol}")
            raise InstrumentNotFound(f"symbol {symbol!r} is not in the instrument master")
        if len(matches) > 1:
            preferred = [item for item in matches if item.exchange in (Exchange.NSE, Exchange.NFO)]
            return (preferred or matches)[0]
        return matches[0]

    def search(self, text: str, limit: int = 50) -> list[Instrument]:
        """Case-insensitive substring search over symbol and underlying; exact matches first."""
        needle = text.strip().upper()
        if not needle:
            return []
        exact: list[Instrument] = []
        partial: list[Instrument] = []
        for instrument in self._by_key.values():
            symbol = instrument.symbol.upper()
            if symbol == needle or (instrument.underlying.upper() == needle and not instrument.is_option):
                exact.append(instrument)
            elif needle in symbol or needle in instrument.underlying.upper():
                partial.append(instrument)
        partial.sort(key=lambda item: (item.expiry or date.min, item.symbol))
        return (exact + partial)[:limit]

    def _index(self, name: str) -> Instrument:
        key = index_name(name)
        candidates = self._indices.get(key, [])
        if not candidates:
            self._missing(f"index {name}")
            raise InstrumentNotFound(f"no index row for {name!r} in the instrument master")
        # REST/historical use the 999xxxxx AMXIDX tokens on NSE (reference §9).
        candidates = sorted(candidates, key=lambda item: (item.exchange is not Exchange.NSE, item.token))
        return candidates[0]

    def index_instrument(self, underlying: str) -> Instrument:
        return self._index(underlying)

    def index_token(self, underlying: str) -> str:
        return self._index(underlying).token

    def vix_token(self, vix_name: str = "INDIA VIX") -> str:
        return self._index(vix_name).token

    # -- options -------------------------------------------------------------------------------

    def underlyings(self) -> list[str]:
        return sorted(self._options)

    def expiries(self, underlying: str) -> list[date]:
        return sorted(self._options.get(underlying.strip().upper(), {}))

    def options(self, underlying: str, expiry: date) -> list[Instrument]:
        return list(self._options.get(underlying.strip().upper(), {}).get(expiry, ()))

    def option(self, underlying: str, expiry: date, strike: float, option_type: OptionType) -> Instrument:
        for instrument in self.options(underlying, expiry):
            if instrument.strike == strike and instrument.option_type is option_type:
                return instrument
        what = f"{underlying} {expiry.isoformat()} {strike:g}{option_type.value}"
        self._missing(what)
        raise InstrumentNotFound(f"option {what} is not listed")

    def monthly_expiries(self, underlying: str) -> list[date]:
        """The last listed expiry of each calendar month is the monthly contract."""
        last_in_month: dict[tuple[int, int], date] = {}
        for expiry in self.expiries(underlying):
            last_in_month[(expiry.year, expiry.month)] = expiry
        return sorted(last_in_month.values())

    def nearest_expiry(
        self, underlying: str, on_or_after: date, kind: ExpiryKind = ExpiryKind.ANY
    ) -> date | None:
        """The first listed expiry on or after a date; WEEKLY = any listed expiry, MONTHLY = month's last."""
        listed = (
            self.monthly_expiries(underlying) if kind is ExpiryKind.MONTHLY else self.expiries(underlying)
        )
        position = bisect.bisect_left(listed, on_or_after)
        return listed[position] if position < len(listed) else None

    # -- trading gate --------------------------------------------------------------------------

    def is_tradeable(self, key: InstrumentKey, today: date) -> bool:
        """Refuse tokens from a stale master (spec §8.1) and contracts past expiry."""
        if self.info.stale:
            return False
        instrument = self._by_key.get(key)
        if instrument is None:
            self._missing(str(key))
            return False
        return instrument.expiry is None or instrument.expiry >= today

    def without_expired(self, today: date) -> InstrumentMaster:
        """A copy without contracts that expired before `today` (spec §13.7 purge)."""
        kept = [item for item in self._by_key.values() if item.expiry is None or item.expiry >= today]
        return InstrumentMaster(kept, self.info, self._on_missing)

"""The in-memory instrument master: lookups by token, symbol, underlying and expiry.

Index and INDIA VIX tokens are resolved from the master's AMXIDX rows, never hard-coded. A master
built from a stale cache (spec §8.1) still answers lookups, but `is_tradeable` refuses its tokens.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter, defaultdict
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


def _strike_order(item: Instrument) -> tuple[float, str]:
    return (item.strike or 0.0, item.option_type or "")


def _remove_same(items: list[Instrument], instrument: Instrument) -> bool:
    """Remove `instrument` itself (not an equal row) from `items`; False when it is not there."""
    for position, item in enumerate(items):
        if item is instrument:
            del items[position]
            return True
    return False


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
        #: How many rows of `_by_key` expire on each date, and how many have no expiry: a refresh
        #: with nothing expired and every undated row listed again need not look at every row.
        self._expiring: Counter[date] = Counter()
        self._undated = 0
        for instrument in instruments:
            self._put(instrument.key, instrument)
            self._index_rows(instrument)
        for by_expiry in self._options.values():
            for contracts in by_expiry.values():
                contracts.sort(key=_strike_order)

    def _put(self, key: InstrumentKey, instrument: Instrument) -> None:
        """`instrument` becomes the row of `key` (counted by expiry)."""
        held = self._by_key.get(key)
        if held is not None:
            self._uncount(held)
        self._by_key[key] = instrument
        if instrument.expiry is None:
            self._undated += 1
        else:
            self._expiring[instrument.expiry] += 1

    def _drop(self, instrument: Instrument) -> None:
        """`instrument`'s key leaves the master."""
        del self._by_key[instrument.key]
        self._uncount(instrument)

    def _uncount(self, instrument: Instrument) -> None:
        if instrument.expiry is None:
            self._undated -= 1
            return
        left = self._expiring[instrument.expiry] - 1
        if left:
            self._expiring[instrument.expiry] = left
        else:
            del self._expiring[instrument.expiry]

    def _leaving(self, listed: list[Instrument], today: date) -> tuple[list[Instrument], list[Instrument]]:
        """The rows a refresh removes, in the master's order: contracts that expired before `today`,
        and rows without an expiry the download (`listed`) does not carry. Without either (the usual
        backtest session: nothing expired overnight, the same index rows), no row is looked at."""
        keys = {item.key for item in listed if item.expiry is None}
        still_listed = sum(
            1 for key in keys if (held := self._by_key.get(key)) is not None and held.expiry is None
        )
        if still_listed == self._undated and all(expiry >= today for expiry in self._expiring):
            return [], []
        expired: list[Instrument] = []
        dropped: list[Instrument] = []
        for key, item in self._by_key.items():  # one pass over the master
            expiry = item.expiry
            if expiry is None:
                if key not in keys:
                    dropped.append(item)
            elif expiry < today:
                expired.append(item)
        return expired, dropped

    def _index_rows(self, instrument: Instrument) -> None:
        """File `instrument` under its token, symbol and option series or index names."""
        self._by_token[instrument.token].append(instrument)
        self._by_symbol[instrument.symbol.upper()].append(instrument)
        if instrument.kind in _OPTION_KINDS and instrument.expiry is not None:
            self._options[instrument.underlying.upper()][instrument.expiry].append(instrument)
        elif instrument.kind is InstrumentKind.INDEX:
            self._indices[instrument.underlying.upper()].append(instrument)
            self._indices[instrument.symbol.upper()].append(instrument)

    def _index_lists(self, instrument: Instrument) -> list[tuple[dict[str, list[Instrument]], str]]:
        """Where `_index_rows` filed `instrument`: (mapping, name) pairs of the lists holding it."""
        places = [(self._by_token, instrument.token), (self._by_symbol, instrument.symbol.upper())]
        if instrument.kind is InstrumentKind.INDEX:
            places.append((self._indices, instrument.underlying.upper()))
            places.append((self._indices, instrument.symbol.upper()))
        return places

    def _unindex_rows(self, instrument: Instrument) -> None:
        for mapping, name in self._index_lists(instrument):
            held = mapping.get(name)
            if held is not None and _remove_same(held, instrument) and not held:
                del mapping[name]
        if instrument.kind in _OPTION_KINDS and instrument.expiry is not None:
            by_expiry = self._options.get(instrument.underlying.upper())
            series = by_expiry.get(instrument.expiry) if by_expiry is not None else None
            if by_expiry is not None and series is not None and _remove_same(series, instrument):
                if not series:
                    del by_expiry[instrument.expiry]
                if not by_expiry:
                    del self._options[instrument.underlying.upper()]

    def refresh(self, instruments: Iterable[Instrument], info: MasterInfo, today: date) -> list[Instrument]:
        """Take a newer download in place, so every holder of this master sees the new contracts.

        Contracts that expired before `today` leave; unexpired ones the download no longer lists stay
        (a listed strike trades until its expiry), rows without an expiry (indices, equities) are the
        download's, and the download wins for a key in both. Returns the contracts that left, for
        callers to drop what they kept about them. Updated incrementally: a backtest refreshes every
        session with a listing that is mostly the previous day's, and unchanged rows cost a lookup."""
        listed = list(instruments)
        expired, dropped = self._leaving(listed, today)
        self._remove_expired(expired)
        for item in dropped:
            self._drop(item)
            self._unindex_rows(item)
        added: dict[tuple[str, date], int] = {}  # option series -> rows appended to it
        replaced: set[tuple[str, date]] = set()  # series that took a row under a key listed before
        for item in listed:
            if any(held is item for held in self._by_token.get(item.token, ())):
                continue  # the very row already listed (a replay hands back unchanged contracts)
            key = item.key
            held = self._by_key.get(key)
            if held == item:
                continue
            if held is not None:
                self._unindex_rows(held)
                replaced.update(self._series_of(held))
            self._put(key, item)
            self._index_rows(item)
            for series in self._series_of(item):
                added[series] = added.get(series, 0) + 1
                if held is not None:
                    replaced.add(series)
        self._order_series(added, replaced)
        self.info = info
        return expired

    def _remove_expired(self, expired: list[Instrument]) -> None:
        """Take out the rows that expired (`_leaving`): every row of an expiry before today leaves,
        so each of those expiries' option series and row counts go whole, and a row costs its key's
        and its names' entries, not a search of its series (a weekly expiry takes a few hundred rows
        with it)."""
        options = self._options
        for item in expired:
            del self._by_key[item.key]
            for mapping, name in self._index_lists(item):
                held = mapping.get(name)
                if held is not None and _remove_same(held, item) and not held:
                    del mapping[name]
        dated = {(item.underlying.upper(), item.expiry) for item in expired if item.expiry is not None}
        for underlying, expiry in dated:
            by_expiry = options.get(underlying)
            if by_expiry is not None and by_expiry.pop(expiry, None) is not None and not by_expiry:
                del options[underlying]
        for expiry in {expiry for _, expiry in dated}:
            del self._expiring[expiry]

    @staticmethod
    def _series_of(instrument: Instrument) -> tuple[tuple[str, date], ...]:
        """The option series (underlying, expiry) `instrument` is filed under, if any."""
        if instrument.kind in _OPTION_KINDS and instrument.expiry is not None:
            return ((instrument.underlying.upper(), instrument.expiry),)
        return ()

    def _order_series(self, added: dict[tuple[str, date], int], replaced: set[tuple[str, date]]) -> None:
        """Put the rows `refresh` appended to each option series in the place a rebuild gives them: by
        strike and side, equal strikes (a malformed download) in the master's row order. A new key
        comes after every row already listed, so it goes after its equal strikes (a binary search in
        the sorted series); a key listed before keeps its old place in the master, so a series that
        took one is sorted again whole."""
        position: dict[int, int] | None = None
        for (underlying, expiry), count in added.items():
            rows = self._options.get(underlying, {}).get(expiry)
            if not rows:
                continue  # its rows were replaced by rows of another series
            if (underlying, expiry) in replaced:
                if position is None:
                    position = {id(item): index for index, item in enumerate(self._by_key.values())}
                order = position
                rows.sort(key=lambda item: (*_strike_order(item), order[id(item)]))
                continue
            if count * len(rows).bit_length() > len(rows):
                # most of the series is new (a new expiry listed): one stable sort keys each row once
                # and leaves what the insertions below would (equal strikes in the master's order)
                rows.sort(key=_strike_order)
                continue
            appended = rows[-count:]
            del rows[-count:]
            for item in appended:
                bisect.insort_right(rows, item, key=_strike_order)

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

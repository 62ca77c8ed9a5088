"""The tradable-instrument value type. Parsed from the broker's master by `optbot.instruments`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from optbot.core.enums import Exchange, InstrumentKind, OptionType, Settlement


@dataclass(frozen=True, slots=True)
class InstrumentKey:
    exchange: Exchange
    token: str

    def __str__(self) -> str:
        return f"{self.exchange.value}:{self.token}"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One row of the instrument master, normalised.

    Prices in rupees; `tick_size` in rupees (the master's paise value / 100); `strike` in rupees.
    `lot_size`, `tick_size` and `freeze_quantity` come from the master, never from code.
    """

    token: str
    exchange: Exchange
    symbol: str
    underlying: str
    kind: InstrumentKind
    lot_size: int
    tick_size: float
    expiry: date | None = None
    strike: float | None = None
    option_type: OptionType | None = None
    freeze_quantity: int | None = None

    @property
    def key(self) -> InstrumentKey:
        return InstrumentKey(self.exchange, self.token)

    @property
    def is_option(self) -> bool:
        return self.option_type is not None

    @property
    def settlement(self) -> Settlement:
        """Index derivatives settle in cash; stock derivatives by physical delivery."""
        if self.kind in (InstrumentKind.OPTSTK, InstrumentKind.FUTSTK, InstrumentKind.EQUITY):
            return Settlement.PHYSICAL
        return Settlement.CASH


def option_symbol(underlying: str, expiry: date, strike: float, option_type: str) -> str:
    """Angel One NFO/BFO trading symbol, e.g. NIFTY09SEP2524500CE (reference §9).

    Whole-rupee strikes print without decimals; a fractional strike (some stock options) keeps
    its fraction (e.g. 112.5)."""
    strike_text = str(round(strike)) if float(strike).is_integer() else f"{strike:g}"
    return f"{underlying}{_symbol_expiry(expiry)}{strike_text}{option_type}"


@lru_cache(maxsize=1024)
def _symbol_expiry(expiry: date) -> str:
    """The expiry as a trading symbol spells it (09SEP25): formatted once per expiry, as a listing
    names every strike of an expiry."""
    return expiry.strftime("%d%b%y").upper()

"""Demat holdings of a simulated account: seeded ones, and DELIVERY buys settled T+1.

Settlement model (docs/simulator.md, "Holdings"): a DELIVERY buy of an NSE/BSE cash instrument on
trading day T is a position on T. At the first session roll after T its net quantity moves into
holdings as T1 quantity (`t1quantity`) and counts as settled (`realisedquantity`) once a session
date later than T's next trading day begins. A net DELIVERY sell reduces the holding (settled
quantity first, then T1). `quantity` is settled + T1. `authorisedquantity` is what EDIS
(`verifyDis`) authorised for the current session; it resets at every session roll.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from optbot.sim.auth import HoldingSeed
from optbot.sim.exchange.instruments import InstrumentSpec

CASH_SEGMENTS = frozenset({"NSE", "BSE"})
ISIN_LENGTH = 12
UNLISTED_TICK_SIZE = 0.05  # rupees; NSE's equity tick for a holding outside the replayed master


def is_cash_instrument(spec: InstrumentSpec) -> bool:
    """An equity a demat account can hold: NSE/BSE cash, not an index, no expiry."""
    return spec.exchange in CASH_SEGMENTS and spec.expiry is None and not spec.is_index


def unlisted_equity_spec(seed: HoldingSeed) -> InstrumentSpec:
    """A cash-equity spec for a seeded holding the replayed market does not list (no quotes: valued
    at its average price). Only reachable with an explicit `symboltoken`."""
    symbol = seed.tradingsymbol.strip().upper()
    return InstrumentSpec(
        exchange=seed.exchange.upper(),
        token=seed.symboltoken,
        symbol=symbol,
        name=symbol.removesuffix("-EQ"),
        instrument_type="",
        expiry=None,
        expiry_text="",
        strike=-1.0,
        lot_size=1,
        tick_size=UNLISTED_TICK_SIZE,
        freeze_quantity=0,
    )


def isin_check_digit(first_eleven: str) -> str:
    """ISO 6166 check digit: letters become 10..35, then the Luhn sum over the digit string."""
    digits = "".join(str(int(character, 36)) for character in first_eleven.upper())
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def is_valid_isin(isin: str) -> bool:
    if len(isin) != ISIN_LENGTH or not isin[:2].isalpha() or not isin.isalnum() or not isin[-1].isdigit():
        return False
    return isin_check_digit(isin[:11]) == isin[-1]


def synthetic_isin(token: str) -> str:
    """A well-formed, deterministic INE… ISIN for a simulator equity that was given none (labelled
    synthetic in docs/simulator.md; real ISINs come from holding seeds)."""
    body = f"INE{token[-6:]:0>6}01"
    return body + isin_check_digit(body)


def seed_problems(seed: HoldingSeed) -> list[str]:
    """Everything wrong with a holding seed, each naming the bad value (empty = fine)."""
    found = []
    if seed.exchange.upper() not in CASH_SEGMENTS:
        found.append(f"exchange must be NSE or BSE for a holding, got {seed.exchange!r}")
    if not seed.tradingsymbol.strip():
        found.append("tradingsymbol is empty")
    if seed.quantity <= 0:
        found.append(f"quantity must be a positive number of shares, got {seed.quantity}")
    if seed.average_price <= 0:
        found.append(f"average_price must be positive rupees, got {seed.average_price}")
    if seed.symboltoken and not seed.symboltoken.isdigit():
        found.append(f"symboltoken must be the numeric scrip token, got {seed.symboltoken!r}")
    if seed.isin and not is_valid_isin(seed.isin.upper()):
        found.append(f"isin {seed.isin!r} is not a valid 12-character ISIN (bad format or check digit)")
    return found


@dataclass
class T1Lot:
    quantity: int
    settles_after: date  # counted as settled once the session date is later than this


@dataclass
class SimHolding:
    spec: InstrumentSpec
    isin: str
    settled_quantity: int = 0
    average_price: float = 0.0
    t1_lots: list[T1Lot] = field(default_factory=list)
    authorised_quantity: int = 0

    @property
    def t1_quantity(self) -> int:
        return sum(lot.quantity for lot in self.t1_lots)

    @property
    def quantity(self) -> int:
        return self.settled_quantity + self.t1_quantity

    def add(self, quantity: int, price: float, settles_after: date | None) -> None:
        """Book bought shares at `price`; `settles_after=None` means already settled (a seed)."""
        total = self.quantity + quantity
        self.average_price = (self.quantity * self.average_price + quantity * price) / total
        if settles_after is None:
            self.settled_quantity += quantity
        else:
            self.t1_lots.append(T1Lot(quantity, settles_after))

    def remove(self, quantity: int) -> int:
        """Take sold shares out (settled first, then the newest T1); returns how many were held."""
        taken = min(quantity, self.settled_quantity)
        self.settled_quantity -= taken
        while taken < quantity and self.t1_lots:
            lot = self.t1_lots[-1]
            part = min(lot.quantity, quantity - taken)
            lot.quantity -= part
            taken += part
            if lot.quantity == 0:
                self.t1_lots.pop()
        self.authorised_quantity = min(self.authorised_quantity, self.quantity)
        return taken

    def settle(self, today: date) -> None:
        due = [lot for lot in self.t1_lots if today > lot.settles_after]
        self.t1_lots = [lot for lot in self.t1_lots if today <= lot.settles_after]
        self.settled_quantity += sum(lot.quantity for lot in due)

    def values(self, ltp: float | None) -> tuple[float, float, float]:
        """(current value, invested value, profit and loss) in rupees."""
        price = ltp if ltp is not None else self.average_price
        invested = self.quantity * self.average_price
        current = self.quantity * price
        return current, invested, current - invested

    def row(self, ltp: float | None, close: float | None) -> dict[str, Any]:
        """Reference §3 "Holding row" (numbers, as recorded)."""
        _, invested, pnl = self.values(ltp)
        return {
            "tradingsymbol": self.spec.symbol,
            "exchange": self.spec.exchange,
            "isin": self.isin,
            "t1quantity": self.t1_quantity,
            "realisedquantity": self.settled_quantity,
            "quantity": self.quantity,
            "authorisedquantity": self.authorised_quantity,
            "product": "DELIVERY",
            "collateralquantity": None,
            "collateraltype": None,
            "haircut": 0,
            "averageprice": round(self.average_price, 2),
            "ltp": round(ltp if ltp is not None else self.average_price, 2),
            "symboltoken": self.spec.token,
            "close": round(close, 2) if close is not None else 0,
            "profitandloss": round(pnl, 2),
            "pnlpercentage": round(pnl / invested * 100, 2) if invested else 0,
        }


@dataclass
class HoldingsBook:
    """One account's holdings, keyed by (exchange, token)."""

    holdings: dict[tuple[str, str], SimHolding] = field(default_factory=dict)

    def holding(self, spec: InstrumentSpec, isin: str = "") -> SimHolding:
        key = (spec.exchange, spec.token)
        if key not in self.holdings:
            self.holdings[key] = SimHolding(spec, isin or synthetic_isin(spec.token))
        return self.holdings[key]

    def seed(self, spec: InstrumentSpec, isin: str, quantity: int, average_price: float) -> SimHolding:
        holding = self.holding(spec, isin)
        holding.add(quantity, average_price, None)
        return holding

    def book_delivery(
        self, spec: InstrumentSpec, signed_quantity: int, price: float, settles_after: date
    ) -> None:
        if signed_quantity > 0:
            self.holding(spec).add(signed_quantity, price, settles_after)
            return
        holding = self.holdings.get((spec.exchange, spec.token))
        if holding is None:
            return
        holding.remove(-signed_quantity)
        if holding.quantity == 0:
            del self.holdings[(spec.exchange, spec.token)]

    def roll(self, today: date) -> None:
        """A new session: due T1 lots settle and yesterday's EDIS authorisations lapse."""
        for holding in self.holdings.values():
            holding.settle(today)
            holding.authorised_quantity = 0

    def by_isin(self, isin: str) -> SimHolding | None:
        wanted = isin.strip().upper()
        return next((h for h in self.holdings.values() if h.isin.upper() == wanted), None)

    def all(self) -> list[SimHolding]:
        return [holding for holding in self.holdings.values() if holding.quantity > 0]

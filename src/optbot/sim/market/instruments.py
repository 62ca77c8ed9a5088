"""The simulator's instrument master: index rows plus option contracts for every index of the universe.

NIFTY, BANKNIFTY, FINNIFTY and MIDCPNIFTY options trade on NSE's F&O segment (NFO); SENSEX options on
BSE's (BFO), with the SENSEX index itself on BSE.

Expiries come from the NSE calendar (listed weeklies + monthlies for the replayed date), strikes
are spaced finely near the money and wider far out, and lot size / freeze quantity follow the
exchange's revisions by date. Tokens are a pure function of (underlying, expiry, strike, side),
so the same contract has the same token on every replayed day and across runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from optbot.calendar import NseCalendar
from optbot.core.instrument import option_symbol
from optbot.instruments.scripmaster import format_expiry

OPTION_TICK_SIZE = 0.05
_TOKEN_EPOCH = date(2015, 1, 1)
_TOKEN_DAYS = 5000
_TOKEN_STRIKES = 4000


@dataclass(frozen=True, slots=True)
class LotRule:
    """From `effective` (trade date) on, contracts expiring on/after `first_expiry` trade in `lot_size`."""

    effective: date
    first_expiry: date
    lot_size: int


@dataclass(frozen=True, slots=True)
class FreezeRule:
    effective: date
    freeze_quantity: int


@dataclass(frozen=True, slots=True)
class UnderlyingSpec:
    name: str
    index_token: str
    index_symbol: str
    token_code: int
    inner_strike_step: int
    outer_strike_step: int
    lot_rules: tuple[LotRule, ...]
    freeze_rules: tuple[FreezeRule, ...]
    exchange: str = "NFO"  # the options' segment: NFO (NSE) or BFO (BSE)
    token_strike_unit: int = 50  # the finest strike step ever listed (token packing must not collide)

    def lot_size(self, trade_date: date, expiry: date) -> int:
        """The last listed rule that applies (rules are in circular order)."""
        found = self.lot_rules[0].lot_size
        for rule in self.lot_rules:
            if trade_date >= rule.effective and expiry >= rule.first_expiry:
                found = rule.lot_size
        return found

    def freeze_quantity(self, trade_date: date) -> int:
        found = self.freeze_rules[0].freeze_quantity
        for rule in self.freeze_rules:
            if trade_date >= rule.effective:
                found = rule.freeze_quantity
        return found


# NSE circulars as best known (the live master is authoritative, which is why clients must read it):
# NIFTY 75 → 50 (Jul 2021) → 25 (Apr 2024) → 75 (2024-11-20) → 65 for contracts expiring from Jan 2026.
# BANKNIFTY 40 → 20 (2018) → 25 (2020) → 15 (Jul 2023) → 30 (2024-11-20) → 35 (mid 2025) → 30 (Jan 2026).
NIFTY = UnderlyingSpec(
    name="NIFTY",
    index_token="99926000",
    index_symbol="Nifty 50",
    token_code=0,
    inner_strike_step=50,
    outer_strike_step=100,
    lot_rules=(
        LotRule(date.min, date.min, 75),
        LotRule(date(2021, 7, 1), date.min, 50),
        LotRule(date(2024, 4, 26), date.min, 25),
        LotRule(date(2024, 11, 20), date.min, 75),
        LotRule(date(2025, 10, 1), date(2026, 1, 1), 65),
    ),
    freeze_rules=(FreezeRule(date.min, 2800), FreezeRule(date(2021, 7, 1), 1800)),
)
BANKNIFTY = UnderlyingSpec(
    name="BANKNIFTY",
    index_token="99926009",
    index_symbol="Nifty Bank",
    token_code=1,
    inner_strike_step=100,
    outer_strike_step=500,
    lot_rules=(
        LotRule(date.min, date.min, 40),
        LotRule(date(2018, 10, 26), date.min, 20),
        LotRule(date(2020, 5, 29), date.min, 25),
        LotRule(date(2023, 7, 1), date.min, 15),
        LotRule(date(2024, 11, 20), date.min, 30),
        LotRule(date(2025, 6, 27), date.min, 35),
        LotRule(date(2025, 10, 1), date(2026, 1, 1), 30),
    ),
    freeze_rules=(FreezeRule(date.min, 1200), FreezeRule(date(2023, 7, 1), 900)),
)
# FINNIFTY 40 (launch) → 25 (Apr 2024) → 65 (2024-11-20) → 60 for contracts expiring from Jan 2026.
FINNIFTY = UnderlyingSpec(
    name="FINNIFTY",
    index_token="99926037",
    index_symbol="Nifty Fin Service",
    token_code=2,
    inner_strike_step=50,
    outer_strike_step=100,
    lot_rules=(
        LotRule(date.min, date.min, 40),
        LotRule(date(2024, 4, 26), date.min, 25),
        LotRule(date(2024, 11, 20), date.min, 65),
        LotRule(date(2025, 10, 1), date(2026, 1, 1), 60),
    ),
    freeze_rules=(FreezeRule(date.min, 1800),),
)
# MIDCPNIFTY 75 (launch 2022) → 50 (Apr 2024) → 120 (2024-11-20) → 140 (mid 2025) → 120 (Jan 2026).
MIDCPNIFTY = UnderlyingSpec(
    name="MIDCPNIFTY",
    index_token="99926074",
    index_symbol="NIFTY MID SELECT",
    token_code=3,
    inner_strike_step=25,
    outer_strike_step=100,
    lot_rules=(
        LotRule(date.min, date.min, 75),
        LotRule(date(2024, 4, 26), date.min, 50),
        LotRule(date(2024, 11, 20), date.min, 120),
        LotRule(date(2025, 6, 27), date.min, 140),
        LotRule(date(2025, 10, 1), date(2026, 1, 1), 120),
    ),
    freeze_rules=(FreezeRule(date.min, 4200), FreezeRule(date(2024, 11, 20), 2800)),
    token_strike_unit=25,
)
# SENSEX (BSE, relaunched May 2023) 10 → 20 (2024-11-20); options on BFO.
SENSEX = UnderlyingSpec(
    name="SENSEX",
    index_token="99919000",
    index_symbol="SENSEX",
    token_code=4,
    inner_strike_step=100,
    outer_strike_step=500,
    lot_rules=(LotRule(date.min, date.min, 10), LotRule(date(2024, 11, 20), date.min, 20)),
    freeze_rules=(FreezeRule(date.min, 1000),),
    exchange="BFO",
)
UNDERLYINGS: dict[str, UnderlyingSpec] = {
    spec.name: spec for spec in (NIFTY, BANKNIFTY, FINNIFTY, MIDCPNIFTY, SENSEX)
}

VIX_TOKEN = "99926017"


def index_row(token: str, symbol: str, name: str, exchange: str = "NSE") -> dict[str, Any]:
    """One index row exactly as Angel One's OpenAPIScripMaster.json carries it."""
    return {
        "token": token,
        "symbol": symbol,
        "name": name,
        "expiry": "",
        "strike": "0.000000",
        "lotsize": "1",
        "instrumenttype": "AMXIDX",
        "exch_seg": exchange,
        "tick_size": "0.000000",
        "freeze_qty": "0",
        "is_cas_enabled": False,
    }


#: Index rows of the master (data/sample/broker excerpt). SENSEX is a BSE index (reference section 9's
#: row); its options trade on BFO.
INDEX_ROWS: tuple[dict[str, Any], ...] = (
    index_row("99926000", "Nifty 50", "NIFTY"),
    index_row("99926009", "Nifty Bank", "BANKNIFTY"),
    index_row(VIX_TOKEN, "India VIX", "INDIA VIX"),
    index_row("99926037", "Nifty Fin Service", "FINNIFTY"),
    index_row("99926074", "NIFTY MID SELECT", "MIDCPNIFTY"),
    # the BSE row of the excerpt carries no freeze quantity or CAS flag
    {
        key: value
        for key, value in index_row("99919000", "SENSEX", "SENSEX", exchange="BSE").items()
        if key not in ("freeze_qty", "is_cas_enabled")
    },
)


@dataclass(frozen=True, slots=True)
class OptionContract:
    token: str
    symbol: str
    underlying: str
    expiry: date
    strike: float
    option_type: str  # CE or PE
    lot_size: int
    freeze_quantity: int
    tick_size: float = OPTION_TICK_SIZE
    exchange: str = "NFO"  # NFO, or BFO for SENSEX

    @property
    def is_call(self) -> bool:
        return self.option_type == "CE"

    def scrip_row(self) -> dict[str, Any]:
        """Reference §9 row: strike x100 with 6 decimals, tick in paise, expiry DDMMMYYYY."""
        return {
            "token": self.token,
            "symbol": self.symbol,
            "name": self.underlying,
            "expiry": _master_expiry(self.expiry),
            "strike": f"{self.strike * 100:.6f}",
            "lotsize": str(self.lot_size),
            "instrumenttype": "OPTIDX",
            "exch_seg": self.exchange,
            "tick_size": f"{self.tick_size * 100:.6f}",
            "freeze_qty": str(self.freeze_quantity),
            "is_cas_enabled": False,
        }


@lru_cache(maxsize=1024)
def _master_expiry(expiry: date) -> str:
    """The expiry as the scrip master spells it (09SEP2025): formatted once per expiry, as a day's
    listing writes a row for every strike of an expiry."""
    return format_expiry(expiry)


def option_token(spec: UnderlyingSpec, expiry: date, strike: float, option_type: str) -> str:
    """Collision-free and stable: (underlying, expiry day, strike / the underlying's finest strike step,
    side) packed into one integer. A strike off that grid has no token (it would collide)."""
    day_index = (expiry - _TOKEN_EPOCH).days
    strike_index, off_grid = divmod(round(strike), spec.token_strike_unit)
    if off_grid or not 0 <= day_index < _TOKEN_DAYS or not 0 <= strike_index < _TOKEN_STRIKES:
        raise ValueError(f"cannot assign a token to {spec.name} {expiry} {strike} {option_type}")
    value = ((spec.token_code * _TOKEN_DAYS + day_index) * _TOKEN_STRIKES + strike_index) * 2
    return str(10_000_000 + value + (0 if option_type == "CE" else 1))


def listed_expiries(
    calendar: NseCalendar, underlying: str, trade_date: date, weekly_count: int, monthly_count: int
) -> list[date]:
    """The next `weekly_count` weeklies and `monthly_count` monthlies on/after the trade date."""
    end = min(trade_date + timedelta(days=31 * (monthly_count + 1)), calendar.last_date)
    weekly = calendar.expiries(underlying, trade_date, end, "weekly")[:weekly_count]
    monthly = calendar.expiries(underlying, trade_date, end, "monthly")[:monthly_count]
    return sorted(set(weekly) | set(monthly))


def listed_strikes(spec: UnderlyingSpec, reference: float, inner_pct: float, outer_pct: float) -> list[int]:
    """Fine steps within inner_pct of the reference, the wide step out to outer_pct."""
    strikes: set[int] = set()
    for step, pct in ((spec.inner_strike_step, inner_pct), (spec.outer_strike_step, outer_pct)):
        low = math.ceil(reference * (1 - pct / 100) / step) * step
        high = math.floor(reference * (1 + pct / 100) / step) * step
        strikes.update(range(int(low), int(high) + 1, step))
    return sorted(strike for strike in strikes if strike > 0)


#: (option type, its last bit in the token): CE even, PE odd, as `option_token` packs them.
_SIDES = (("CE", 0), ("PE", 1))

#: A strike's call and put.
StrikePair = tuple[OptionContract, OptionContract]


class ContractBook:
    """Every contract listed so far, by token, for `build_option_contracts` to hand back the contract
    built on an earlier day while it is unchanged (same lot and freeze quantity): a multi-day replay
    lists mostly the same contracts every day.

    It also files each listed strike's (call, put) under its series (underlying, expiry, lot, freeze
    quantity), so a day's listing of an expiry is one lookup per strike. A filed pair is always what
    the book holds for both tokens: a contract put in under a token (`book[token] = contract`, e.g.
    one read from an archive) takes its strike out of every series it was filed under."""

    def __init__(self) -> None:
        self._by_token: dict[str, OptionContract] = {}
        #: (underlying, expiry) -> (lot, freeze quantity) -> strike -> (call, put)
        self._series: dict[tuple[str, date], dict[tuple[int, int], dict[int, StrikePair]]] = {}

    def get(self, token: str) -> OptionContract | None:
        return self._by_token.get(token)

    def __getitem__(self, token: str) -> OptionContract:
        return self._by_token[token]

    def __setitem__(self, token: str, contract: OptionContract) -> None:
        self._by_token[token] = contract
        for pairs in self._series.get((contract.underlying, contract.expiry), {}).values():
            pairs.pop(round(contract.strike), None)

    def __len__(self) -> int:
        return len(self._by_token)

    def strikes(self, underlying: str, expiry: date, lot: int, freeze: int) -> dict[int, StrikePair]:
        """The pairs filed for one series (filled by `build_option_contracts`)."""
        by_terms = self._series.setdefault((underlying, expiry), {})
        found = by_terms.get((lot, freeze))
        if found is None:
            found = by_terms[(lot, freeze)] = {}
        return found


def build_option_contracts(
    spec: UnderlyingSpec,
    calendar: NseCalendar,
    trade_date: date,
    reference: float,
    weekly_count: int,
    monthly_count: int,
    inner_pct: float,
    outer_pct: float,
    known: ContractBook | None = None,
) -> list[OptionContract]:
    """The day's listed contracts, each expiry's strikes in order, call before put. `known` hands back
    a contract built on an earlier day when it is unchanged (same lot and freeze quantity), and
    learns the new ones: a multi-day replay lists mostly the same contracts every day, so with it a
    strike listed before costs one lookup."""
    contracts: list[OptionContract] = []
    freeze = spec.freeze_quantity(trade_date)
    strikes = listed_strikes(spec, reference, inner_pct, outer_pct)
    for expiry in listed_expiries(calendar, spec.name, trade_date, weekly_count, monthly_count):
        lot = spec.lot_size(trade_date, expiry)
        filed = known.strikes(spec.name, expiry, lot, freeze) if known is not None else {}
        for strike in strikes:
            pair = filed.get(strike)
            if pair is None:
                pair = _strike_pair(spec, expiry, strike, lot, freeze, known)
                if known is not None:
                    filed[strike] = pair
            contracts += pair
    return contracts


def _strike_pair(
    spec: UnderlyingSpec, expiry: date, strike: int, lot: int, freeze: int, known: ContractBook | None
) -> StrikePair:
    """A strike's call and put: the book's when unchanged, else built (and learnt by the book)."""
    token_value = int(option_token(spec, expiry, strike, "CE"))  # raises naming an off-grid contract
    built: list[OptionContract] = []
    for option_type, side in _SIDES:
        token = str(token_value + side)
        held = known.get(token) if known is not None else None
        if held is None or held.lot_size != lot or held.freeze_quantity != freeze:
            held = OptionContract(
                token=token,
                symbol=option_symbol(spec.name, expiry, strike, option_type),
                underlying=spec.name,
                expiry=expiry,
                strike=float(strike),
                option_type=option_type,
                lot_size=lot,
                freeze_quantity=freeze,
                exchange=spec.exchange,
            )
            if known is not None:
                known[token] = held
        built.append(held)
    return built[0], built[1]

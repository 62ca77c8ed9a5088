"""Deterministic `MarketView` fakes for simulator tests (no replay, quotes set by the test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

from optbot.core.clock import Clock
from optbot.core.timeutil import IST, to_ist
from optbot.sim.auth import SimAccount
from optbot.sim.contracts import SimDepthLevel, SimQuote

NIFTY_TOKEN = "99926000"
SBIN_TOKEN = "3045"
NIFTY_CE_TOKEN = "58784"
NIFTY_PE_TOKEN = "58785"
NIFTY_FUT_TOKEN = "57000"
NIFTY_CE_HEDGE_TOKEN = "58790"  # 24600 CE, a hedge for short 24400 calls

TEST_ACCOUNT = SimAccount(
    client_code="T1000001",
    pin="4321",
    totp_secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    api_key="testapikey",
    name="TEST TRADER",
    funds=500000.0,
)
SECOND_ACCOUNT = SimAccount(
    client_code="T1000002",
    pin="9876",
    totp_secret="MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK",
    api_key="otherapikey",
    funds=10000.0,
)


def _row(
    token: str,
    symbol: str,
    name: str,
    expiry: str,
    strike: str,
    lot: str,
    kind: str,
    exch: str,
    tick: str,
    freeze: str,
) -> dict[str, Any]:
    return {
        "token": token,
        "symbol": symbol,
        "name": name,
        "expiry": expiry,
        "strike": strike,
        "lotsize": lot,
        "instrumenttype": kind,
        "exch_seg": exch,
        "tick_size": tick,
        "freeze_qty": freeze,
        "is_cas_enabled": False,
    }


def static_scrip_master(expiry: str = "30DEC2026", *, with_hedge: bool = False) -> list[dict[str, Any]]:
    """A handful of rows in OpenAPIScripMaster.json format (reference §9).

    `with_hedge` adds a 24600 CE (token NIFTY_CE_HEDGE_TOKEN) for spread/hedge-margin tests; it is off by
    default so suites that count contracts keep seeing the original five rows.
    """
    short = expiry[:5] + expiry[7:]
    rows = [
        _row(NIFTY_TOKEN, "Nifty 50", "NIFTY", "", "0.000000", "1", "AMXIDX", "NSE", "0.000000", "0"),
        _row(SBIN_TOKEN, "SBIN-EQ", "SBIN", "", "-1.000000", "1", "", "NSE", "5.000000", "100000"),
        _row(
            NIFTY_CE_TOKEN,
            f"NIFTY{short}24400CE",
            "NIFTY",
            expiry,
            "2440000.000000",
            "75",
            "OPTIDX",
            "NFO",
            "5.000000",
            "1800",
        ),
        _row(
            NIFTY_PE_TOKEN,
            f"NIFTY{short}24400PE",
            "NIFTY",
            expiry,
            "2440000.000000",
            "75",
            "OPTIDX",
            "NFO",
            "5.000000",
            "1800",
        ),
        _row(
            NIFTY_FUT_TOKEN,
            f"NIFTY{short}FUT",
            "NIFTY",
            expiry,
            "-1.000000",
            "75",
            "FUTIDX",
            "NFO",
            "10.000000",
            "1800",
        ),
    ]
    if with_hedge:
        rows.append(
            _row(
                NIFTY_CE_HEDGE_TOKEN,
                f"NIFTY{short}24600CE",
                "NIFTY",
                expiry,
                "2460000.000000",
                "75",
                "OPTIDX",
                "NFO",
                "5.000000",
                "1800",
            )
        )
    return rows


def depth(
    mid: float, spread: float, quantity: int, levels: int = 5, step: float = 0.05
) -> tuple[tuple[SimDepthLevel, ...], tuple[SimDepthLevel, ...]]:
    """Five bid and ask levels around `mid`, `quantity` units each."""
    half = spread / 2
    bids = tuple(SimDepthLevel(round(mid - half - i * step, 2), quantity, 3) for i in range(levels))
    asks = tuple(SimDepthLevel(round(mid + half + i * step, 2), quantity, 3) for i in range(levels))
    return bids, asks


class StaticMarket:
    """A `MarketView` whose quotes the test sets; open 09:15–15:30 IST on weekdays."""

    def __init__(self, clock: Clock, rows: list[dict[str, Any]] | None = None) -> None:
        self.clock = clock
        self.rows = rows if rows is not None else static_scrip_master()
        self._quotes: dict[tuple[str, str], SimQuote] = {}
        self._listeners: list[Callable[[SimQuote], None]] = []
        self._sequence = 0
        self.forced_open: bool | None = None
        self.candle_rows: dict[tuple[str, str, str], list[list[Any]]] = {}
        self.set_quote("NSE", NIFTY_TOKEN, 24500.0, spread=0.0, quantity=0, circuit=False)
        self.set_quote("NSE", SBIN_TOKEN, 800.0, spread=0.10, quantity=5000)
        self.set_quote("NFO", NIFTY_CE_TOKEN, 150.0, spread=0.10, quantity=750, open_interest=120000)
        self.set_quote("NFO", NIFTY_PE_TOKEN, 60.0, spread=0.10, quantity=750, open_interest=90000)
        if any(row["token"] == NIFTY_CE_HEDGE_TOKEN for row in self.rows):
            self.set_quote("NFO", NIFTY_CE_HEDGE_TOKEN, 60.0, spread=0.10, quantity=750)
        self.set_quote("NFO", NIFTY_FUT_TOKEN, 24560.0, spread=0.20, quantity=750, open_interest=50000)

    def symbol(self, exchange: str, token: str) -> str:
        for row in self.rows:
            if row["exch_seg"] == exchange and row["token"] == token:
                return str(row["symbol"])
        raise KeyError(f"{exchange}:{token} is not in the static scrip master")

    def set_quote(
        self,
        exchange: str,
        token: str,
        ltp: float,
        *,
        spread: float = 0.10,
        quantity: int = 750,
        open_interest: int = 0,
        circuit: bool = True,
        publish: bool = True,
    ) -> SimQuote:
        """Set an instrument's quote (depth symmetric around `ltp`) and publish it to subscribers."""
        self._sequence += 1
        bids, asks = depth(ltp, spread, quantity) if quantity > 0 else ((), ())
        previous = self._quotes.get((exchange, token))
        close = previous.close if previous is not None else ltp
        quote = SimQuote(
            exchange=exchange,
            token=token,
            symbol=self.symbol(exchange, token),
            ltp=ltp,
            last_quantity=75 if exchange == "NFO" else 1,
            average_price=ltp,
            volume=1000 + self._sequence,
            open=close,
            high=max(ltp, close),
            low=min(ltp, close),
            close=close,
            open_interest=open_interest,
            upper_circuit=round(close * 1.2, 2) if circuit else 0.0,
            lower_circuit=round(close * 0.8, 2) if circuit else 0.0,
            week52_high=round(close * 1.3, 2),
            week52_low=round(close * 0.7, 2),
            bids=bids,
            asks=asks,
            exchange_time=self.clock.now_utc(),
            sequence=self._sequence,
            synthetic=exchange == "NFO",
        )
        self._quotes[(exchange, token)] = quote
        if publish:
            for listener in list(self._listeners):
                listener(quote)
        return quote

    def replace_quote(self, quote: SimQuote, **changes: Any) -> None:
        self._sequence += 1
        updated = replace(quote, sequence=self._sequence, **changes)
        self._quotes[(quote.exchange, quote.token)] = updated
        for listener in list(self._listeners):
            listener(updated)

    # -- MarketView ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now_utc()

    def quote(self, exchange: str, token: str) -> SimQuote | None:
        return self._quotes.get((exchange, token))

    def scrip_master_rows(self) -> list[dict[str, Any]]:
        return list(self.rows)

    def candles(
        self, exchange: str, token: str, interval: str, start: datetime, end: datetime
    ) -> list[list[Any]]:
        """Stored rows for (exchange, token, interval) whose timestamp lies in [start, end]."""
        rows = self.candle_rows.get((exchange, token, interval), [])
        return [row for row in rows if start <= datetime.fromisoformat(row[0]) <= end]

    def add_minute_candles(
        self, exchange: str, token: str, start: datetime, count: int, price: float
    ) -> None:
        rows = self.candle_rows.setdefault((exchange, token, "ONE_MINUTE"), [])
        for index in range(count):
            stamp = to_ist(start + timedelta(minutes=index)).isoformat()
            level = round(price + index * 0.5, 2)
            rows.append([stamp, level, level + 1.0, level - 1.0, level + 0.5, 100 * (index + 1)])

    def subscribe_quotes(self, callback: Callable[[SimQuote], None]) -> None:
        self._listeners.append(callback)

    def is_market_open(self, exchange: str) -> bool:
        if self.forced_open is not None:
            return self.forced_open
        local = to_ist(self.clock.now_utc())
        if local.weekday() >= 5:
            return False
        return time(9, 15) <= local.time() < time(15, 30)


def market_hours_start() -> datetime:
    """A fixed weekday inside market hours: Wed 2026-11-18 10:00 IST."""
    return datetime(2026, 11, 18, 10, 0, tzinfo=IST)

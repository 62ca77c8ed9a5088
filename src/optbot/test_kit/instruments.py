"""Builders for scrip-master rows and masters, for tests and benchmarks of anything that needs instruments."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.instruments.scripmaster import format_expiry, parse_rows
from optbot.sim.market.instruments import index_row

INDEX_ROWS: list[dict[str, Any]] = [
    {"token": "99926000", "symbol": "Nifty 50", "name": "NIFTY"},
    {"token": "99926009", "symbol": "Nifty Bank", "name": "BANKNIFTY"},
    {"token": "99926017", "symbol": "India VIX", "name": "INDIA VIX"},
    {"token": "99926037", "symbol": "Nifty Fin Service", "name": "FINNIFTY"},
]


def option_row(
    token: int | str,
    underlying: str,
    expiry: date,
    strike: float,
    option_type: str,
    lot_size: int = 75,
    tick_paise: float = 5.0,
    freeze_qty: int = 1800,
    instrument_type: str = "OPTIDX",
    exchange: str = "NFO",
) -> dict[str, Any]:
    code = expiry.strftime("%d%b%y").upper()
    return {
        "token": str(token),
        "symbol": f"{underlying}{code}{strike:g}{option_type}",
        "name": underlying,
        "expiry": format_expiry(expiry),
        "strike": f"{strike * 100:.6f}",
        "lotsize": str(lot_size),
        "instrumenttype": instrument_type,
        "exch_seg": exchange,
        "tick_size": f"{tick_paise:.6f}",
        "freeze_qty": str(freeze_qty),
    }


def future_row(token: int | str, underlying: str, expiry: date, lot_size: int = 75) -> dict[str, Any]:
    return {
        "token": str(token),
        "symbol": f"{underlying}{expiry.strftime('%d%b%y').upper()}FUT",
        "name": underlying,
        "expiry": format_expiry(expiry),
        "strike": "-1.000000",
        "lotsize": str(lot_size),
        "instrumenttype": "FUTIDX",
        "exch_seg": "NFO",
        "tick_size": "10.000000",
    }


def equity_row(token: int | str, name: str, tick_paise: float = 5.0) -> dict[str, Any]:
    return {
        "token": str(token),
        "symbol": f"{name}-EQ",
        "name": name,
        "expiry": "",
        "strike": "-1.000000",
        "lotsize": "1",
        "instrumenttype": "",
        "exch_seg": "NSE",
        "tick_size": f"{tick_paise:.6f}",
    }


def option_chain_rows(
    underlying: str,
    expiries: Iterable[date],
    center: float,
    step: float,
    strikes_each_side: int,
    first_token: int,
    lot_size: int = 75,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token = first_token
    for expiry in expiries:
        for offset in range(-strikes_each_side, strikes_each_side + 1):
            strike = center + offset * step
            for option_type in ("CE", "PE"):
                rows.append(option_row(token, underlying, expiry, strike, option_type, lot_size))
                token += 1
    return rows


def weekly_expiries(first: date, count: int) -> list[date]:
    return [first + timedelta(days=7 * week) for week in range(count)]


def sample_master_rows(as_of: date = date(2026, 8, 7)) -> list[dict[str, Any]]:
    """A small realistic master: index rows, NIFTY weeklies (Tuesdays) and BANKNIFTY monthlies."""
    rows = [index_row(**row) for row in INDEX_ROWS]
    first_tuesday = as_of + timedelta(days=(1 - as_of.weekday()) % 7)
    nifty_expiries = weekly_expiries(first_tuesday, 4)
    rows += option_chain_rows("NIFTY", nifty_expiries, 24550.0, 50.0, 20, 40000, lot_size=65)
    rows += option_chain_rows("BANKNIFTY", [nifty_expiries[-1]], 55000.0, 100.0, 15, 60000, lot_size=30)
    rows.append(future_row(70000, "NIFTY", nifty_expiries[-1], 65))
    rows.append(equity_row(3045, "SBIN"))
    return rows


def build_master(
    rows: list[dict[str, Any]] | None = None, as_of: date = date(2026, 8, 7)
) -> InstrumentMaster:
    instruments, _report = parse_rows(rows if rows is not None else sample_master_rows(as_of))
    return InstrumentMaster(instruments, MasterInfo(as_of=as_of, source="test_kit"))


def large_master_rows(count: int, seed: int = 7, as_of: date = date(2026, 8, 7)) -> list[dict[str, Any]]:
    """A master of about `count` rows shaped like the real one (mostly options), for benchmarks."""
    generator = random.Random(seed)
    rows = [index_row(**row) for row in INDEX_ROWS]
    token = 100000
    names = [f"STOCK{number:03d}" for number in range(180)]
    expiries = weekly_expiries(as_of, 12)
    while len(rows) < count:
        name = generator.choice(names)
        expiry = generator.choice(expiries)
        center = generator.randrange(300, 5000)
        for offset in range(-20, 21):
            for option_type in ("CE", "PE"):
                rows.append(
                    option_row(token, name, expiry, center + offset * 10, option_type, 500, 5.0, 0, "OPTSTK")
                )
                token += 1
        rows.append(equity_row(token, name))
        token += 1
    return rows[:count]

"""Test builders for the Angel One client: WS V2 frame encoder, in-memory keyring, SmartAPI envelopes.

Other packages' tests (market data, order management) can reuse these to produce realistic broker
input without a simulator.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keyring.backend
import keyring.errors
import orjson

from optbot.broker.angelone.feed_codec import (
    BEST_FIVE_STRUCT,
    LTP_STRUCT,
    QUOTE_STRUCT,
    SNAP_HEAD_STRUCT,
    SNAP_TAIL_STRUCT,
)

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """Raw (paise / integer) values of one WS V2 packet, for encoding test frames."""

    token: str
    ltp_paise: int
    mode: int = 1
    exchange_type: int = 1
    sequence: int = 1
    exchange_time_ms: int = 1_790_243_527_000
    last_quantity: int = 0
    average_paise: int = 0
    volume: int = 0
    total_buy_quantity: float = 0.0
    total_sell_quantity: float = 0.0
    open_paise: int = 0
    high_paise: int = 0
    low_paise: int = 0
    close_paise: int = 0
    last_traded_time: int = 0
    open_interest: int = 0
    open_interest_change_pct: float = 0.0
    bids: Sequence[tuple[int, int, int]] = field(default_factory=tuple)  # (quantity, price_paise, orders)
    asks: Sequence[tuple[int, int, int]] = field(default_factory=tuple)
    upper_circuit_paise: int = 0
    lower_circuit_paise: int = 0
    week52_high_paise: int = 0
    week52_low_paise: int = 0


def encode_frame(spec: FrameSpec) -> bytes:
    """Little-endian frame exactly per reference §5 (bids flag 1 first, then asks flag 0)."""
    token = spec.token.encode("ascii")
    head = (spec.mode, spec.exchange_type, token, spec.sequence, spec.exchange_time_ms, spec.ltp_paise)
    if spec.mode == 1:
        return LTP_STRUCT.pack(*head)
    quote = (
        *head,
        spec.last_quantity,
        spec.average_paise,
        spec.volume,
        spec.total_buy_quantity,
        spec.total_sell_quantity,
        spec.open_paise,
        spec.high_paise,
        spec.low_paise,
        spec.close_paise,
    )
    if spec.mode == 2:
        return QUOTE_STRUCT.pack(*quote)
    levels: list[int] = []
    for flag, side in ((1, spec.bids), (0, spec.asks)):
        padded = list(side)[:5] + [(0, 0, 0)] * (5 - min(5, len(side)))
        for quantity, price, orders in padded:
            levels.extend((flag, quantity, price, orders))
    return (
        SNAP_HEAD_STRUCT.pack(
            *quote, spec.last_traded_time, spec.open_interest, spec.open_interest_change_pct
        )
        + BEST_FIVE_STRUCT.pack(*levels)
        + SNAP_TAIL_STRUCT.pack(
            spec.upper_circuit_paise, spec.lower_circuit_paise, spec.week52_high_paise, spec.week52_low_paise
        )
    )


def patch_mode(frame: bytes, mode: int) -> bytes:
    return struct.pack("<B", mode) + frame[1:]


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in a dict — for tests only (priority 0 so it is never auto-selected)."""

    priority = 0

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.values:
            raise keyring.errors.PasswordDeleteError(username)
        del self.values[(service, username)]


def success(data: Any) -> bytes:
    return orjson.dumps({"status": True, "message": "SUCCESS", "errorcode": "", "data": data})


def business_failure(code: str, message: str) -> bytes:
    return orjson.dumps({"status": False, "message": message, "errorcode": code, "data": None})


def gateway_failure(code: str = "AG8001", message: str = "Invalid Token") -> bytes:
    return orjson.dumps({"success": False, "message": message, "errorCode": code, "data": ""})


RATE_LIMIT_BODY = b"Access denied because of exceeding access rate"


def order_row(**overrides: Any) -> dict[str, Any]:
    """A reference §3 order row with string prices (order-book style) and sensible defaults."""
    row: dict[str, Any] = {
        "variety": "NORMAL",
        "ordertype": "LIMIT",
        "producttype": "INTRADAY",
        "duration": "DAY",
        "price": "194.00",
        "triggerprice": "0",
        "quantity": "75",
        "disclosedquantity": "0",
        "tradingsymbol": "NIFTY28OCT2524400CE",
        "transactiontype": "BUY",
        "exchange": "NFO",
        "symboltoken": "58784",
        "ordertag": "intent-1",
        "instrumenttype": "OPTIDX",
        "strikeprice": 24400.0,
        "optiontype": "CE",
        "expirydate": "28OCT2025",
        "lotsize": "75",
        "cancelsize": "0",
        "averageprice": 0.0,
        "filledshares": "0",
        "unfilledshares": "75",
        "orderid": "251024000000970",
        "text": "",
        "status": "open",
        "orderstatus": "open",
        "updatetime": "24-Oct-2025 10:15:01",
        "exchtime": "24-Oct-2025 10:15:01",
        "exchorderupdatetime": "24-Oct-2025 10:15:01",
        "fillid": "",
        "filltime": "",
        "parentorderid": "",
        "uniqueorderid": "d6b3a2b1-1234-4c1e-9f7a-0a1b2c3d4e5f",
        "exchangeorderid": "1100000012345678",
    }
    row.update(overrides)
    return row

"""SmartAPI WebSocket 2.0 binary tick frames (reference §5), encoded byte for byte.

Frames are little-endian. Prices travel as integer paise (currency: 1e-7 rupees). LTP frames are
51 bytes, QUOTE 123, SNAP_QUOTE 379 with the best five (5 bids flagged 1, then 5 asks flagged 0).
`decode_frame` exists so the simulator's own tests can check what it sent; the production decoder
lives in the broker client.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum

from optbot.core.timeutil import utc_to_epoch_ms
from optbot.sim.contracts import SimDepthLevel, SimQuote

TOKEN_FIELD_BYTES = 25
BEST_FIVE_LEVELS = 5
BEST_FIVE_ENTRY_BYTES = 20
BID_FLAG = 1
ASK_FLAG = 0

_HEADER = struct.Struct("<BB25sqqq")  # mode, exchange type, token, sequence, exchange ms, ltp
_QUOTE_TAIL = struct.Struct("<qqqddqqqq")  # ltq, atp, volume, tbq, tsq, open, high, low, close
_SNAP_MIDDLE = struct.Struct("<qqd")  # last traded ts, open interest, OI change %
_BEST_FIVE_ENTRY = struct.Struct("<hqqh")  # flag, quantity, price, orders
_SNAP_TAIL = struct.Struct("<qqqq")  # upper circuit, lower circuit, 52w high, 52w low

LTP_PACKET_BYTES = _HEADER.size
QUOTE_PACKET_BYTES = LTP_PACKET_BYTES + _QUOTE_TAIL.size
_BEST_FIVE_OFFSET = QUOTE_PACKET_BYTES + _SNAP_MIDDLE.size
_SNAP_TAIL_OFFSET = _BEST_FIVE_OFFSET + 2 * BEST_FIVE_LEVELS * BEST_FIVE_ENTRY_BYTES
SNAP_QUOTE_PACKET_BYTES = _SNAP_TAIL_OFFSET + _SNAP_TAIL.size

_QUOTE_STRUCT = struct.Struct("<BB25sqqqqqqddqqqq")


class SubscriptionMode(IntEnum):
    LTP = 1
    QUOTE = 2
    SNAP_QUOTE = 3
    DEPTH = 4


class ExchangeType(IntEnum):
    NSE_CM = 1
    NSE_FO = 2
    BSE_CM = 3
    BSE_FO = 4
    MCX_FO = 5
    NCX_FO = 7
    CDE_FO = 13


#: REST/scrip-master exchange names to WS exchange types.
EXCHANGE_TYPE_BY_NAME: dict[str, ExchangeType] = {
    "NSE": ExchangeType.NSE_CM,
    "NFO": ExchangeType.NSE_FO,
    "BSE": ExchangeType.BSE_CM,
    "BFO": ExchangeType.BSE_FO,
    "MCX": ExchangeType.MCX_FO,
    "NCDEX": ExchangeType.NCX_FO,
    "CDS": ExchangeType.CDE_FO,
}
EXCHANGE_NAME_BY_TYPE: dict[ExchangeType, str] = {value: key for key, value in EXCHANGE_TYPE_BY_NAME.items()}

PACKET_BYTES_BY_MODE: dict[SubscriptionMode, int] = {
    SubscriptionMode.LTP: LTP_PACKET_BYTES,
    SubscriptionMode.QUOTE: QUOTE_PACKET_BYTES,
    SubscriptionMode.SNAP_QUOTE: SNAP_QUOTE_PACKET_BYTES,
}


def price_scale(exchange_type: int) -> int:
    """Integer units per rupee on the wire: paise, except currency derivatives (1e7, reference §5)."""
    return 10_000_000 if exchange_type == ExchangeType.CDE_FO else 100


@dataclass(frozen=True, slots=True)
class WireDepthLevel:
    """One best-five entry in wire units."""

    quantity: int
    price: int
    orders: int


@dataclass(frozen=True, slots=True)
class WireTick:
    """Every field of a SNAP_QUOTE frame in wire units; LTP/QUOTE frames use a prefix of it."""

    mode: int
    exchange_type: int
    token: str
    sequence: int
    exchange_timestamp_ms: int
    last_traded_price: int
    last_traded_quantity: int = 0
    average_traded_price: int = 0
    volume: int = 0
    total_buy_quantity: float = 0.0
    total_sell_quantity: float = 0.0
    open: int = 0
    high: int = 0
    low: int = 0
    close: int = 0
    last_traded_timestamp: int = 0
    open_interest: int = 0
    open_interest_change_percent: float = 0.0
    bids: tuple[WireDepthLevel, ...] = field(default_factory=tuple)
    asks: tuple[WireDepthLevel, ...] = field(default_factory=tuple)
    upper_circuit: int = 0
    lower_circuit: int = 0
    week52_high: int = 0
    week52_low: int = 0


class FrameError(ValueError):
    """A frame could not be encoded or decoded; the message names the field at fault."""


def _token_bytes(token: str) -> bytes:
    raw = token.encode("ascii")
    if not raw or len(raw) >= TOKEN_FIELD_BYTES:
        raise FrameError(f"token must be 1..{TOKEN_FIELD_BYTES - 1} ASCII characters, got {token!r}")
    return raw


def encode_tick(tick: WireTick, mode: int | None = None) -> bytes:
    """Pack `tick` as a frame of `mode` (default `tick.mode`); the mode byte is the one packed."""
    frame_mode = tick.mode if mode is None else mode
    if frame_mode not in (SubscriptionMode.LTP, SubscriptionMode.QUOTE, SubscriptionMode.SNAP_QUOTE):
        raise FrameError(f"cannot encode subscription mode {frame_mode}: only 1 LTP, 2 QUOTE, 3 SNAP_QUOTE")
    token = _token_bytes(tick.token)
    if frame_mode == SubscriptionMode.LTP:
        return _HEADER.pack(
            frame_mode,
            tick.exchange_type,
            token,
            tick.sequence,
            tick.exchange_timestamp_ms,
            tick.last_traded_price,
        )
    quote = _QUOTE_STRUCT.pack(
        frame_mode,
        tick.exchange_type,
        token,
        tick.sequence,
        tick.exchange_timestamp_ms,
        tick.last_traded_price,
        tick.last_traded_quantity,
        tick.average_traded_price,
        tick.volume,
        tick.total_buy_quantity,
        tick.total_sell_quantity,
        tick.open,
        tick.high,
        tick.low,
        tick.close,
    )
    if frame_mode == SubscriptionMode.QUOTE:
        return quote
    return b"".join(
        (
            quote,
            _SNAP_MIDDLE.pack(
                tick.last_traded_timestamp, tick.open_interest, tick.open_interest_change_percent
            ),
            _best_five_bytes(tick.bids, BID_FLAG),
            _best_five_bytes(tick.asks, ASK_FLAG),
            _SNAP_TAIL.pack(tick.upper_circuit, tick.lower_circuit, tick.week52_high, tick.week52_low),
        )
    )


def _best_five_bytes(levels: tuple[WireDepthLevel, ...], flag: int) -> bytes:
    """Five entries for one side, zero-padded; the flag is written even on padding entries."""
    if len(levels) > BEST_FIVE_LEVELS:
        raise FrameError(f"best five holds at most {BEST_FIVE_LEVELS} levels per side, got {len(levels)}")
    entries = [_BEST_FIVE_ENTRY.pack(flag, level.quantity, level.price, level.orders) for level in levels]
    entries.extend(_BEST_FIVE_ENTRY.pack(flag, 0, 0, 0) for _ in range(BEST_FIVE_LEVELS - len(levels)))
    return b"".join(entries)


def _to_units(rupees: float, scale: int) -> int:
    return round(rupees * scale)


def _wire_levels(levels: tuple[SimDepthLevel, ...], scale: int) -> tuple[WireDepthLevel, ...]:
    return tuple(
        WireDepthLevel(level.quantity, _to_units(level.price, scale), level.orders)
        for level in levels[:BEST_FIVE_LEVELS]
    )


def wire_tick_from_quote(quote: SimQuote, mode: int, token: str | None = None) -> WireTick:
    """Convert the simulator's rupee quote into wire units; `token` overrides an aliased token."""
    try:
        exchange_type = EXCHANGE_TYPE_BY_NAME[quote.exchange]
    except KeyError:
        raise FrameError(f"no WebSocket exchange type for exchange {quote.exchange!r}") from None
    scale = price_scale(exchange_type)
    epoch_ms = utc_to_epoch_ms(quote.exchange_time)
    return WireTick(
        mode=mode,
        exchange_type=exchange_type,
        token=quote.token if token is None else token,
        sequence=quote.sequence,
        exchange_timestamp_ms=epoch_ms,
        last_traded_price=_to_units(quote.ltp, scale),
        last_traded_quantity=quote.last_quantity,
        average_traded_price=_to_units(quote.average_price, scale),
        volume=quote.volume,
        total_buy_quantity=float(sum(level.quantity for level in quote.bids)),
        total_sell_quantity=float(sum(level.quantity for level in quote.asks)),
        open=_to_units(quote.open, scale),
        high=_to_units(quote.high, scale),
        low=_to_units(quote.low, scale),
        close=_to_units(quote.close, scale),
        last_traded_timestamp=epoch_ms // 1000,
        open_interest=quote.open_interest,
        open_interest_change_percent=0.0,
        bids=_wire_levels(quote.bids, scale),
        asks=_wire_levels(quote.asks, scale),
        upper_circuit=_to_units(quote.upper_circuit, scale),
        lower_circuit=_to_units(quote.lower_circuit, scale),
        week52_high=_to_units(quote.week52_high, scale),
        week52_low=_to_units(quote.week52_low, scale),
    )


def encode_quote(quote: SimQuote, mode: int, token: str | None = None) -> bytes:
    """The frame a subscriber in `mode` receives for `quote`."""
    return encode_tick(wire_tick_from_quote(quote, mode, token), mode)


def decode_frame(frame: bytes) -> WireTick:
    """Unpack a frame produced by `encode_tick`; rejects wrong lengths and unknown modes."""
    if len(frame) < 1:
        raise FrameError("empty frame")
    try:
        mode = SubscriptionMode(frame[0])
        expected = PACKET_BYTES_BY_MODE[mode]
    except (ValueError, KeyError):
        raise FrameError(f"unknown subscription mode byte {frame[0]}") from None
    if len(frame) != expected:
        raise FrameError(f"mode {int(mode)} frame must be {expected} bytes, got {len(frame)}")
    token = frame[2 : 2 + TOKEN_FIELD_BYTES].split(b"\x00", 1)[0].decode("ascii")
    if mode == SubscriptionMode.LTP:
        _, exchange_type, _, sequence, timestamp, ltp = _HEADER.unpack(frame)
        return WireTick(int(mode), exchange_type, token, sequence, timestamp, ltp)
    values = _QUOTE_STRUCT.unpack_from(frame)
    quote_tick = WireTick(int(mode), values[1], token, *values[3:15])  # sequence .. close in field order
    if mode == SubscriptionMode.QUOTE:
        return quote_tick
    traded_ts, open_interest, oi_change = _SNAP_MIDDLE.unpack_from(frame, QUOTE_PACKET_BYTES)
    bids: list[WireDepthLevel] = []
    asks: list[WireDepthLevel] = []
    for index in range(2 * BEST_FIVE_LEVELS):
        flag, quantity, price, orders = _BEST_FIVE_ENTRY.unpack_from(
            frame, _BEST_FIVE_OFFSET + index * BEST_FIVE_ENTRY_BYTES
        )
        if quantity == 0 and price == 0 and orders == 0:
            continue
        (bids if flag == BID_FLAG else asks).append(WireDepthLevel(quantity, price, orders))
    upper, lower, high52, low52 = _SNAP_TAIL.unpack_from(frame, _SNAP_TAIL_OFFSET)
    return replace(
        quote_tick,
        last_traded_timestamp=traded_ts,
        open_interest=open_interest,
        open_interest_change_percent=oi_change,
        bids=tuple(bids),
        asks=tuple(asks),
        upper_circuit=upper,
        lower_circuit=lower,
        week52_high=high52,
        week52_low=low52,
    )

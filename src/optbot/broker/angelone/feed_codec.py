"""SmartAPI WebSocket V2 binary frames (reference §5) -> `Tick` events, and full packet decoding.

Frames are little-endian; prices are paise (currency derivatives: 1e-7 rupees). The fast path
(`FeedDecoder.to_tick`, used by `MarketFeed`) uses precompiled `struct.Struct`s, caches token strings
and exchange timestamps, and fills each `Tick`'s slots directly (see `new_tick`), which is about twice
as fast as the frozen-dataclass constructor. `reference_tick` is the plain, obviously-correct decode
(`decode_packet` + the `Tick` constructor); tests prove the fast path equals it on random frames.
`decode_packet` is for diagnostics, tests and consumers that need depth.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from optbot.core.enums import Exchange, FeedExchangeType
from optbot.core.events import Tick

log = logging.getLogger("optbot.broker.angelone.feed_codec")

MODE_LTP = 1
MODE_QUOTE = 2
MODE_SNAP_QUOTE = 3
MODE_DEPTH = 4

LTP_STRUCT = struct.Struct("<BB25sqqq")
QUOTE_STRUCT = struct.Struct("<BB25sqqqqqqddqqqq")
SNAP_HEAD_STRUCT = struct.Struct("<BB25sqqqqqqddqqqqqqd")
BEST_FIVE_STRUCT = struct.Struct("<" + "hqqh" * 10)
SNAP_TAIL_STRUCT = struct.Struct("<qqqq")
SNAP_SIZE = SNAP_HEAD_STRUCT.size + BEST_FIVE_STRUCT.size + SNAP_TAIL_STRUCT.size
PACKET_SIZES = {MODE_LTP: LTP_STRUCT.size, MODE_QUOTE: QUOTE_STRUCT.size, MODE_SNAP_QUOTE: SNAP_SIZE}

#: WS exchangeType -> order exchange (reference §5). ncx_fo (7) has no tradable Exchange in optbot.
FEED_EXCHANGES: dict[int, Exchange] = {
    FeedExchangeType.NSE_CM: Exchange.NSE,
    FeedExchangeType.NSE_FO: Exchange.NFO,
    FeedExchangeType.BSE_CM: Exchange.BSE,
    FeedExchangeType.BSE_FO: Exchange.BFO,
    FeedExchangeType.MCX_FO: Exchange.MCX,
    FeedExchangeType.CDE_FO: Exchange.CDS,
}
EXCHANGE_FEED_TYPES: dict[Exchange, int] = {exchange: code for code, exchange in FEED_EXCHANGES.items()}
PAISE = 100.0
CURRENCY_DIVISOR = 10_000_000.0
_unpack_ltp = LTP_STRUCT.unpack_from
_unpack_quote = QUOTE_STRUCT.unpack_from
_EXCHANGES: dict[int, Exchange] = {int(code): exchange for code, exchange in FEED_EXCHANGES.items()}


#: Tick's fields, in constructor order, as `new_tick` fills them. If `Tick` ever changes shape,
#: `FAST_TICK_AVAILABLE` turns False and `new_tick` is the ordinary constructor (correct, slower).
TICK_FIELD_ORDER = (
    "ts_utc",
    "token",
    "exchange",
    "symbol",
    "ltp",
    "ts_exchange",
    "bid",
    "ask",
    "volume",
    "last_quantity",
    "open_interest",
    "source",
)
TickFactory = Callable[
    [
        datetime,
        str,
        Exchange,
        str,
        float,
        datetime | None,
        float | None,
        float | None,
        int | None,
        int | None,
        int | None,
        str,
    ],
    Tick,
]


def _tick_has_fast_layout() -> bool:
    if tuple(field.name for field in fields(Tick)) != TICK_FIELD_ORDER:
        return False
    if hasattr(Tick, "__post_init__"):  # validation the slot filler would skip
        return False
    return all(type(getattr(Tick, name)).__name__ == "member_descriptor" for name in TICK_FIELD_ORDER)


FAST_TICK_AVAILABLE = _tick_has_fast_layout()


def _slot_setters() -> tuple[Callable[[Tick, object], None], ...]:
    return tuple(getattr(Tick, name).__set__ for name in TICK_FIELD_ORDER)


def _build_fast_tick_factory() -> TickFactory:
    """A Tick factory that sets the 12 slots through their descriptors (no per-field name lookup)."""
    (
        set_ts_utc,
        set_token,
        set_exchange,
        set_symbol,
        set_ltp,
        set_ts_exchange,
        set_bid,
        set_ask,
        set_volume,
        set_last_quantity,
        set_open_interest,
        set_source,
    ) = _slot_setters()
    allocate = object.__new__

    def fast_tick(
        ts_utc: datetime,
        token: str,
        exchange: Exchange,
        symbol: str,
        ltp: float,
        ts_exchange: datetime | None,
        bid: float | None,
        ask: float | None,
        volume: int | None,
        last_quantity: int | None,
        open_interest: int | None,
        source: str,
    ) -> Tick:
        tick: Tick = allocate(Tick)
        set_ts_utc(tick, ts_utc)
        set_token(tick, token)
        set_exchange(tick, exchange)
        set_symbol(tick, symbol)
        set_ltp(tick, ltp)
        set_ts_exchange(tick, ts_exchange)
        set_bid(tick, bid)
        set_ask(tick, ask)
        set_volume(tick, volume)
        set_last_quantity(tick, last_quantity)
        set_open_interest(tick, open_interest)
        set_source(tick, source)
        return tick

    return fast_tick


#: Same positional signature and result as `Tick(...)` (a real `Tick`, equal and hash-equal).
new_tick: TickFactory = _build_fast_tick_factory() if FAST_TICK_AVAILABLE else Tick

#: The slot setters `FeedDecoder.try_tick` calls inline for LTP frames (one Python call fewer per
#: frame than `new_tick`); only used when `FAST_TICK_AVAILABLE`.
_SLOT_SETTERS = _slot_setters() if FAST_TICK_AVAILABLE else ()
_allocate = object.__new__


class FeedDecodeError(ValueError):
    """A frame that cannot be a tick. `reason` is a short counter key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def price_divisor(exchange_type: int) -> float:
    return CURRENCY_DIVISOR if exchange_type == FeedExchangeType.CDE_FO else PAISE


@dataclass(frozen=True, slots=True)
class BestFiveEntry:
    is_bid: bool
    quantity: int
    price: float
    orders: int


@dataclass(frozen=True, slots=True)
class FeedPacket:
    """Every field of a mode 1/2/3 packet, scaled to rupees. Fields absent in a mode are None."""

    mode: int
    exchange_type: int
    token: str
    sequence: int
    exchange_time_ms: int
    ltp: float
    last_quantity: int | None = None
    average_price: float | None = None
    volume: int | None = None
    total_buy_quantity: float | None = None
    total_sell_quantity: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    last_traded_time: int | None = None
    open_interest: int | None = None
    open_interest_change_pct: float | None = None
    bids: tuple[BestFiveEntry, ...] = ()
    asks: tuple[BestFiveEntry, ...] = ()
    upper_circuit: float | None = None
    lower_circuit: float | None = None
    week52_high: float | None = None
    week52_low: float | None = None


def _token_text(raw: bytes) -> str:
    end = raw.find(b"\x00")
    text = (raw if end < 0 else raw[:end]).decode("ascii", "strict")
    if not text:
        raise FeedDecodeError("empty_token", "token field is empty")
    return text


def _check(frame: bytes) -> int:
    if len(frame) < 2:
        raise FeedDecodeError("truncated", f"{len(frame)} bytes")
    mode = frame[0]
    size = PACKET_SIZES.get(mode)
    if size is None:
        raise FeedDecodeError("unknown_mode", f"mode {mode}")
    if len(frame) < size:
        raise FeedDecodeError("truncated", f"mode {mode} needs {size} bytes, got {len(frame)}")
    return mode


def decode_packet(frame: bytes) -> FeedPacket:
    """Full decode of one binary frame; raises FeedDecodeError on anything malformed."""
    mode = _check(frame)
    try:
        token = _token_text(frame[2:27])
    except UnicodeDecodeError:
        raise FeedDecodeError("bad_token", "token is not ASCII") from None
    exchange_type = frame[1]
    divisor = price_divisor(exchange_type)
    if mode == MODE_LTP:
        _, _, _, sequence, ts_ms, ltp = LTP_STRUCT.unpack_from(frame)
        return FeedPacket(mode, exchange_type, token, sequence, ts_ms, ltp / divisor)
    head = (QUOTE_STRUCT if mode == MODE_QUOTE else SNAP_HEAD_STRUCT).unpack_from(frame)
    (_, _, _, sequence, ts_ms, ltp, ltq, atp, volume, tbq, tsq, open_, high, low, close) = head[:15]
    packet = FeedPacket(
        mode,
        exchange_type,
        token,
        sequence,
        ts_ms,
        ltp / divisor,
        ltq,
        atp / divisor,
        volume,
        tbq,
        tsq,
        open_ / divisor,
        high / divisor,
        low / divisor,
        close / divisor,
    )
    if mode == MODE_QUOTE:
        return packet
    last_traded_time, open_interest, oi_change = head[15:18]
    levels = BEST_FIVE_STRUCT.unpack_from(frame, SNAP_HEAD_STRUCT.size)
    entries = [
        BestFiveEntry(levels[i] == 1, levels[i + 1], levels[i + 2] / divisor, levels[i + 3])
        for i in range(0, 40, 4)
    ]
    upper, lower, high52, low52 = SNAP_TAIL_STRUCT.unpack_from(
        frame, SNAP_HEAD_STRUCT.size + BEST_FIVE_STRUCT.size
    )
    return FeedPacket(
        *(
            packet.mode,
            packet.exchange_type,
            packet.token,
            packet.sequence,
            packet.exchange_time_ms,
            packet.ltp,
            packet.last_quantity,
            packet.average_price,
            packet.volume,
            packet.total_buy_quantity,
            packet.total_sell_quantity,
            packet.open,
            packet.high,
            packet.low,
            packet.close,
        ),
        last_traded_time=last_traded_time,
        open_interest=open_interest,
        open_interest_change_pct=oi_change,
        bids=tuple(entry for entry in entries if entry.is_bid),
        asks=tuple(entry for entry in entries if not entry.is_bid),
        upper_circuit=upper / divisor,
        lower_circuit=lower / divisor,
        week52_high=high52 / divisor,
        week52_low=low52 / divisor,
    )


def _epoch_ms_to_utc(epoch_ms: int) -> datetime | None:
    if epoch_ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def reference_tick(frame: bytes, now: datetime, symbols: dict[str, str], source: str = "ws") -> Tick:
    """The plain decode (full `decode_packet`, then the `Tick` constructor): the fast path's yardstick."""
    _check(frame)
    exchange = FEED_EXCHANGES.get(frame[1])
    if exchange is None:
        raise FeedDecodeError("unknown_exchange", f"exchange type {frame[1]}")
    packet = decode_packet(frame)
    bid = next((entry.price for entry in packet.bids if entry.price > 0), None)
    ask = next((entry.price for entry in packet.asks if entry.price > 0), None)
    return Tick(
        now,
        packet.token,
        exchange,
        symbols.get(packet.token, packet.token),
        packet.ltp,
        _epoch_ms_to_utc(packet.exchange_time_ms),
        bid,
        ask,
        packet.volume,
        packet.last_quantity,
        packet.open_interest if packet.mode == MODE_SNAP_QUOTE else None,
        source,
    )


#: Reasons `implausible` gives; each is a skip counter of `FeedDecoder.skipped`.
IMPLAUSIBLE_REASONS = ("negative_price", "negative_volume", "crossed_quote")


def implausible(tick: Tick) -> str | None:
    """Why a decoded tick cannot be a real quote (a negative price, volume, quantity or OI, or a best
    bid above the best ask), or None. Such a frame is corrupt: trading on it would be worse than
    waiting for the next one."""
    if tick.ltp < 0 or (tick.bid is not None and tick.bid < 0) or (tick.ask is not None and tick.ask < 0):
        return "negative_price"
    for amount in (tick.volume, tick.last_quantity, tick.open_interest):
        if amount is not None and amount < 0:
            return "negative_volume"
    if tick.bid is not None and tick.ask is not None and tick.bid > tick.ask:
        return "crossed_quote"
    return None


class FeedDecoder:
    """Fast frame -> Tick conversion with per-reason counters for skipped frames."""

    def __init__(
        self, symbols: dict[str, str] | None = None, source: str = "ws", tick_factory: TickFactory = new_tick
    ) -> None:
        self.symbols: dict[str, str] = symbols if symbols is not None else {}
        self.source = source
        #: `new_tick` (slot filling) in production; `Tick` (the constructor) for comparisons.
        self.tick_factory = tick_factory
        self._inline_ltp = FAST_TICK_AVAILABLE and tick_factory is new_tick
        self.skipped: Counter[str] = Counter()
        self.decoded = 0
        self._tokens: dict[bytes, str] = {}
        self._last_ms = -1
        self._last_time: datetime | None = None

    def _token(self, raw: bytes) -> str:
        token = self._tokens.get(raw)
        if token is None:
            try:
                token = _token_text(raw)
            except UnicodeDecodeError:
                raise FeedDecodeError("bad_token", "token is not ASCII") from None
            if len(self._tokens) < 100_000:
                self._tokens[raw] = token
        return token

    def _time(self, epoch_ms: int) -> datetime | None:
        if epoch_ms == self._last_ms:
            return self._last_time
        moment = _epoch_ms_to_utc(epoch_ms)
        self._last_ms = epoch_ms
        self._last_time = moment
        return moment

    def to_tick(self, frame: bytes, now: datetime) -> Tick:
        """Decode one frame into a Tick (raises FeedDecodeError; see `try_tick` for the counting path)."""
        length = len(frame)
        mode = frame[0] if length else -1
        if mode == MODE_LTP and length >= 51:
            _, exchange_type, raw, _, ts_ms, ltp = _unpack_ltp(frame)
            exchange = _EXCHANGES.get(exchange_type)
            if exchange is None:
                raise FeedDecodeError("unknown_exchange", f"exchange type {exchange_type}")
            token = self._tokens.get(raw) or self._token(raw)
            return self.tick_factory(
                now,
                token,
                exchange,
                self.symbols.get(token, token),
                ltp / (CURRENCY_DIVISOR if exchange_type == 13 else PAISE),
                self._last_time if ts_ms == self._last_ms else self._time(ts_ms),
                None,
                None,
                None,
                None,
                None,
                self.source,
            )
        if mode == MODE_QUOTE and length >= 123:
            values = _unpack_quote(frame)
            exchange_type = values[1]
            exchange = _EXCHANGES.get(exchange_type)
            if exchange is None:
                raise FeedDecodeError("unknown_exchange", f"exchange type {exchange_type}")
            token = self._tokens.get(values[2]) or self._token(values[2])
            ts_ms = values[4]
            return self.tick_factory(
                now,
                token,
                exchange,
                self.symbols.get(token, token),
                values[5] / (CURRENCY_DIVISOR if exchange_type == 13 else PAISE),
                self._last_time if ts_ms == self._last_ms else self._time(ts_ms),
                None,
                None,
                values[8],
                values[6],
                None,
                self.source,
            )
        if mode == MODE_SNAP_QUOTE and length >= SNAP_SIZE:
            exchange = _EXCHANGES.get(frame[1])
            if exchange is None:
                raise FeedDecodeError("unknown_exchange", f"exchange type {frame[1]}")
            packet = decode_packet(frame)
            bid = next((entry.price for entry in packet.bids if entry.price > 0), None)
            ask = next((entry.price for entry in packet.asks if entry.price > 0), None)
            return self.tick_factory(
                now,
                packet.token,
                exchange,
                self.symbols.get(packet.token, packet.token),
                packet.ltp,
                self._time(packet.exchange_time_ms),
                bid,
                ask,
                packet.volume,
                packet.last_quantity,
                packet.open_interest,
                self.source,
            )
        _check(frame)  # raises the precise reason (unknown mode / truncated)
        raise FeedDecodeError("unsupported_mode", f"mode {mode}")

    def try_tick(self, frame: bytes, now: datetime) -> Tick | None:
        """The feed's path: a bad or impossible frame is counted by reason, logged sparsely, and skipped.

        An LTP frame of a known exchange and an already-seen token with a non-negative price (nearly
        every frame of a live session) is built right here: one unpack, two dict lookups and the Tick's
        slots filled in place. An LTP tick carries no bid, ask or quantities, so a non-negative price
        is all `implausible` could check. Anything else takes `_checked_tick`, the general path."""
        if self._inline_ltp and len(frame) >= 51 and frame[0] == MODE_LTP:
            _, exchange_type, raw, _, ts_ms, paise = _unpack_ltp(frame)
            exchange = _EXCHANGES.get(exchange_type)
            token = self._tokens.get(raw)
            if exchange is not None and token is not None and paise >= 0:
                (
                    set_ts_utc,
                    set_token,
                    set_exchange,
                    set_symbol,
                    set_ltp,
                    set_ts_exchange,
                    set_bid,
                    set_ask,
                    set_volume,
                    set_last_quantity,
                    set_open_interest,
                    set_source,
                ) = _SLOT_SETTERS
                tick: Tick = _allocate(Tick)
                set_ts_utc(tick, now)
                set_token(tick, token)
                set_exchange(tick, exchange)
                set_symbol(tick, self.symbols.get(token, token))
                set_ltp(tick, paise / (CURRENCY_DIVISOR if exchange_type == 13 else PAISE))
                set_ts_exchange(tick, self._last_time if ts_ms == self._last_ms else self._time(ts_ms))
                set_bid(tick, None)
                set_ask(tick, None)
                set_volume(tick, None)
                set_last_quantity(tick, None)
                set_open_interest(tick, None)
                set_source(tick, self.source)
                self.decoded += 1
                return tick
        return self.checked_tick(frame, now)

    def checked_tick(self, frame: bytes, now: datetime) -> Tick | None:
        """`try_tick` for any frame: decode, then drop (and count) what cannot be a real quote."""
        try:
            tick = self.to_tick(frame, now)
        except FeedDecodeError as exc:
            self._skip(exc.reason, str(exc))
            return None
        except (struct.error, IndexError, ValueError) as exc:
            self._skip("malformed", type(exc).__name__)
            return None
        problem = implausible(tick)
        if problem is not None:
            self._skip(
                problem, f"token {tick.token}: {tick.ltp} bid {tick.bid} ask {tick.ask} vol {tick.volume}"
            )
            return None
        self.decoded += 1
        return tick

    def _skip(self, reason: str, detail: str) -> None:
        self.skipped[reason] += 1
        count = self.skipped[reason]
        # First occurrence, then every power of ten: visible without flooding the log.
        if count & (count - 1) == 0 or count % 10_000 == 0:
            log.warning("feed frame skipped (%s, %d so far): %s", reason, count, detail[:120])

from __future__ import annotations

import base64
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.sim.feed.codec import (
    LTP_PACKET_BYTES,
    QUOTE_PACKET_BYTES,
    SNAP_QUOTE_PACKET_BYTES,
    FrameError,
    SubscriptionMode,
    WireDepthLevel,
    WireTick,
    decode_frame,
    encode_quote,
    encode_tick,
    price_scale,
    wire_tick_from_quote,
)
from optbot.test_kit.sim_feed import sample_quote

RECORDED_QUOTE_FRAME = (
    "AgEzMDQ1AAAAAAAAAAAAAAAAAAAAAAAAAAAAIysNAQAAAABYWdTSoAEAADp+AQAAAAAAAgAAAAAAAABafwEAAAAAAOLozQAAAAAA"
    "AAAAAOT9IEEAAAAAyOcjQbZ/AQAAAAAAgIMBAAAAAAAsfQEAAAAAAFKEAQAAAAAA"
)


def test_packet_sizes_match_the_reference() -> None:
    assert (LTP_PACKET_BYTES, QUOTE_PACKET_BYTES, SNAP_QUOTE_PACKET_BYTES) == (51, 123, 379)


def test_recorded_quote_frame_is_reproduced_byte_for_byte() -> None:
    tick = WireTick(
        mode=2,
        exchange_type=1,
        token="3045",
        sequence=17640227,
        exchange_timestamp_ms=1790243527000,
        last_traded_price=97850,
        last_traded_quantity=2,
        average_traded_price=98138,
        volume=13494498,
        total_buy_quantity=556786.0,
        total_sell_quantity=652260.0,
        open=98230,
        high=99200,
        low=97580,
        close=99410,
    )
    assert encode_tick(tick) == base64.b64decode(RECORDED_QUOTE_FRAME)
    assert decode_frame(base64.b64decode(RECORDED_QUOTE_FRAME)) == tick


def test_snap_quote_best_five_bids_flag_one_then_asks_flag_zero() -> None:
    frame = encode_quote(sample_quote(), SubscriptionMode.SNAP_QUOTE)
    flags = [struct.unpack_from("<h", frame, 147 + 20 * index)[0] for index in range(10)]
    assert flags == [1] * 5 + [0] * 5
    first_bid_qty, first_bid_price = struct.unpack_from("<qq", frame, 149)
    assert (first_bid_qty, first_bid_price) == (75, 10120)
    first_ask_price = struct.unpack_from("<q", frame, 147 + 5 * 20 + 10)[0]
    assert first_ask_price == 10130


def test_missing_depth_is_zero_padded_with_side_flags() -> None:
    quote = sample_quote(exchange="NSE", token="99926000", ltp=24870.4, bids=(), asks=())
    frame = encode_quote(quote, SubscriptionMode.SNAP_QUOTE)
    assert len(frame) == SNAP_QUOTE_PACKET_BYTES
    decoded = decode_frame(frame)
    assert decoded.bids == () and decoded.asks == ()
    assert struct.unpack_from("<hqqh", frame, 147) == (1, 0, 0, 0)
    assert struct.unpack_from("<hqqh", frame, 247) == (0, 0, 0, 0)


def test_quote_conversion_uses_paise_and_epoch_milliseconds() -> None:
    quote = sample_quote(ltp=101.25)
    wire = wire_tick_from_quote(quote, SubscriptionMode.QUOTE)
    assert wire.last_traded_price == 10125
    assert wire.exchange_type == 2
    assert wire.exchange_timestamp_ms == 1757304000250
    assert wire.close == 10025
    assert price_scale(13) == 10_000_000


def test_alias_token_is_written_into_the_frame() -> None:
    quote = sample_quote(exchange="NSE", token="99926000", ltp=24870.4, bids=(), asks=())
    assert decode_frame(encode_quote(quote, SubscriptionMode.LTP, token="26000")).token == "26000"


@pytest.mark.parametrize("token", ["", "x" * 25, "टोकन"])
def test_bad_tokens_are_rejected_with_a_clear_message(token: str) -> None:
    with pytest.raises((FrameError, UnicodeEncodeError)):
        encode_tick(WireTick(1, 1, token, 0, 0, 0))


def test_decode_rejects_truncated_and_unknown_frames() -> None:
    frame = encode_quote(sample_quote(), SubscriptionMode.QUOTE)
    with pytest.raises(FrameError, match="123 bytes"):
        decode_frame(frame[:-1])
    with pytest.raises(FrameError, match="unknown subscription mode"):
        decode_frame(b"\x09" + frame[1:])
    with pytest.raises(FrameError, match="only 1 LTP"):
        encode_tick(WireTick(4, 1, "1", 0, 0, 0))


_int64 = st.integers(min_value=0, max_value=2**62)
_level = st.builds(
    WireDepthLevel,
    quantity=st.integers(min_value=1, max_value=10**9),
    price=st.integers(min_value=1, max_value=10**9),
    orders=st.integers(min_value=1, max_value=30000),
)


@given(
    mode=st.sampled_from([1, 2, 3]),
    exchange_type=st.sampled_from([1, 2, 3, 4, 5, 7, 13]),
    token=st.text(alphabet="0123456789ABCDEFGHIJ", min_size=1, max_size=24),
    values=st.lists(_int64, min_size=12, max_size=12),
    quantities=st.tuples(st.floats(0, 1e12), st.floats(0, 1e12)),
    bids=st.lists(_level, max_size=5),
    asks=st.lists(_level, max_size=5),
)
def test_encode_decode_round_trip(
    mode: int,
    exchange_type: int,
    token: str,
    values: list[int],
    quantities: tuple[float, float],
    bids: list[WireDepthLevel],
    asks: list[WireDepthLevel],
) -> None:
    tick = WireTick(
        mode,
        exchange_type,
        token,
        *values[:3],
        last_traded_quantity=values[3],
        average_traded_price=values[4],
        volume=values[5],
        total_buy_quantity=quantities[0],
        total_sell_quantity=quantities[1],
        open=values[6],
        high=values[7],
        low=values[8],
        close=values[9],
        last_traded_timestamp=values[10],
        open_interest=values[11],
        bids=tuple(bids),
        asks=tuple(asks),
        upper_circuit=values[0],
        lower_circuit=values[1],
        week52_high=values[2],
        week52_low=values[3],
    )
    frame = encode_tick(tick)
    decoded = decode_frame(frame)
    assert len(frame) == {1: 51, 2: 123, 3: 379}[mode]
    assert (decoded.mode, decoded.exchange_type, decoded.token) == (mode, exchange_type, token)
    assert decoded.last_traded_price == tick.last_traded_price
    if mode >= 2:
        assert (decoded.volume, decoded.close, decoded.total_sell_quantity) == (
            tick.volume,
            tick.close,
            tick.total_sell_quantity,
        )
    if mode == 3:
        assert decoded == tick

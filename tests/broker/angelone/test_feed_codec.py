"""WS V2 decoding: the recorded vector, every mode, and garbage that must be counted, not raised."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.broker.angelone.feed_codec import (
    SNAP_SIZE,
    FeedDecodeError,
    FeedDecoder,
    decode_packet,
    implausible,
)
from optbot.core.enums import Exchange
from optbot.test_kit.broker import FrameSpec, encode_frame, patch_mode

RECORDED_QUOTE = (
    "AgEzMDQ1AAAAAAAAAAAAAAAAAAAAAAAAAAAAIysNAQAAAABYWdTSoAEAADp+AQAAAAAAAgAAAAAAAABafwEAAAAAAOLozQAA"
    "AAAAAAAAAOT9IEEAAAAAyOcjQbZ/AQAAAAAAgIMBAAAAAAAsfQEAAAAAAFKEAQAAAAAA"
)
NOW = datetime(2026, 9, 24, 4, 0, tzinfo=UTC)


def test_recorded_quote_vector_decodes_to_documented_values() -> None:
    frame = base64.b64decode(RECORDED_QUOTE)
    assert len(frame) == 123
    packet = decode_packet(frame)
    assert (packet.mode, packet.exchange_type, packet.token) == (2, 1, "3045")
    assert packet.sequence == 17640227
    assert packet.exchange_time_ms == 1790243527000
    assert packet.ltp == pytest.approx(978.50)
    assert packet.last_quantity == 2
    assert packet.average_price == pytest.approx(981.38)
    assert packet.volume == 13494498
    assert packet.total_buy_quantity == 556786.0
    assert packet.total_sell_quantity == 652260.0
    assert (packet.open, packet.high, packet.low, packet.close) == pytest.approx(
        (982.30, 992.00, 975.80, 994.10)
    )


def test_recorded_quote_vector_becomes_a_tick() -> None:
    tick = FeedDecoder(symbols={"3045": "SBIN-EQ"}).to_tick(base64.b64decode(RECORDED_QUOTE), NOW)
    assert tick.token == "3045" and tick.symbol == "SBIN-EQ" and tick.exchange is Exchange.NSE
    assert tick.ltp == pytest.approx(978.5)
    assert tick.volume == 13494498 and tick.last_quantity == 2
    assert tick.ts_exchange == datetime(2026, 9, 24, 9, 52, 7, tzinfo=UTC)
    assert tick.ts_utc == NOW and tick.source == "ws"


def test_ltp_frame() -> None:
    frame = encode_frame(FrameSpec("58784", 12_345, mode=1, exchange_type=2))
    assert len(frame) == 51
    tick = FeedDecoder().to_tick(frame, NOW)
    assert tick.exchange is Exchange.NFO and tick.ltp == pytest.approx(123.45) and tick.volume is None


def test_snap_quote_best_five_flag_one_is_bids() -> None:
    spec = FrameSpec(
        "58784",
        10_000,
        mode=3,
        exchange_type=2,
        volume=500,
        open_interest=123_000,
        bids=[(75, 9_995, 3), (150, 9_990, 2)],
        asks=[(75, 10_005, 1)],
        upper_circuit_paise=20_000,
        lower_circuit_paise=5,
        week52_high_paise=40_000,
        week52_low_paise=100,
    )
    frame = encode_frame(spec)
    assert len(frame) == SNAP_SIZE == 379
    packet = decode_packet(frame)
    assert [b.price for b in packet.bids[:2]] == pytest.approx([99.95, 99.90])
    assert packet.asks[0].price == pytest.approx(100.05) and packet.asks[0].orders == 1
    assert packet.upper_circuit == pytest.approx(200.0) and packet.week52_low == pytest.approx(1.0)
    tick = FeedDecoder().to_tick(frame, NOW)
    assert tick.bid == pytest.approx(99.95) and tick.ask == pytest.approx(100.05)
    assert tick.open_interest == 123_000


def test_currency_prices_use_ten_million_divisor() -> None:
    tick = FeedDecoder().to_tick(encode_frame(FrameSpec("1234", 832_500_000, exchange_type=13)), NOW)
    assert tick.exchange is Exchange.CDS and tick.ltp == pytest.approx(83.25)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "truncated"),
        (b"\x01", "truncated"),
        (encode_frame(FrameSpec("1", 1))[:50], "truncated"),
        (patch_mode(encode_frame(FrameSpec("1", 1)), 9), "unknown_mode"),
        (patch_mode(encode_frame(FrameSpec("1", 1, mode=2)), 3), "truncated"),
        (encode_frame(FrameSpec("1", 1, exchange_type=7)), "unknown_exchange"),
        (encode_frame(FrameSpec("", 1)), "empty_token"),
        (b"\x01\x01" + b"\xff" * 49, "bad_token"),
    ],
)
def test_bad_frames_are_counted_and_skipped(frame: bytes, reason: str) -> None:
    decoder = FeedDecoder()
    assert decoder.try_tick(frame, NOW) is None
    assert decoder.skipped[reason] == 1
    with pytest.raises(FeedDecodeError):
        decoder.to_tick(frame, NOW)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(frame: bytes) -> None:
    decoder = FeedDecoder()
    decoder.try_tick(frame, NOW)
    assert decoder.decoded + sum(decoder.skipped.values()) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    mode=st.sampled_from([1, 2, 3]),
    exchange_type=st.sampled_from([1, 2, 3, 4, 5]),
    token=st.text(alphabet="0123456789", min_size=1, max_size=25),
    ltp=st.integers(min_value=0, max_value=10**12),
    volume=st.integers(min_value=0, max_value=2**62),
    ts=st.integers(min_value=1, max_value=4_102_444_800_000),
)
def test_encode_decode_round_trip(
    mode: int, exchange_type: int, token: str, ltp: int, volume: int, ts: int
) -> None:
    spec = FrameSpec(token, ltp, mode=mode, exchange_type=exchange_type, volume=volume, exchange_time_ms=ts)
    packet = decode_packet(encode_frame(spec))
    assert packet.token == token and packet.ltp == ltp / 100 and packet.exchange_time_ms == ts
    if mode > 1:
        assert packet.volume == volume
    tick = FeedDecoder().to_tick(encode_frame(spec), NOW)
    assert tick.ltp == ltp / 100 and tick.token == token


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (FrameSpec("1", -5, mode=1), "negative_price"),
        (FrameSpec("1", 100, mode=2, volume=-1), "negative_volume"),
        (FrameSpec("1", 100, mode=2, last_quantity=-75), "negative_volume"),
        (FrameSpec("1", 100, mode=3, bids=((75, 10_100, 1),), asks=((75, 10_000, 1),)), "crossed_quote"),
        (FrameSpec("1", 100, mode=3, open_interest=-3), "negative_volume"),
    ],
)
def test_impossible_quotes_are_dropped_and_counted(spec: FrameSpec, reason: str) -> None:
    """Issue 18: a decodable frame with a crossed book or a negative price/volume is never passed on."""
    decoder = FeedDecoder()
    assert decoder.try_tick(encode_frame(spec), NOW) is None
    assert decoder.skipped == {reason: 1} and decoder.decoded == 0
    assert decoder.to_tick(encode_frame(spec), NOW) is not None  # it decodes; it is just impossible


def _frames() -> st.SearchStrategy[FrameSpec]:
    signed = st.integers(min_value=-(10**9), max_value=10**9)
    level = st.tuples(signed, signed, st.integers(min_value=0, max_value=100))
    return st.builds(
        FrameSpec,
        token=st.text(alphabet="0123456789", min_size=1, max_size=10),
        ltp_paise=signed,
        mode=st.sampled_from([1, 2, 3]),
        exchange_type=st.sampled_from([1, 2]),
        last_quantity=signed,
        volume=signed,
        open_interest=signed,
        bids=st.lists(level, max_size=5),
        asks=st.lists(level, max_size=5),
    )


def _passed_on_ticks_are_plausible(spec: FrameSpec) -> None:
    decoder = FeedDecoder()
    tick = decoder.try_tick(encode_frame(spec), NOW)
    if tick is None:
        assert sum(decoder.skipped.values()) == 1
        return
    assert tick.ltp >= 0 and (tick.bid is None or tick.bid >= 0) and (tick.ask is None or tick.ask >= 0)
    assert all(value is None or value >= 0 for value in (tick.volume, tick.last_quantity, tick.open_interest))
    assert tick.bid is None or tick.ask is None or tick.bid <= tick.ask
    reference = FeedDecoder().to_tick(encode_frame(spec), NOW)
    assert implausible(reference) is None and reference == tick


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(_frames())
def test_every_tick_passed_on_is_plausible(spec: FrameSpec) -> None:
    _passed_on_ticks_are_plausible(spec)

"""The feed's fast decode path (slot-filled Ticks) against the reference decode, on random frames."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import struct
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import (
    BEST_FIVE_STRUCT,
    FAST_TICK_AVAILABLE,
    LTP_STRUCT,
    QUOTE_STRUCT,
    SNAP_HEAD_STRUCT,
    SNAP_TAIL_STRUCT,
    TICK_FIELD_ORDER,
    FeedDecodeError,
    FeedDecoder,
    new_tick,
    reference_tick,
)
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange
from optbot.core.events import Tick

NOW = datetime(2026, 9, 24, 4, 0, tzinfo=UTC)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
PRICE = st.integers(min_value=-(10**12), max_value=10**12)
EPOCH_MS = st.one_of(
    st.integers(min_value=-(10**15), max_value=10**17), st.sampled_from([0, 1_790_243_527_000])
)
DOUBLE = st.floats(allow_nan=False, width=64)
TOKEN = st.one_of(
    st.text(alphabet="0123456789", min_size=0, max_size=25).map(str.encode),
    st.binary(min_size=0, max_size=25),
)
INT16 = st.integers(min_value=-(2**15), max_value=2**15 - 1)


@st.composite
def random_frames(draw: st.DrawFn) -> bytes:
    """A frame of mode 1/2/3 (or any other byte) with every field random; sometimes cut short or padded."""
    mode = draw(st.sampled_from([1, 2, 3, 0, 4, 255]))
    exchange_type = draw(st.sampled_from([1, 2, 3, 4, 5, 7, 13, 0, 99]))
    head = (mode, exchange_type, draw(TOKEN), draw(INT64), draw(EPOCH_MS), draw(PRICE))
    ltp_frame = LTP_STRUCT.pack(*head)
    quote_tail = (draw(INT64), draw(PRICE), draw(INT64), draw(DOUBLE), draw(DOUBLE))
    ohlc = tuple(draw(PRICE) for _ in range(4))
    quote_frame = QUOTE_STRUCT.pack(*head, *quote_tail, *ohlc)
    levels = [
        value
        for _ in range(10)
        for value in (draw(st.sampled_from([0, 1])), draw(INT64), draw(PRICE), draw(INT16))
    ]
    snap_frame = (
        SNAP_HEAD_STRUCT.pack(*head, *quote_tail, *ohlc, draw(INT64), draw(INT64), draw(DOUBLE))
        + BEST_FIVE_STRUCT.pack(*levels)
        + SNAP_TAIL_STRUCT.pack(*(draw(PRICE) for _ in range(4)))
    )
    frame = draw(st.sampled_from([ltp_frame, quote_frame, snap_frame]))
    cut = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=len(frame))))
    return (frame[:cut] if cut is not None else frame) + draw(st.binary(max_size=8))


def _outcome(decode: object) -> tuple[str, object]:
    assert callable(decode)
    try:
        return "tick", decode()
    except FeedDecodeError as exc:
        return "error", exc.reason
    except (struct.error, IndexError, ValueError) as exc:
        return "error", type(exc).__name__


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    frames=st.lists(random_frames(), min_size=1, max_size=12),
    symbols=st.dictionaries(st.text(max_size=5), st.text(max_size=8)),
)
def test_fast_decode_equals_reference_decode(frames: list[bytes], symbols: dict[str, str]) -> None:
    decoder = FeedDecoder(symbols=symbols, source="ws")  # reused: token and timestamp caches exercised
    for frame in frames:
        fast = _outcome(lambda frame=frame: decoder.to_tick(frame, NOW))
        slow = _outcome(lambda frame=frame: reference_tick(frame, NOW, symbols, "ws"))
        assert fast == slow, frame.hex()
        if fast[0] == "tick":
            fast_tick, slow_tick = fast[1], slow[1]
            assert type(fast_tick) is Tick and type(slow_tick) is Tick
            assert hash(fast_tick) == hash(slow_tick)
            assert [getattr(fast_tick, name) for name in TICK_FIELD_ORDER] == [
                getattr(slow_tick, name) for name in TICK_FIELD_ORDER
            ]


def test_tick_layout_is_the_one_the_fast_path_fills() -> None:
    assert FAST_TICK_AVAILABLE
    assert tuple(field.name for field in dataclasses.fields(Tick)) == TICK_FIELD_ORDER


def test_new_tick_is_an_ordinary_tick() -> None:
    args = (NOW, "3045", Exchange.NSE, "SBIN-EQ", 978.5, NOW, 978.45, 978.55, 10, 2, None, "ws")
    fast = new_tick(*args)
    built = Tick(*args)
    assert type(fast) is Tick and fast == built and hash(fast) == hash(built) and repr(fast) == repr(built)
    assert dataclasses.replace(fast, ltp=1.0) == dataclasses.replace(built, ltp=1.0)
    assert pickle.loads(pickle.dumps(fast)) == built and copy.deepcopy(fast) == built
    assert dataclasses.asdict(fast) == dataclasses.asdict(built)


def test_market_feed_decodes_with_the_fast_path() -> None:
    clock = SimClock(NOW)
    feed = MarketFeed(
        BrokerSettings(), clock, lambda: FeedCredentials("A1", "key", "jwt", "feed"), url="ws://127.0.0.1:9/x"
    )
    assert feed.decoder.tick_factory is new_tick
    ticks: list[Tick] = []
    feed.on_tick = ticks.append
    feed.on_frame(LTP_STRUCT.pack(1, 2, b"58784", 1, 1_790_243_527_000, 12_345))
    assert len(ticks) == 1 and type(ticks[0]) is Tick and ticks[0].ltp == 123.45
    assert ticks[0] == reference_tick(LTP_STRUCT.pack(1, 2, b"58784", 1, 1_790_243_527_000, 12_345), NOW, {})


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    frames=st.lists(random_frames(), min_size=1, max_size=12),
    symbols=st.dictionaries(st.text(max_size=5), st.text(max_size=8)),
)
def test_inline_ltp_path_equals_the_general_path(frames: list[bytes], symbols: dict[str, str]) -> None:
    """`try_tick` builds known tokens' LTP ticks inline; each frame, twice over (so the token cache is
    warm the second time), gives what the general path gives, with the same counters."""
    inline = FeedDecoder(symbols=symbols)
    general = FeedDecoder(symbols=symbols)
    for frame in frames + frames:
        fast, checked = inline.try_tick(frame, NOW), general.checked_tick(frame, NOW)
        assert fast == checked, frame.hex()
        assert fast is None or (type(fast) is Tick and hash(fast) == hash(checked))
    assert inline.decoded == general.decoded and inline.skipped == general.skipped


def test_inline_ltp_path_drops_a_negative_price_of_a_known_token() -> None:
    decoder = FeedDecoder()
    assert decoder.try_tick(LTP_STRUCT.pack(1, 2, b"58784", 1, 1_790_243_527_000, 12_345), NOW) is not None
    assert decoder.try_tick(LTP_STRUCT.pack(1, 2, b"58784", 2, 1_790_243_527_000, -5), NOW) is None
    assert decoder.skipped == {"negative_price": 1} and decoder.decoded == 1

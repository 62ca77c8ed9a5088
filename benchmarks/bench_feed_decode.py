"""Feed decode throughput: WS V2 frames -> Tick objects, beside raw struct unpacking (issue 4 numbers).

Rates are frames per CPU-second of this process (best of ROUNDS), so other work on a shared machine
does not count. Targets: >= 1,000,000 LTP frames/s and >= 500,000 QUOTE frames/s on one core. Every
rate is measured in this run: raw `struct` unpacking, the bare `Tick` constructor, the reference
decode (`reference_tick`: full `decode_packet` then `Tick(...)`), the general path
(`FeedDecoder.checked_tick`: every frame through `to_tick` and the plausibility check, as `try_tick`
did for every frame before issue 15) and the production path (`FeedDecoder.try_tick`, which
`MarketFeed.on_frame` calls: LTP frames of a known token built inline, the rest by the general path).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime

from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import LTP_STRUCT, QUOTE_STRUCT, FeedDecoder, reference_tick
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange
from optbot.core.events import Tick
from optbot.test_kit.broker import FrameSpec, encode_frame

RECORDED_QUOTE = base64.b64decode(
    "AgEzMDQ1AAAAAAAAAAAAAAAAAAAAAAAAAAAAIysNAQAAAABYWdTSoAEAADp+AQAAAAAAAgAAAAAAAABafwEAAAAAAOLozQAA"
    "AAAAAAAAAOT9IEEAAAAAyOcjQbZ/AQAAAAAAgIMBAAAAAAAsfQEAAAAAAFKEAQAAAAAA"
)
FRAMES = 200_000
ROUNDS = 5


def _rate(run: Callable[[list[bytes]], object], frames: list[bytes]) -> float:
    """Frames per second of this process's CPU time, best of ROUNDS: on a shared machine, wall time
    also counts the time spent waiting for a core."""
    best = 0.0
    for _ in range(ROUNDS):
        started = time.process_time()
        run(frames)
        elapsed = max(time.process_time() - started, 1e-9)
        best = max(best, len(frames) / elapsed)
    return best


def main() -> None:
    now = datetime(2026, 9, 24, 4, 0, tzinfo=UTC)
    tokens = [str(40000 + i) for i in range(200)]
    ltp_frames = [
        encode_frame(
            FrameSpec(
                tokens[i % 200],
                10_000 + i,
                mode=1,
                exchange_type=2,
                exchange_time_ms=1_790_243_527_000 + i // 50,
            )
        )
        for i in range(FRAMES)
    ]
    quote_frames = [RECORDED_QUOTE] * FRAMES

    def raw_ltp(frames: list[bytes]) -> None:
        unpack = LTP_STRUCT.unpack_from
        for frame in frames:
            unpack(frame)

    def raw_quote(frames: list[bytes]) -> None:
        unpack = QUOTE_STRUCT.unpack_from
        for frame in frames:
            unpack(frame)

    def tick_only(frames: list[bytes]) -> None:
        for _ in frames:
            Tick(now, "40000", Exchange.NFO, "40000", 100.0, now, None, None, None, None, None, "ws")

    decoder = FeedDecoder()
    constructor_decoder = FeedDecoder(tick_factory=Tick)
    symbols: dict[str, str] = {}

    def decode_with_constructor(frames: list[bytes]) -> None:
        try_tick = constructor_decoder.try_tick
        for frame in frames:
            try_tick(frame, now)

    def general_path(frames: list[bytes]) -> None:
        checked_tick = decoder.checked_tick
        for frame in frames:
            checked_tick(frame, now)

    def decode(frames: list[bytes]) -> None:
        try_tick = decoder.try_tick
        for frame in frames:
            try_tick(frame, now)

    def decode_and_keep(frames: list[bytes]) -> None:
        kept: list[Tick | None] = []
        keep = kept.append
        try_tick = decoder.try_tick
        for frame in frames:
            keep(try_tick(frame, now))

    last: list[Tick] = []

    def remember(tick: Tick) -> None:
        if last:
            last[0] = tick
        else:
            last.append(tick)

    feed = MarketFeed(
        BrokerSettings(),
        SimClock(now),
        lambda: FeedCredentials("BENCH", "key", "jwt", "feed"),
        on_tick=remember,
        url="ws://127.0.0.1:9/bench",
    )

    def market_feed(frames: list[bytes]) -> None:
        on_frame = feed.on_frame
        for frame in frames:
            on_frame(frame)

    def reference(frames: list[bytes]) -> None:
        for frame in frames:
            reference_tick(frame, now, symbols)

    results = {
        "raw struct unpack, LTP": _rate(raw_ltp, ltp_frames),
        "raw struct unpack, QUOTE": _rate(raw_quote, quote_frames),
        "Tick construction alone (no decode)": _rate(tick_only, ltp_frames),
        "reference decode -> Tick(), LTP": _rate(reference, ltp_frames),
        "reference decode -> Tick(), QUOTE": _rate(reference, quote_frames),
        "same decoder via Tick() constructor, LTP": _rate(decode_with_constructor, ltp_frames),
        "same decoder via Tick() constructor, QUOTE": _rate(decode_with_constructor, quote_frames),
        "FeedDecoder.checked_tick (general path), LTP": _rate(general_path, ltp_frames),
        "FeedDecoder.try_tick, LTP": _rate(decode, ltp_frames),
        "FeedDecoder.try_tick, QUOTE": _rate(decode, quote_frames),
        "FeedDecoder.try_tick, LTP, all ticks kept": _rate(decode_and_keep, ltp_frames),
        "MarketFeed.on_frame (stats+clock+callback), LTP": _rate(market_feed, ltp_frames),
    }
    for name, rate in results.items():
        print(f"{name:50s} {rate:14,.0f} frames/s")
    ltp = results["FeedDecoder.try_tick, LTP"]
    quote = results["FeedDecoder.try_tick, QUOTE"]
    print(f"LTP decode vs raw unpack:         {ltp / results['raw struct unpack, LTP']:.2%}")
    print(f"QUOTE decode vs raw unpack:       {quote / results['raw struct unpack, QUOTE']:.2%}")
    print(f"LTP decode vs bare Tick():        {ltp / results['Tick construction alone (no decode)']:.2%}")
    print(f"LTP fast vs reference decode:     {ltp / results['reference decode -> Tick(), LTP']:.2f}x")
    before_ltp = results["same decoder via Tick() constructor, LTP"]
    print(f"LTP fast vs Tick() constructor:   {ltp / before_ltp:.2f}x (the pre-fast-path decoder)")
    general = results["FeedDecoder.checked_tick (general path), LTP"]
    print(f"LTP try_tick vs general path:     {ltp / general:.2f}x (the LTP path before issue 15)")
    print(f"QUOTE fast vs reference decode:   {quote / results['reference decode -> Tick(), QUOTE']:.2f}x")
    print("(all ticks kept: 200,000 live Ticks make the cyclic GC run; a consumer that keeps up frees them)")
    print(f"target LTP >= 1,000,000/s:  {'met' if ltp >= 1_000_000 else 'NOT met'} ({ltp / 1_000_000:.2f}x)")
    print(f"target QUOTE >= 500,000/s:  {'met' if quote >= 500_000 else 'NOT met'} ({quote / 500_000:.2f}x)")


if __name__ == "__main__":
    main()

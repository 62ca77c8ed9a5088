"""Feed decode throughput: WS V2 frames -> Tick objects, beside raw struct unpacking (issue 4 numbers).

Targets: >= 1,000,000 LTP frames/s and >= 500,000 QUOTE frames/s on one core.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime

from optbot.broker.angelone.feed_codec import LTP_STRUCT, QUOTE_STRUCT, FeedDecoder
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
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run(frames)
        elapsed = time.perf_counter() - started
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

    def decode(frames: list[bytes]) -> None:
        to_tick = decoder.to_tick
        for frame in frames:
            to_tick(frame, now)

    results = {
        "raw struct unpack, LTP": _rate(raw_ltp, ltp_frames),
        "raw struct unpack, QUOTE": _rate(raw_quote, quote_frames),
        "Tick construction alone (no decode)": _rate(tick_only, ltp_frames),
        "FeedDecoder -> Tick, LTP": _rate(decode, ltp_frames),
        "FeedDecoder -> Tick, QUOTE": _rate(decode, quote_frames),
    }
    for name, rate in results.items():
        print(f"{name:40s} {rate:14,.0f} frames/s")
    ltp = results["FeedDecoder -> Tick, LTP"]
    quote = results["FeedDecoder -> Tick, QUOTE"]
    print(f"LTP decode vs raw unpack:   {ltp / results['raw struct unpack, LTP']:.2%}")
    print(f"QUOTE decode vs raw unpack: {quote / results['raw struct unpack, QUOTE']:.2%}")
    print(f"LTP decode vs bare Tick():  {ltp / results['Tick construction alone (no decode)']:.2%}")
    print(f"target LTP >= 1,000,000/s:  {'met' if ltp >= 1_000_000 else 'NOT met'} ({ltp / 1_000_000:.2f}x)")
    print(f"target QUOTE >= 500,000/s:  {'met' if quote >= 500_000 else 'NOT met'} ({quote / 500_000:.2f}x)")


if __name__ == "__main__":
    main()

"""10^6 fuzzed WS V2 frames through the production decoder: every one decoded or counted and skipped."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from optbot.broker.angelone.feed_codec import FeedDecoder
from optbot.core.events import Tick
from optbot.test_kit.broker import FrameSpec, encode_frame
from tests.soak.figures import CampaignRow, record, record_campaign

FRAMES = 1_000_000
NOW = datetime(2026, 8, 3, 4, 0, tzinfo=UTC)


def _valid_frames(rng: random.Random) -> list[bytes]:
    frames = []
    for mode in (1, 2, 3):
        for exchange_type in (1, 2, 3, 4, 5, 7, 13):
            spec = FrameSpec(
                str(rng.randint(1, 99_999)),
                rng.randint(1, 10_000_000),
                mode=mode,
                exchange_type=exchange_type,
                volume=rng.randint(0, 10**7),
                last_quantity=rng.randint(0, 1000),
                open_interest=rng.randint(0, 10**6),
            )
            frames.append(encode_frame(spec))
    return frames


def _plausible(tick: Tick) -> bool:
    """What the decoder promises of every tick it passes on (issue 18 defect 6): no negative price,
    quantity or open interest, and never a crossed bid/ask."""
    prices_ok = tick.ltp >= 0 and all(side is None or side >= 0 for side in (tick.bid, tick.ask))
    sizes = (tick.volume, tick.last_quantity, tick.open_interest)
    crossed = tick.bid is not None and tick.ask is not None and tick.bid > tick.ask
    return prices_ok and all(size is None or size >= 0 for size in sizes) and not crossed


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    kind = rng.randrange(6)
    data = bytearray(frame)
    if kind == 0:  # flipped bytes anywhere
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:  # truncated
        del data[rng.randrange(len(data)) :]
    elif kind == 2:  # trailing junk
        data += rng.randbytes(rng.randint(1, 64))
    elif kind == 3:  # random bytes of a plausible length
        data = bytearray(rng.randbytes(rng.choice([0, 1, 51, 123, 379, rng.randint(2, 500)])))
    elif kind == 4:  # a different mode byte than the layout
        data[0] = rng.randrange(256)
    else:  # extreme numeric fields (price, volume) in place
        for offset in (43, 51, 67):
            if offset + 8 <= len(data):
                data[offset : offset + 8] = rng.randbytes(8)
    return bytes(data)


@pytest.mark.soak
def test_a_million_fuzzed_frames_never_escape_the_decoder() -> None:
    rng = random.Random(18)
    valid = _valid_frames(rng)
    decoder = FeedDecoder()
    escaped: list[str] = []
    non_finite = implausible_passed = 0
    for number in range(FRAMES):
        frame = rng.choice(valid) if number % 10 == 0 else _mutate(rng, rng.choice(valid))
        try:
            tick = decoder.try_tick(frame, NOW)
        except Exception as exc:  # the contract: nothing escapes try_tick
            escaped.append(f"{type(exc).__name__}: {exc}")
            continue
        if tick is not None and not math.isfinite(tick.ltp):
            non_finite += 1
        elif tick is not None and not _plausible(tick):
            implausible_passed += 1
    skipped = sum(decoder.skipped.values())
    record("fuzzed feed frames", "frames", FRAMES, ">= 1,000,000")
    record("fuzzed feed frames", "decoded", decoder.decoded)
    record("fuzzed feed frames", "skipped (counted by reason)", skipped)
    record("fuzzed feed frames", "escaped exceptions", len(escaped), "0")
    record("fuzzed feed frames", "decoded with a non-finite price", non_finite, "0")
    record("fuzzed feed frames", "passed on implausible (negative, crossed)", implausible_passed, "0")
    record_campaign(
        CampaignRow(
            "fuzzed feed frames",
            runs=FRAMES,
            faults=FRAMES - FRAMES // 10,
            met=not (escaped or non_finite or implausible_passed),
            note=f"{len(escaped)} exceptions escaped the decoder",
        )
    )
    assert escaped == [], escaped[:5]
    assert decoder.decoded + skipped == FRAMES
    assert non_finite == 0 and implausible_passed == 0

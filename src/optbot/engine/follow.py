"""A clock that follows the simulator's replay clock from another process (`optbot sim serve --speed X`).

The bot's session rules must fire on replay time, not wall time, when it trades against a replay
running faster than real time (issue 8). `FollowingClock` is a `SimClock` moved forward by polling
the simulator's `GET /sim/v1/clock`; timers and sleepers wake in order as replay time passes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx

from optbot.core.clock import Clock, LiveClock, SimClock
from optbot.core.errors import UserError
from optbot.core.timeutil import parse_iso
from optbot.sim.admin_client import check_loopback

log = logging.getLogger("optbot.engine.follow")

CLOCK_PATH = "/sim/v1/clock"


async def fetch_sim_time(client: httpx.AsyncClient, base_url: str) -> datetime:
    response = await client.get(base_url.rstrip("/") + CLOCK_PATH)
    response.raise_for_status()
    return parse_iso(str(response.json()["utc"]))


class FollowingClock(SimClock):
    """Replay time, polled from the simulator every `poll_seconds` of real time."""

    def __init__(
        self, start: datetime, base_url: str, poll_seconds: float = 0.02, replay_speed: float | None = None
    ) -> None:
        super().__init__(start)
        self.base_url = check_loopback(base_url)
        self.poll_seconds = poll_seconds
        #: the simulator's replay speed (x real time) as its clock reports it; None: as fast as it can
        self.replay_speed = replay_speed
        self.polls = 0
        self._transport_clock = LiveClock()

    def monotonic(self) -> float:
        """Real elapsed seconds: socket heartbeats and stall watchdogs are transport matters, and a
        replay at 150x would otherwise turn a 0.2 s pause of this process into 30 "seconds" of silence."""
        return self._transport_clock.monotonic()

    def realtime(self) -> Clock:
        """Wall time: the simulator, like the broker, counts requests per real second, and its clock
        stops when the replay ends, so nothing that paces requests may wait on replay time."""
        return self._transport_clock

    @classmethod
    async def connect(cls, base_url: str, poll_seconds: float = 0.02) -> FollowingClock:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(check_loopback(base_url) + CLOCK_PATH)
            response.raise_for_status()
            reply = response.json()
        speed = reply.get("speed")
        replay_speed = float(speed) if isinstance(speed, int | float) and speed > 0 else None
        return cls(parse_iso(str(reply["utc"])), base_url, poll_seconds, replay_speed)

    async def follow(self, stop: asyncio.Event) -> None:
        """Move forward to the simulator's time until `stop`; a missed poll keeps the last time."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            while not stop.is_set():
                await asyncio.sleep(self.poll_seconds)
                try:
                    remote = await fetch_sim_time(client, self.base_url)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    log.warning("simulator clock unavailable: %s", type(exc).__name__)
                    continue
                self.polls += 1
                if remote > self.now_utc():
                    self.advance_to(remote)


@asynccontextmanager
async def session_clock(follow_sim: str | None) -> AsyncIterator[Clock]:
    """The clock a command runs on: the simulator's replay clock at `follow_sim`, followed in the
    background for as long as the block runs (`--follow-sim URL`), else wall time. `optbot run` and
    `optbot reconcile` both take it from here, so a command run beside a replayed session reads the
    session's trading day, never the wall clock's."""
    if not follow_sim:
        yield LiveClock()
        return
    try:
        follower = await FollowingClock.connect(follow_sim)
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise UserError(
            f"--follow-sim {follow_sim}: no simulator clock answers there (GET {CLOCK_PATH}: "
            f"{type(exc).__name__}); is `optbot sim serve` running on that port?"
        ) from None
    stop = asyncio.Event()
    following = asyncio.create_task(follower.follow(stop))
    try:
        yield follower
    finally:
        stop.set()
        await asyncio.gather(following, return_exceptions=True)

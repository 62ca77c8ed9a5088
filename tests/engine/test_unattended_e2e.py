"""Issue 18 against the real processes: `optbot sim serve` replaying 2020-11-18 faster than real time and
`optbot run --mode live --confirm-live --follow-sim` trading it over loopback.

- A silent feed (`sim fault feed_stall`) is noticed within the configured window: critical alert, new
  entries paused, resubscribe then reconnect, REST quotes meanwhile; data flowing again resumes entries
  with an alert. A later `drop_ws` heals too. The day then ends on its own: EOD reconciliation, daily
  report and the broker logout (SEBI: no session carried into the next day).
- When the replay's clock stops, EOD still completes and SIGTERM still stops the bot promptly; the
  simulator's rate limits count real seconds, so the official SDK can log in twice 1.5 s apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest

from optbot.core.timeutil import IST
from optbot.test_kit.live_run import (
    SIM_SECRETS,
    SimProcess,
    base_env,
    eventually,
    read_status,
    start_bot,
    start_simulator,
    stop_process,
)
from optbot.test_kit.ops import JsonReceiver
from optbot.test_kit.smartapi_sdk import import_sdk_module

DAY = "2020-11-18"
#: Feed timing for the test: a stall is a 2 s silence; resubscribing gets 1 s before a reconnect.
FAST_FEED = {
    "BROKER__FEED_STALE_SECONDS": "2",
    "BROKER__FEED_RESUBSCRIBE_WAIT_SECONDS": "1",
    "BROKER__RECONNECT_INITIAL_DELAY_SECONDS": "0.2",
    "BROKER__RECONNECT_MAX_DELAY_SECONDS": "1",
    "BROKER__REST_FALLBACK_INTERVAL_SECONDS": "0.5",
    "MODE": "live",  # the config's switch; --confirm-live is the command line's
}


@dataclass
class LiveRun:
    sim: SimProcess
    root: Path
    env: dict[str, str]
    alerts: JsonReceiver
    tmp: Path

    def bot(self, name: str = "bot") -> Any:
        arguments = ("--mode", "live", "--confirm-live", "--follow-sim", self.sim.base_url, "--sessions", "1")
        return start_bot(self.env, self.tmp / f"{name}.log", *arguments)

    def status(self) -> dict[str, Any]:
        return read_status(self.root)

    def engine(self) -> dict[str, Any]:
        return dict(self.status().get("engine") or {})

    def feed(self) -> dict[str, Any]:
        return dict(self.status().get("feed") or {})

    def titled(self, title: str) -> list[dict[str, Any]]:
        """Notifications whose title (`[PRIORITY] title`) ends with `title`."""
        return [item for item in self.alerts.received if str(item.get("title", "")).endswith(f"] {title}")]


async def live_run(tmp: Path, *, start: str, end: str, speed: float) -> AsyncIterator[LiveRun]:
    alerts = JsonReceiver()
    port = await alerts.start()
    root = tmp / "root"
    env = base_env(root, SIM__REPLAY_START_TIME_IST=start, SIM__REPLAY_END_TIME_IST=end, **FAST_FEED)
    env["OPTBOT_SECRET_NOTIFY_URLS"] = f"json://127.0.0.1:{port}/optbot"
    sim = start_simulator(env, tmp / "sim.log", speed=speed, day=DAY)
    try:
        yield LiveRun(sim, root, sim.bot_env(env), alerts, tmp)
    finally:
        sim.stop()
        await alerts.stop()


@pytest.fixture
async def trading_day(tmp_path: Path) -> AsyncIterator[LiveRun]:
    async for run in live_run(tmp_path, start="13:15", end="16:05", speed=100):
        yield run


@pytest.fixture
async def stopped_replay(tmp_path: Path) -> AsyncIterator[LiveRun]:
    """The replay ends at 15:40, after the close and before the post-market end: its clock stops."""
    async for run in live_run(tmp_path, start="14:40", end="15:40", speed=100):
        yield run


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_a_silent_feed_is_noticed_healed_and_the_day_still_ends(trading_day: LiveRun) -> None:
    run = trading_day
    bot = run.bot()
    log = run.tmp / "bot.log"
    try:
        await eventually(
            lambda: run.status().get("phase") == "trading" and run.feed().get("receiving") is True,
            90,
            f"the bot trading with data flowing: {log.read_text()}",
        )
        assert run.engine()["entries_paused"] == {}

        run.sim.fault("feed_stall", stalled=True)  # the socket stays open and answers pings; no data
        await eventually(lambda: run.titled("Market data feed stalled"), 10, "the stall alert")
        await eventually(lambda: "feed" in run.engine().get("entries_paused", {}), 5, "entries paused")
        assert "market data interrupted" in run.engine()["entries_paused"]["feed"]
        await eventually(lambda: run.feed().get("fallback_ticks", 0) > 0, 10, "REST quotes while stalled")
        await eventually(lambda: run.feed().get("reconnects", 0) >= 1, 10, "a reconnect after resubscribing")
        feed = run.feed()
        assert feed["resubscribes"] >= 1 and feed["stalls"] == 1, feed
        assert run.engine()["entries_paused"], "entries resumed while the feed was still silent"

        run.sim.fault("feed_stall", stalled=False)
        recovered = "Market data flowing again"
        await eventually(lambda: run.titled(recovered), 10, "the recovery alert")
        await eventually(lambda: run.engine().get("entries_paused") == {}, 10, "entries resumed")
        await eventually(lambda: run.feed().get("receiving") is True, 5, "the feed receiving")

        reconnects = run.feed()["reconnects"]
        run.sim.fault("drop_ws")  # a later drop must heal as well (it used to leave the socket down)
        await eventually(lambda: len(run.titled(recovered)) >= 2, 15, "recovery after a drop")
        await eventually(lambda: run.feed().get("outages") == 2 and run.feed().get("receiving"), 5, "status")
        feed = run.feed()
        assert feed["reconnects"] > reconnects, feed
        assert feed["frames"] > 0 and feed["frames_dropped"] == {}, feed  # the simulator sends sane quotes

        assert await asyncio.to_thread(bot.wait, 240) == 0, log.read_text()
    finally:
        stop_process(bot)
    output = log.read_text()
    for stage in ("EOD reconciliation", "daily report", "logout"):
        assert f"PASS {stage}" in output, output
    stalled = run.titled("Market data feed stalled")
    assert len(stalled) == 1 and stalled[0]["title"].startswith("[CRITICAL]"), stalled
    assert len(run.titled("Market data socket down")) == 1  # the drop: one critical alert, then healed


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_stopped_replay_clock_neither_hangs_eod_nor_sigterm(
    stopped_replay: LiveRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = stopped_replay
    bot = run.bot()
    log = run.tmp / "bot.log"
    try:
        await eventually(
            lambda: "operations" in {stage["name"] for stage in run.status().get("stages", [])},
            90,
            f"the market loop: {log.read_text()}",
        )
        ended = datetime(2020, 11, 18, 15, 40, tzinfo=IST)
        await eventually(lambda: run.sim.clock_utc() >= ended, 90, "the replay's end")
        await asyncio.sleep(
            2.0
        )  # the clock has stopped; the bot waits for a post-market end that never comes
        assert run.status().get("clock_ist") == ended.isoformat()
        assert bot.poll() is None
        bot.terminate()  # SIGTERM
        assert await asyncio.to_thread(bot.wait, 30) == 0, log.read_text()
    finally:
        stop_process(bot)
    output = log.read_text()
    assert "PASS EOD reconciliation" in output and "PASS logout" in output, output

    # The official SDK sees real-second rate limits on the stopped replay: two logins 1.5 s apart.
    monkeypatch.chdir(run.tmp)  # the SDK writes ./logs
    module = import_sdk_module("smartConnect")
    monkeypatch.setattr(module.SmartConnect, "_rootUrl", run.sim.base_url)
    sdk = module.SmartConnect(api_key=SIM_SECRETS["OPTBOT_SECRET_API_KEY"], root=run.sim.base_url, timeout=5)
    totp = pyotp.TOTP(SIM_SECRETS["OPTBOT_SECRET_TOTP_SECRET"])
    pin = SIM_SECRETS["OPTBOT_SECRET_PIN"]
    first = await asyncio.to_thread(sdk.generateSession, "S1234567", pin, totp.now())
    await asyncio.sleep(1.5)
    second = await asyncio.to_thread(sdk.generateSession, "S1234567", pin, totp.now())
    assert first["status"] is True and second["status"] is True, (first, second)

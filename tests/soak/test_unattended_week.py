"""`make soak`: an unattended simulated week against the real processes.

One `optbot sim serve` replays five consecutive sample sessions back to back (09:00-17:00 IST each) and
one `optbot run --mode live --confirm-live --follow-sim`, with no session limit, trades them as a user's
systemd service would run it. Each day the bot is SIGKILLed the moment it has an order in flight or a
position open and started again at once (`Restart=always`), then a fault (the issue's classes in turn)
is injected while it holds a position (or by 14:30 if it holds none). Each day must end flat at the
broker and in the store; after the week the books must match: no duplicate order, no lost fill, no
unexplained reconciliation break.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from optbot.test_kit.live_run import wait_until
from tests.soak.figures import record
from tests.soak.live_campaign import (
    FAULT_CLASSES,
    RECOVERY_LIMIT_SECONDS,
    SPEED,
    CampaignTally,
    LiveBot,
    inject,
    read_books,
    record_tally,
    replay_time,
    restart_after_kill,
    start_replay,
    wait_for_exposure,
)

#: Five consecutive NSE sessions of the sample data (2020-11-16 was a trading holiday, Diwali
#: Balipratipada). `OPTBOT_SOAK_WEEK_DAYS` shortens the week (the full five is the default).
WEEK = ("2020-11-17", "2020-11-18", "2020-11-19", "2020-11-20", "2020-11-23")
DAYS = WEEK[: int(os.environ.get("OPTBOT_SOAK_WEEK_DAYS", str(len(WEEK))))]
#: Each day is replayed to 17:00 IST: the EOD after the 16:00 post-market end has a replayed hour
#: (a real evening has more) before the replay moves on to the next morning.
DAY_END_IST = "17:00"
#: Real seconds a replayed day takes (09:00-17:00 is 28,800 replay seconds).
SESSION_SECONDS = 28_800 / SPEED


@pytest.mark.soak
def test_an_unattended_week_with_a_fault_and_a_crash_every_day(tmp_path: Path) -> None:
    tally = CampaignTally("unattended week (fault + kill -9 daily)")
    sim, env, root = start_replay(tmp_path, DAYS, DAY_END_IST)
    bot = LiveBot(sim, sim.bot_env(env), root, tmp_path, sessions=None)
    exposed_faults = exposed_kills = 0
    try:
        bot.start()
        for number, day in enumerate(DAYS):
            fault = FAULT_CLASSES[number % len(FAULT_CLASSES)]
            opened = replay_time(day, "09:20")
            wait_until(
                lambda opened=opened: sim.clock_utc() >= opened and bot.healthy(),  # type: ignore[misc]
                SESSION_SECONDS * 2 + RECOVERY_LIMIT_SECONDS,
                f"{day}: the session trading",
                explain=bot.explain,
            )
            # the crash first: a restart at this replay speed takes a replayed hour or more, so the
            # kill comes early enough for the restarted bot to trade before the flatten deadline
            exposed_kills += wait_for_exposure(sim, bot, replay_time(day, "12:50"))
            recovery = restart_after_kill(bot)
            tally.kills += 1
            tally.recoveries.append(recovery)
            record(tally.name, f"{day} kill -9", f"restarted and trading in {recovery:.1f} s")

            exposed_faults += wait_for_exposure(sim, bot, replay_time(day, "14:30"))
            injection = inject(sim, bot, fault, not_after=replay_time(day, "15:20"))
            tally.faults += 1 if injection.requests_hit else 0
            tally.recoveries.append(injection.recovery_seconds)
            record(tally.name, f"{day} fault", f"{fault.name}, healed in {injection.recovery_seconds:.1f} s")

            closed = replay_time(day, "15:35")  # after the flatten deadline, before the replay moves on
            wait_until(
                lambda closed=closed: sim.clock_utc() >= closed,  # type: ignore[misc]
                SESSION_SECONDS + RECOVERY_LIMIT_SECONDS,
                f"{day}: 15:35",
                poll=0.05,
            )
            books = read_books(sim, root, day)
            tally.runs += 1
            tally.add_books(books, day)
            if books.open_at_broker or books.open_in_store:
                tally.problems.append(f"{day}: not flat after the flatten deadline")
        last_close = replay_time(DAYS[-1], "16:00")
        wait_until(
            lambda: sim.clock_utc() >= last_close and "PASS logout" in bot.log().read_text(),
            SESSION_SECONDS + RECOVERY_LIMIT_SECONDS,
            "the week's last EOD",
            explain=bot.explain,
        )
        books = read_books(sim, root, DAYS[-1])
        assert bot.process is not None and bot.process.poll() is None, "the bot must still be running"
    finally:
        bot.stop()
        sim.stop()
    tally.add_books(books, "end of the week")
    output = bot.output()
    eod_passes = output.count("PASS EOD reconciliation")
    if eod_passes < len(DAYS):
        tally.problems.append(f"EOD reconciliation passed {eod_passes} times for {len(DAYS)} sessions")
    campaign = tally.name
    record(campaign, "sessions back to back", len(DAYS), ">= 5 (full size)")
    record(
        campaign,
        "faults / kills with an order in flight or a position open",
        f"{exposed_faults} / {exposed_kills}",
    )
    record(campaign, "orders at the broker / fills", f"{books.orders_at_broker} / {books.broker_fills}")
    record(campaign, "EOD reconciliations passed", eod_passes)
    met = record_tally(tally, note=f"{len(DAYS)} sessions, {bot.starts} bot starts")
    assert met, tally.problems

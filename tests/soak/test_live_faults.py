"""`make soak`: each fault class of issue 18 against the real processes, over a replayed session.

For each class a fresh `optbot sim serve` replays a whole session (09:00-16:05 IST) and `optbot run
--mode live --confirm-live --follow-sim` trades it over loopback. The fault is injected the moment the
bot has an order in flight or a position open; the bot must trade normally again (entries resumed, data
flowing, nothing blocked), end the day flat with EOD reconciliation, and its books must match the
broker's: no duplicate order, no lost fill, no unexplained reconciliation break.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak.figures import record
from tests.soak.live_campaign import (
    FAULT_CLASSES,
    CampaignTally,
    FaultClass,
    LiveBot,
    inject,
    read_books,
    record_tally,
    replay_time,
    start_replay,
    wait_for_exposure,
)

#: A sample session on which the default strategies trade (an entry near 12:40 IST, exit near 13:10).
DAY = "2020-11-17"


@pytest.mark.soak
@pytest.mark.parametrize("fault", FAULT_CLASSES, ids=[fault.name for fault in FAULT_CLASSES])
def test_each_fault_class_heals_with_orders_in_flight(fault: FaultClass, tmp_path: Path) -> None:
    tally = CampaignTally(f"live fault: {fault.name}")
    sim, env, root = start_replay(tmp_path, [DAY])
    bot = LiveBot(sim, sim.bot_env(env), root, tmp_path, sessions=1)
    try:
        bot.start()
        exposed = wait_for_exposure(sim, bot, replay_time(DAY, "14:00"))
        injection = inject(sim, bot, fault, not_after=replay_time(DAY, "15:20"))
        assert bot.process is not None
        assert bot.process.wait(timeout=600) == 0, bot.output()[-3000:]
        books = read_books(sim, root, DAY)
    finally:
        bot.stop()
        sim.stop()
    output = bot.output()
    tally.runs = 1
    tally.faults = 1 if injection.requests_hit else 0
    tally.exposed = int(exposed)
    tally.recoveries.append(injection.recovery_seconds)
    tally.add_books(books, DAY)
    for stage in ("EOD reconciliation", "logout"):
        if f"PASS {stage}" not in output:
            tally.problems.append(f"{DAY}: no PASS {stage}")
    campaign = tally.name
    record(campaign, "requests the fault answered (1 for a stall or a drop)", injection.requests_hit)
    record(campaign, "injected with an order in flight or a position open", "yes" if exposed else "no")
    record(campaign, "orders at the broker / fills", f"{books.orders_at_broker} / {books.broker_fills}")
    met = record_tally(tally, note="orders in flight" if exposed else "no exposure before 14:00")
    assert injection.requests_hit > 0, f"{fault.name} never met a request"
    assert met, tally.problems

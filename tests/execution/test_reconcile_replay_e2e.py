"""`optbot reconcile` from another shell while `optbot run --mode live --confirm-live --follow-sim` trades a
replayed day: the reconciliation runs on the session's clock (the replayed 2020-11-18), never on the wall
clock's date, so the day's fills, P&L and funds compare as the bot's own reconciliations compare them.

Real processes over loopback: the simulator on a port the kernel picks, the bot following its clock,
and each `optbot reconcile` a process of its own. The replay is held once the bot holds a position, so
nothing moves while the books are compared.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from optbot.sim.admin_client import admin_request
from optbot.test_kit.live_run import (
    OPTBOT,
    SimProcess,
    base_env,
    read_status,
    start_bot,
    start_simulator,
    stop_process,
    wait_until,
)

DAY = "2020-11-18"


@dataclass
class ReplayedSession:
    sim: SimProcess
    root: Path
    env: dict[str, str]
    bot_log: Path

    def reconcile(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """`optbot reconcile ARGUMENTS` in a shell of its own, with the same environment as the bot."""
        return subprocess.run(
            [*OPTBOT, "reconcile", *arguments], env=self.env, capture_output=True, text=True, timeout=120
        )


@pytest.fixture
def trading_replay(tmp_path: Path) -> Iterator[ReplayedSession]:
    """The replay from 13:30 (the strategy's first entries come at 13:45) at 100x, held until the bot is
    up, then held again once the bot holds a position (its entry filled and booked)."""
    root = tmp_path / "root"
    env = base_env(
        root,
        MODE="live",
        SIM__REPLAY_START_TIME_IST="13:30",
        SIM__REPLAY_END_TIME_IST="16:05",
        SIM__START_PAUSED="true",
    )
    sim = start_simulator(env, tmp_path / "sim.log", speed=100, day=DAY)
    bot_env = sim.bot_env(env)
    log = tmp_path / "bot.log"
    bot = start_bot(bot_env, log, "--mode", "live", "--confirm-live", "--follow-sim", sim.base_url)
    try:
        wait_until(lambda: "PASS operations" in log.read_text(), 180, "startup", explain=log.read_text)
        admin_request(sim.base_url, "POST", "/sim/v1/clock", {"paused": False})

        def holds_a_position() -> bool:
            engine = dict(read_status(root).get("engine") or {})
            return bool(engine.get("open_positions")) and not engine.get("orders_in_flight")

        wait_until(holds_a_position, 240, "a position held", explain=lambda: log.read_text()[-3000:])
        admin_request(sim.base_url, "POST", "/sim/v1/clock", {"paused": True})
        yield ReplayedSession(sim, root, bot_env, log)
    finally:
        stop_process(bot)
        sim.stop()


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_reconcile_beside_a_replayed_session_compares_its_day(trading_replay: ReplayedSession) -> None:
    session = trading_replay
    # No flag: the running session's status names the simulator its clock follows; the reconciliation
    # follows it too. On the wall clock's date the day's fills, P&L and funds would not be compared
    # (today has none) and the broker's would read as a mismatch that halts trading until --ack.
    plain = session.reconcile("--json")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    document = json.loads(plain.stdout)
    assert document["clean"] and document["discrepancies"] == [], document
    assert document["trading_day"] == DAY and document["clock_follows"] == session.sim.base_url

    explicit = session.reconcile("--follow-sim", session.sim.base_url)
    assert explicit.returncode == 0, explicit.stdout + explicit.stderr
    assert "CLEAN" in explicit.stdout and f"clock follows {session.sim.base_url}" in explicit.stdout

    offline = session.reconcile("--offline")
    assert offline.returncode == 0 and "clean or acknowledged" in offline.stdout, offline.stdout
    assert read_status(session.root).get("engine", {}).get("trading_blocked") is None

"""`optbot run --mode paper` against `optbot sim serve`: a replayed day, stopped and restarted mid-session.

Real processes: the simulator replays 2020-11-18 faster than real time; the bot follows its clock,
trades, is stopped with SIGTERM after its first order, restarts, reconciles clean with its persisted
paper books and finishes the day — with no intent or order sent twice.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from optbot.test_kit.live_run import SimProcess, base_env, read_status, start_bot, start_simulator, wait_until


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[tuple[SimProcess, dict[str, str]]]:
    # The strategy's first entry is time-based (14:30 IST); from 11:00 at 150x the restart has ~35 s of
    # real time before the post-market ends, which a loaded 2-core machine needs.
    env = base_env(tmp_path / "root", SIM__REPLAY_START_TIME_IST="11:00", SIM__REPLAY_END_TIME_IST="16:05")
    sim = start_simulator(env, tmp_path / "sim.log", speed=150, day="2020-11-18")
    try:
        yield sim, sim.bot_env(env)
    finally:
        sim.stop()


def _bot(sim: SimProcess, env: dict[str, str], log: Path):  # type: ignore[no-untyped-def]
    return start_bot(env, log, "--mode", "paper", "--follow-sim", sim.base_url, "--sessions", "1")


@pytest.mark.timeout(420)
def test_paper_bot_survives_a_restart_mid_session_without_duplicates(
    simulator: tuple[SimProcess, dict[str, str]], tmp_path: Path
) -> None:
    sim, env = simulator
    root = tmp_path / "root"
    first = _bot(sim, env, tmp_path / "first.log")

    def traded() -> bool:
        if first.poll() is not None:
            raise AssertionError((tmp_path / "first.log").read_text())
        engine = dict(read_status(root).get("engine") or {})
        return bool(engine.get("open_positions") or engine.get("orders_in_flight"))

    wait_until(traded, 240, "the first order", poll=0.2)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0, (tmp_path / "first.log").read_text()

    second = _bot(sim, env, tmp_path / "second.log")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()
    output = (tmp_path / "second.log").read_text()
    assert "PASS startup reconciliation" in output and "PASS EOD reconciliation" in output, output

    database = sqlite3.connect(root / "state" / "optbot-paper.sqlite")
    intents = [row[0] for row in database.execute("select intent_id from intents")]
    assert len(intents) == len(set(intents))
    tags = [row[0] for row in database.execute("select ordertag from orders")]
    assert tags and len(tags) == len(set(tags))
    positions = list(database.execute("select net_quantity from positions"))
    assert all(quantity == 0 for (quantity,) in positions), positions  # flattened before the close
    final = read_status(root)
    assert final.get("sessions_run") == 1 and not final.get("last_error")

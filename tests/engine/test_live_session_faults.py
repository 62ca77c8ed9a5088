"""Issue 18 defect 2 against the real processes: `optbot sim serve` and `optbot run --mode live
--confirm-live --follow-sim`, every order over the wire.

A 403 storm on the session check during market hours pauses new entries and says so; once a session
check passes again (re-login included) entries resume by themselves and a notification says so —
instead of the day's trading ending at the first burst.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from optbot.sim.admin_client import admin_request

from .test_run_restart import OPTBOT, _status, simulator

__all__ = ["simulator"]  # the fixture, shared with the restart test

SESSION_PAUSE = "broker session unhealthy"


def _live_bot(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    command = [
        *OPTBOT,
        "run",
        "--mode",
        "live",
        "--confirm-live",
        "--follow-sim",
        f"http://127.0.0.1:{port}",
        "--sessions",
        "1",
    ]
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def _blocked(root: Path) -> str:
    engine = dict(_status(root).get("engine") or {})  # type: ignore[call-overload]
    return str(engine.get("trading_blocked") or "")


def _wait(bot: subprocess.Popen[str], predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    """Poll `predicate` until true, the bot exits or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and bot.poll() is None:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.mark.timeout(420)
def test_a_403_storm_pauses_entries_and_they_resume_once_the_session_checks_pass(
    simulator: tuple[int, dict[str, str]], tmp_path: Path
) -> None:
    port, env = simulator
    env = {
        **env,
        "OPTBOT__ENGINE__SESSION_RECOVERY_MIN_GAP_MINUTES": "0",
        "OPTBOT__ENGINE__HEALTH_CHECK_INTERVAL_MINUTES": "2",
        "OPTBOT__DASHBOARD__PORT": "0",  # never a fixed port
        "OPTBOT__METRICS__PORT": "0",
        "OPTBOT__MODE": "live",  # live needs both switches: the setting and --confirm-live
    }
    root = tmp_path / "root"
    log = tmp_path / "live.log"
    bot = _live_bot(port, env, log)
    try:

        def trading() -> bool:
            return "PASS operations" in log.read_text() and bool(_status(root).get("engine"))

        assert _wait(bot, trading, 180), log.read_text()
        base = f"http://127.0.0.1:{port}"
        admin_request(base, "POST", "/sim/v1/faults/forbid_storm", {"count": 25, "endpoints": ["getProfile"]})
        assert _wait(bot, lambda: SESSION_PAUSE in _blocked(root), 60), log.read_text()
        assert _wait(bot, lambda: _blocked(root) == "", 60), log.read_text()  # resumed, same session
        assert bot.poll() is None, "the bot must still be running its day"
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    logged = log.read_text() + "".join(path.read_text() for path in (root / "logs").glob("*.jsonl"))
    assert "Broker session lost" in logged and "entries resumed" in logged

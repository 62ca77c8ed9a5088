"""`optbot run --mode paper` against `optbot sim serve`: a replayed day, stopped and restarted mid-session.

Real processes: the simulator replays 2020-11-18 from 13:30 IST (the strategy's first entries come
at 13:45) at 100x real time, held until the first bot is up; the bot follows its clock,
trades, is stopped with SIGTERM after its first order, restarts, reconciles clean with its persisted
paper books and finishes the day — with no intent or order sent twice.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from optbot.sim.admin_client import admin_request

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "store"
OPTBOT = [sys.executable, "-m", "optbot.cli.main"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp: Path, port: int) -> dict[str, str]:
    base = f"127.0.0.1:{port}"
    env = dict(os.environ)
    env.pop("OPTBOT_CONFIG", None)
    env.update(
        {
            "OPTBOT__PATHS__DATA_ROOT": str(tmp / "root"),
            "OPTBOT__BROKER__REST_BASE_URL": f"http://{base}",
            "OPTBOT__BROKER__MARKET_WS_URL": f"ws://{base}/smart-stream",
            "OPTBOT__BROKER__ORDER_WS_URL": f"ws://{base}/smart-order-update",
            "OPTBOT__BROKER__SCRIP_MASTER_URL": f"http://{base}/OpenAPI_File/files/OpenAPIScripMaster.json",
            "OPTBOT__BROKER__CLIENT_CODE": "S1234567",
            "OPTBOT__UNIVERSE__UNDERLYINGS": '["NIFTY"]',
            "OPTBOT__LOGGING__CONSOLE": "false",
            "OPTBOT__METRICS__PORT": "0",  # never the fixed defaults 9108 / 8765: tests run in parallel
            "OPTBOT__DASHBOARD__PORT": "0",
            "OPTBOT__SIM__REPLAY_END_TIME_IST": "16:05",
            "OPTBOT__REPLAY__DATA_DIR": str(SAMPLE),
            "OPTBOT__REPLAY__TICK_SECONDS": "10",
            "OPTBOT_SECRET_API_KEY": "simapikey01",
            "OPTBOT_SECRET_PIN": "1234",
            "OPTBOT_SECRET_TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "OPTBOT_KEYRING_PASSWORD": "restart-test",
        }
    )
    return env


@contextmanager
def _serve(tmp_path: Path, speed: int, **sim_env: str) -> Iterator[tuple[int, dict[str, str]]]:
    """`optbot sim serve` replaying 2020-11-18 on a free port; `sim_env` is for the simulator alone."""
    port = _free_port()
    env = _env(tmp_path, port)
    command = [*OPTBOT, "sim", "serve", "--port", str(port), "--speed", str(speed), "--date", "2020-11-18"]
    process = subprocess.Popen(
        command, env={**env, **sim_env}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield port, env
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The day from 09:00 at 250x, running from the start (the live-session fault tests)."""
    with _serve(tmp_path, 250) as served:
        yield served


@pytest.fixture
def held_simulator(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The day from 13:30 (the strategy's first entries come at 13:45) at 100x, held at its start
    until the test releases it: at 250x from 09:00 a loaded machine's bot started late or fell
    behind the feed, met a day past its entries and never traded."""
    with _serve(
        tmp_path, 100, OPTBOT__SIM__START_PAUSED="true", OPTBOT__SIM__REPLAY_START_TIME_IST="13:30"
    ) as served:
        yield served


def _status(root: Path) -> dict[str, object]:
    path = root / "state" / "status.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _bot(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    command = [
        *OPTBOT,
        "run",
        "--mode",
        "paper",
        "--follow-sim",
        f"http://127.0.0.1:{port}",
        "--sessions",
        "1",
    ]
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


@pytest.mark.timeout(420)
def test_paper_bot_survives_a_restart_mid_session_without_duplicates(
    held_simulator: tuple[int, dict[str, str]], tmp_path: Path
) -> None:
    port, env = held_simulator
    root = tmp_path / "root"
    first = _bot(port, env, tmp_path / "first.log")
    started = time.monotonic() + 120
    while "PASS operations" not in (tmp_path / "first.log").read_text():
        assert time.monotonic() < started and first.poll() is None, (tmp_path / "first.log").read_text()
        time.sleep(0.2)
    admin_request(f"http://127.0.0.1:{port}", "POST", "/sim/v1/clock", {"paused": False})
    deadline = time.monotonic() + 240
    traded = False
    while time.monotonic() < deadline and first.poll() is None:
        engine = dict(_status(root).get("engine") or {})  # type: ignore[call-overload]
        if engine.get("open_positions") or engine.get("orders_in_flight"):
            traded = True
            break
        time.sleep(0.2)
    assert traded, (tmp_path / "first.log").read_text()
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0, (tmp_path / "first.log").read_text()
    logged = "".join(path.read_text() for path in (root / "logs").glob("optbot-*.jsonl"))
    assert "optbot stopped before the close" in logged, "the stop mid-session was not announced"

    second = _bot(port, env, tmp_path / "second.log")
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
    final = _status(root)
    assert final.get("sessions_run") == 1 and not final.get("last_error")

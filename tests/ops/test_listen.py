"""A port in use stops optbot at start with one line naming the port and the setting (issue 18)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from optbot.config import Settings
from optbot.config.sections.dashboard import DashboardSettings
from optbot.ops.dashboard import DashboardAuth, DashboardServer, create_app
from optbot.ops.listen import PortUnavailable, ensure_ports_free
from optbot.ops.metrics import Metrics, MetricsServer
from optbot.test_kit.ops import ScriptedDashboardProvider, sample_snapshot

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else is listening on (bound to port 0: never a fixed number)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


def test_ensure_ports_free_names_the_setting(busy_port: int) -> None:
    settings = Settings(dashboard={"port": busy_port}, metrics={"port": 0})
    with pytest.raises(PortUnavailable) as info:
        ensure_ports_free(settings)
    message = str(info.value)
    assert f"dashboard.port {busy_port} on 127.0.0.1 is unavailable" in message
    assert "OPTBOT__DASHBOARD__PORT" in message and "\n" not in message
    settings = Settings(dashboard={"port": 0}, metrics={"port": busy_port})
    with pytest.raises(PortUnavailable, match=f"metrics.port {busy_port} "):
        ensure_ports_free(settings)
    ensure_ports_free(Settings(dashboard={"enabled": False, "port": busy_port}, metrics={"enabled": False}))


async def test_dashboard_on_a_busy_port_raises_instead_of_exiting(busy_port: int) -> None:
    """uvicorn logs the bind error and calls sys.exit inside its task; the bot must see an error."""
    app = create_app(ScriptedDashboardProvider(sample_snapshot()), DashboardSettings(), DashboardAuth())
    with pytest.raises(PortUnavailable, match=f"dashboard.port {busy_port}"):
        await DashboardServer(app, "127.0.0.1", busy_port).start()
    server = DashboardServer(app, "127.0.0.1", 0)
    await server.start()
    assert server.port not in (0, busy_port)
    await server.stop()


def test_metrics_on_a_busy_port_raises(busy_port: int) -> None:
    with pytest.raises(PortUnavailable, match=f"metrics.port {busy_port}"):
        MetricsServer(Metrics(), "127.0.0.1", busy_port).start()


def test_run_refuses_to_start_on_a_busy_dashboard_port(busy_port: int, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "OPTBOT__PATHS__DATA_ROOT": str(tmp_path / "root"),
        "OPTBOT__DASHBOARD__PORT": str(busy_port),
        "OPTBOT__METRICS__PORT": "0",
    }
    env.pop("OPTBOT_CONFIG", None)
    command = [sys.executable, "-m", "optbot.cli.main", "run", "--mode", "paper", "--sessions", "1"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"dashboard.port {busy_port}" in lines[0], done.stderr
    assert not (tmp_path / "root" / "state").exists()  # nothing started

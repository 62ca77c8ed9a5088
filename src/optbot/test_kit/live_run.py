"""Real processes for end-to-end tests: `optbot sim serve` on a port the kernel picks, and `optbot run`
following its replay clock over loopback — every request, socket and order over the wire."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from optbot.core.bundled import SAMPLE_STORE
from optbot.core.clock import LiveClock
from optbot.core.timeutil import parse_iso
from optbot.sim.admin_client import admin_request

OPTBOT = [sys.executable, "-m", "optbot.cli.main"]
#: The project's sample data (the replayed sessions), next to the package in a checkout.
SAMPLE = SAMPLE_STORE
#: The simulator's demo account (sim-only throwaway values, see `optbot.sim.auth.demo_account`).
SIM_SECRETS = {
    "OPTBOT_SECRET_API_KEY": "simapikey01",
    "OPTBOT_SECRET_PIN": "1234",
    "OPTBOT_SECRET_TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
}
_BANNER = re.compile(r"REST (http://127\.0\.0\.1:\d+)")


def base_env(root: Path, **settings: str) -> dict[str, str]:
    """Environment for both processes: a private data root, the sample data, quiet console, NIFTY only,
    plus `settings` as `OPTBOT__SECTION__KEY` overrides (e.g. `SIM__REPLAY_END_TIME_IST="16:05"`)."""
    env = dict(os.environ)
    env.pop("OPTBOT_CONFIG", None)
    env.update(
        {
            "OPTBOT__PATHS__DATA_ROOT": str(root),
            "OPTBOT__BROKER__CLIENT_CODE": "S1234567",
            "OPTBOT__UNIVERSE__UNDERLYINGS": '["NIFTY"]',
            "OPTBOT__LOGGING__CONSOLE": "false",
            "OPTBOT__METRICS__PORT": "0",  # never a fixed port in tests
            "OPTBOT__DASHBOARD__PORT": "0",
            "OPTBOT__REPLAY__DATA_DIR": str(SAMPLE),
            "OPTBOT__REPLAY__TICK_SECONDS": "10",
            "OPTBOT_KEYRING_PASSWORD": "end-to-end-test",
            **SIM_SECRETS,
        }
    )
    env.update({f"OPTBOT__{key}": value for key, value in settings.items()})
    return env


def wait_until(
    condition: Callable[[], bool],
    within_seconds: float,
    what: str,
    poll: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> None:
    """Poll (real time: these are other processes) until `condition` holds, else fail naming `what`
    (and what `explain` says about the state at that moment)."""
    clock = LiveClock()
    deadline = clock.monotonic() + within_seconds
    while clock.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    detail = f"; {explain()}" if explain is not None else ""
    raise AssertionError(f"{what}: not within {within_seconds:g} s{detail}")


async def eventually(condition: Callable[[], bool], within_seconds: float, what: str) -> None:
    """`wait_until` for async tests (the event loop keeps serving, e.g. a notification receiver)."""
    clock = LiveClock()
    deadline = clock.monotonic() + within_seconds
    while clock.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {within_seconds:g} s")


@dataclass
class SimProcess:
    process: subprocess.Popen[str]
    base_url: str
    log: Path

    def fault(self, kind: str, **body: Any) -> Any:
        """What `optbot sim fault KIND` does, through the same admin API."""
        return admin_request(self.base_url, "POST", f"/sim/v1/faults/{kind}", body)

    def fault_state(self) -> dict[str, Any]:
        """What `optbot sim fault clear` would clear, and how many requests each fault has hit."""
        return dict(admin_request(self.base_url, "GET", "/sim/v1/faults"))

    def clock_utc(self) -> datetime:
        return parse_iso(str(admin_request(self.base_url, "GET", "/sim/v1/clock")["utc"]))

    def bot_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` with the broker endpoints pointed at this simulator."""
        host = self.base_url.removeprefix("http://")
        return {
            **env,
            "OPTBOT__BROKER__REST_BASE_URL": self.base_url,
            "OPTBOT__BROKER__MARKET_WS_URL": f"ws://{host}/smart-stream",
            "OPTBOT__BROKER__ORDER_WS_URL": f"ws://{host}/smart-order-update",
            "OPTBOT__BROKER__SCRIP_MASTER_URL": f"{self.base_url}/OpenAPI_File/files/OpenAPIScripMaster.json",
        }

    def stop(self) -> None:
        stop_process(self.process)


def start_simulator(
    env: Mapping[str, str], log: Path, *, speed: float, day: str | Sequence[str]
) -> SimProcess:
    """`optbot sim serve --port 0` replaying `day` (or several days back to back); returns once its
    banner names the port."""
    days = [day] if isinstance(day, str) else list(day)
    command = [*OPTBOT, "sim", "serve", "--port", "0", "--speed", f"{speed:g}"]
    for each in days:
        command += ["--date", each]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=dict(env), stdout=out, stderr=subprocess.STDOUT, text=True)
    found: list[str] = []

    def banner() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the simulator exited: {log.read_text()}")
        match = _BANNER.search(log.read_text())
        if match:
            found.append(match.group(1))
        return bool(found)

    try:
        wait_until(banner, 60, "the simulator's banner")
    except BaseException:
        stop_process(process)
        raise
    return SimProcess(process, found[0], log)


def start_bot(env: Mapping[str, str], log: Path, *arguments: str) -> subprocess.Popen[str]:
    """`optbot run ARGUMENTS` (e.g. --mode paper --follow-sim URL --sessions 1), output to `log`."""
    with log.open("w") as out:
        return subprocess.Popen(
            [*OPTBOT, "run", *arguments], env=dict(env), stdout=out, stderr=subprocess.STDOUT, text=True
        )


def stop_process(process: subprocess.Popen[str], grace_seconds: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace_seconds)


def read_status(root: Path) -> dict[str, Any]:
    """The bot's `state/status.json` (what `optbot status --json` prints); {} while absent or mid-write."""
    try:
        return dict(json.loads((root / "state" / "status.json").read_text()))
    except (OSError, ValueError):
        return {}


__all__ = [
    "OPTBOT",
    "SAMPLE",
    "SimProcess",
    "base_env",
    "eventually",
    "read_status",
    "start_bot",
    "start_simulator",
    "stop_process",
    "wait_until",
]

"""What a session is called in its daily report, dashboard badge and status file: "live" only when
orders go to Angel One; the live adapter pointed at the local simulator or another host says so."""

from __future__ import annotations

from pathlib import Path

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.enums import RunMode
from optbot.ops.run_mode import session_mode
from optbot.ops.supervisor import BotSupervisor
from optbot.test_kit.calendar import sim_clock_at


def test_angel_one_is_live_or_paper_and_anything_else_names_the_endpoint() -> None:
    assert session_mode(False, Settings().broker.rest_base_url) == "live"
    assert session_mode(True, "https://apiconnect.angelone.in") == "paper"
    assert session_mode(False, "https://margincalculator.angelbroking.com/x") == "live"
    assert session_mode(False, "http://127.0.0.1:8123") == "live (loopback simulator 127.0.0.1:8123)"
    assert session_mode(True, "http://localhost:9000/") == "paper (loopback simulator localhost:9000)"
    assert session_mode(False, "https://api.example.net") == "live (endpoint api.example.net, not Angel One)"
    # a look-alike host is not Angel One's
    assert session_mode(False, "https://angelone.in.example.com").endswith("not Angel One)")


def test_a_live_supervisor_against_the_simulator_does_not_report_plain_live(tmp_path: Path) -> None:
    settings = Settings(paths={"data_root": tmp_path}, broker={"rest_base_url": "http://127.0.0.1:8123"})
    supervisor = BotSupervisor(settings, sim_clock_at("2026-11-24", "11:00"), get_calendar(), RunMode.LIVE)
    assert supervisor.status()["mode"] == "live (loopback simulator 127.0.0.1:8123)"

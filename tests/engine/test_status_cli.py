"""`optbot status` reads the running bot's status file; its summary must not contradict itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.config import load_settings
from optbot.ops.supervisor import status_path


def write_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: dict[str, object]) -> None:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "data"))
    path = status_path(load_settings())
    path.parent.mkdir(parents=True)
    document = {"running": True, "pid": os.getpid(), "mode": "live", "phase": "trading", "engine": engine}
    path.write_text(json.dumps(document), encoding="utf-8")


def test_a_halted_bot_is_not_reported_as_unblocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a kill switch the engine's block field is empty; `trading blocked: no` beside
    `risk HALTED` read as if entries were allowed."""
    write_status(
        tmp_path,
        monkeypatch,
        {
            "risk_state": "HALTED",
            "trading_blocked": "",
            "underlyings": {"NIFTY": 12823.5, "BANKNIFTY": 29073.67},
        },
    )
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "risk HALTED; trading blocked: risk HALTED" in result.stdout
    assert "underlyings NIFTY 12,823.50, BANKNIFTY 29,073.67" in result.stdout


def test_an_active_bot_says_no_block_and_an_engine_block_is_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_status(tmp_path, monkeypatch, {"risk_state": "ACTIVE", "trading_blocked": "", "underlyings": {}})
    assert "risk ACTIVE; trading blocked: no;" in CliRunner().invoke(app, ["status"]).stdout
    write_status_again = status_path(load_settings())
    document = json.loads(write_status_again.read_text(encoding="utf-8"))
    document["engine"]["trading_blocked"] = "startup reconciliation mismatch: funds"
    write_status_again.write_text(json.dumps(document), encoding="utf-8")
    shown = CliRunner().invoke(app, ["status"]).stdout
    assert "trading blocked: startup reconciliation mismatch: funds;" in shown
    assert "underlyings none yet" in shown


def test_entries_paused_by_a_condition_are_not_reported_as_unblocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed outage, a reject spike or a stale master pauses new entries without blocking trading
    or halting risk; `trading blocked: no` then hid that nothing new would be opened."""
    paused = {"master": "instrument master from 2026-11-10 is 14 days old", "feed": "market data interrupted"}
    write_status(
        tmp_path,
        monkeypatch,
        {"risk_state": "ACTIVE", "trading_blocked": "", "entries_paused": paused, "underlyings": {}},
    )
    shown = CliRunner().invoke(app, ["status"]).stdout
    assert (
        "trading blocked: new entries paused, exits still go (feed: market data interrupted; master:" in shown
    )


def test_a_paper_reconciliation_block_names_the_paper_journals_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paper session's mismatch is in the paper journal: the plain `optbot reconcile --ack` reads
    the live one and would not find it."""
    blocked = {"risk_state": "ACTIVE", "trading_blocked": "startup reconciliation mismatch: funds"}
    write_status(tmp_path, monkeypatch, {**blocked, "underlyings": {}})
    path = status_path(load_settings())
    assert "`optbot reconcile --ack`" in CliRunner().invoke(app, ["status"]).stdout
    document = json.loads(path.read_text(encoding="utf-8"))
    document["mode"] = "paper (endpoint simulator.invalid, not Angel One)"
    path.write_text(json.dumps(document), encoding="utf-8")
    shown = CliRunner().invoke(app, ["status"]).stdout
    assert "`optbot reconcile --mode paper --offline`" in shown
    assert "`optbot reconcile --mode paper --ack`" in shown

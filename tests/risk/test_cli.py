from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    return tmp_path


def test_kill_status_resume_cycle(env: Path) -> None:
    result = runner.invoke(app, ["risk", "kill-switch", "--reason", "manual stop"])
    assert result.exit_code == 0, result.output
    assert (env / "state" / "KILL").exists()
    status = runner.invoke(app, ["risk", "status"])
    assert "ON" in status.output and "manual stop" in status.output
    refused = runner.invoke(app, ["risk", "resume"])
    assert refused.exit_code == 2
    assert (env / "state" / "KILL").exists()
    resumed = runner.invoke(app, ["risk", "resume", "--ack"])
    assert resumed.exit_code == 0 and "kill switch removed" in resumed.output
    assert not (env / "state" / "KILL").exists()
    assert (env / "state" / "RESUME_ACK").exists()
    assert "off" in runner.invoke(app, ["risk", "status"]).output


def test_empty_reason_is_user_error(env: Path) -> None:
    result = runner.invoke(app, ["risk", "kill-switch", "--reason", "  "])
    assert result.exit_code == 2
    assert not (env / "state" / "KILL").exists()

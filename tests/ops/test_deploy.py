"""The systemd unit keeps PAPER as the default and restarts with backoff (spec §13.12)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "optbot.service").read_text())
    return parser


def test_unit_runs_paper_and_restarts_on_failure_with_backoff() -> None:
    service = unit()["Service"]
    assert "--mode paper" in service["ExecStart"] and "live" not in service["ExecStart"]
    assert service["Restart"] == "on-failure"
    assert int(service["RestartSec"]) > 0 and int(service["RestartMaxDelaySec"]) > int(service["RestartSec"])
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 30
    assert service["NoNewPrivileges"] == "true"
    assert int(unit()["Unit"]["StartLimitBurst"]) >= 1


def test_env_example_names_only_known_secret_variables_and_no_values() -> None:
    lines = [
        line
        for line in (DEPLOY / "optbot.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    names = {line.split("=", 1)[0] for line in lines}
    assert names == {
        "OPTBOT_KEYRING_PASSWORD",
        "OPTBOT_SECRET_NOTIFY_URLS",
        "OPTBOT_SECRET_DASHBOARD_VIEWER_TOKEN",
        "OPTBOT_SECRET_DASHBOARD_OPERATOR_TOKEN",
    }
    assert all(line.split("=", 1)[1] in ("", "change-me-long-random") for line in lines)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    target = tmp_path / "optbot@.service"
    target.write_text((DEPLOY / "optbot.service").read_text())
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(target)], capture_output=True, text=True, check=False
    )
    newer_only = ("RestartSteps", "RestartMaxDelaySec")  # systemd >= 254; older ones ignore them
    syntax = [
        line
        for line in result.stderr.splitlines()
        if ("Unknown key" in line or "Invalid" in line) and not any(key in line for key in newer_only)
    ]
    assert syntax == [], result.stderr

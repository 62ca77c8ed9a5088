"""A bad strategy file, as a user meets it: `optbot backtest --strategy FILE` and `optbot run` print one
line naming the file, the line and the field with what is allowed, and exit 2 before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BAD = """\
[strategy]
name = "bad"
underlying = "NIFTY"

[entry]
time = 09:20:00

[[legs]]
id = "ce"
option = "CE"
side = "SELL"
expiry = "weekly"
strike = { mode = "atm" }
"""


@pytest.mark.parametrize("command", ["backtest", "run"])
def test_a_bad_strategy_file_gets_one_line_naming_the_field_and_exit_2(tmp_path: Path, command: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    env = {**os.environ, "OPTBOT__PATHS__DATA_ROOT": str(tmp_path / "root")}
    env.pop("OPTBOT_CONFIG", None)
    if command == "backtest":
        args = ["backtest", "--from", "2022-11-01", "--to", "2022-11-01", "--strategy", str(path)]
    else:
        args = ["run", "--mode", "paper"]
        env["OPTBOT__STRATEGY__ENABLED"] = f'["{path}"]'
    done = subprocess.run(
        [sys.executable, "-m", "optbot.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error "), lines
    assert lines[0].endswith(
        f"{path}:12: legs.0.expiry: must be one of 'current_weekly', 'next_weekly', 'monthly' "
        "or 'next_monthly' (got 'weekly')"
    ), lines

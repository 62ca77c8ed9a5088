"""`optbot demo` end to end: the simulator on loopback, the real client stack, a whole replayed day."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.core.errors import UserError
from optbot.sim.auth import demo_account
from optbot.test_kit.ops import find_secrets, scan_tree

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "store"  # the bundled data root
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    """One full demo shared by the tests below (it takes about a minute)."""
    out = tmp_path_factory.mktemp("demo") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("OPTBOT_CONFIG", raising=False)
        patch.setenv("OPTBOT__PATHS__DATA_ROOT", str(out.parent / "root"))
        result = CliRunner().invoke(app, ["demo", "--out", str(out), "--data", str(SAMPLE)])
    yield result.output, out, result.exit_code


@pytest.mark.timeout(240)
def test_demo_trades_a_replayed_day_through_the_live_path(demo_run: tuple[str, Path, int]) -> None:
    output, out, exit_code = demo_run
    assert exit_code == 0, output
    for stage in (
        "login",
        "instrument master",
        "history sync",
        "ADX categories",
        "health checks",
        "startup reconciliation",
        "market data socket",
        "EOD reconciliation",
    ):
        assert f"PASS {stage}" in output, stage
    assert "FAIL" not in output
    report = json.loads((out / "reports" / "demo-2020-11-18.json").read_text())
    assert report["orders"] >= 2 and report["fills"] >= 2
    assert len(report["trades"]) >= 1
    trade = report["trades"][0]
    assert trade["symbol"].startswith("NIFTY") and trade["symbol"].endswith("CE")  # category 1 buys calls
    assert report["charges"] > 0
    assert report["net_pnl"] == pytest.approx(sum(t["net_pnl"] for t in report["trades"]), abs=0.05)
    journal = "\n".join(report["journal"])
    for deadline in ("flatten", "cancel pending", "close", "post market end"):
        assert f"[deadline] {deadline}" in journal
    assert "eod reconciliation clean" in journal
    assert "socket down" not in journal and "entries paused" not in journal  # the feed stayed up all day
    assert report["feed_ticks"] > 10_000
    assert (out / "state" / "optbot.sqlite").exists()
    assert any((out / "logs").glob("optbot-*.jsonl"))
    assert "synthetic" in report["options_note"]
    assert (out / "reports" / "daily-2020-11-18.html").exists()
    assert "PASS daily report" in output
    # the live adapter ran against the local simulator: the daily report says it was the demo, not live
    daily = json.loads((out / "reports" / "daily-2020-11-18.json").read_text())
    assert daily["metrics"]["mode"] == "demo (simulator)"


def test_demo_writes_no_secret_anywhere(demo_run: tuple[str, Path, int]) -> None:
    """Issue 9 security: the demo logs in with known secrets; no file it wrote may contain one."""
    output, out, exit_code = demo_run
    assert exit_code == 0, output
    account = demo_account()
    known = {"api_key": account.api_key, "pin": account.pin, "totp_secret": account.totp_secret}
    written = [path for path in out.rglob("*") if path.is_file()]
    assert len(written) > 10  # logs, state DB, JSON stores, reports, the encrypted keyring
    assert scan_tree(out, known) == {}
    assert find_secrets(output.encode(), known) == []


def test_demo_refuses_to_wipe_a_foreign_directory(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    result = CliRunner().invoke(app, ["demo", "--out", str(foreign), "--data", str(SAMPLE)])
    assert result.exit_code != 0
    assert (foreign / "precious.txt").read_text() == "keep me"


def test_demo_refuses_a_data_folder_that_is_not_a_data_root(tmp_path: Path) -> None:
    """It used to replay the bundled sample instead, as if --data had not been given."""
    out = tmp_path / "d"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--data", str(tmp_path / "missing")])
    assert isinstance(result.exception, UserError), result.output
    assert str(result.exception).startswith(f"--data {tmp_path / 'missing'}: not a data root")
    assert result.output == "" and not out.exists()


def test_one_trace_id_links_signal_decision_order_and_fill(demo_run: tuple[str, Path, int]) -> None:
    """Issue 9: the structured log ties signal -> intent -> risk decision -> order -> fill together."""
    output, out, exit_code = demo_run
    assert exit_code == 0, output
    events_by_trace: dict[str, list[str]] = {}
    for log_file in (out / "logs").glob("optbot-*.jsonl"):
        for line in log_file.read_text().splitlines():
            record = json.loads(line)
            if record.get("trace_id"):
                events_by_trace.setdefault(record["trace_id"], []).append(str(record["event"]))
    entry_traces = [
        events
        for events in events_by_trace.values()
        if any(event.startswith("engine_order:") and "(ENTRY)" in event for event in events)
    ]
    assert entry_traces, "no entry order carried a trace id"
    events = entry_traces[0]
    assert "strategy_signal" in events
    assert "risk_decision" in events
    assert any(event.startswith("engine_fill:") for event in events)


def test_the_demo_log_follows_simulated_time(demo_run: tuple[str, Path, int]) -> None:
    """Every line used to carry the replay's start (a clock nobody advanced): now the engine's clock."""
    output, out, exit_code = demo_run
    assert exit_code == 0, output
    stamps = [
        json.loads(line)["timestamp"]
        for log_file in (out / "logs").glob("optbot-*.jsonl")
        for line in log_file.read_text().splitlines()
    ]
    assert len(set(stamps)) > 50
    assert min(stamps) < "2020-11-18T04:00" and max(stamps) > "2020-11-18T09:30"  # 09:30 -> 15:00 IST
    fills = [
        json.loads(line)
        for log_file in (out / "logs").glob("optbot-*.jsonl")
        for line in log_file.read_text().splitlines()
        if json.loads(line)["event"].startswith("engine_fill:")
    ]
    assert fills and all(fill["timestamp"] > "2020-11-18T03:45" for fill in fills)  # after the open


def test_demo_on_a_weekend_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    """It used to run the startup stages and die in a traceback."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "OPTBOT__PATHS__DATA_ROOT": str(tmp_path / "root")}
    env.pop("OPTBOT_CONFIG", None)
    command = [
        sys.executable,
        "-m",
        "optbot.cli.main",
        "demo",
        "--day",
        "2020-11-21",
        "--out",
        str(tmp_path / "d"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error --day 2020-11-21 is not a trading day (a weekend); the next trading day is 2020-11-23"
    ]
    assert not (tmp_path / "d").exists()


def test_demo_on_a_holiday_names_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--day", "2020-11-16", "--out", str(tmp_path / "d")])
    assert isinstance(result.exception, UserError)
    assert "2020-11-16 is not a trading day" in str(result.exception) and "holiday" in str(result.exception)

"""`optbot demo` end to end: the simulator on loopback, the real client stack, a whole replayed day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.sim.auth import demo_account
from optbot.test_kit.ops import find_secrets, scan_tree

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


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
    assert report["feed_ticks"] > 10_000
    assert (out / "state" / "optbot.sqlite").exists()
    assert any((out / "logs").glob("optbot-*.jsonl"))
    assert "synthetic" in report["options_note"]
    assert (out / "reports" / "daily-2020-11-18.html").exists()
    assert "PASS daily report" in output


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

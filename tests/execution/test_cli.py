from __future__ import annotations

import json

from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.config.settings import Settings
from optbot.core.enums import Side
from optbot.persistence.db import state_db_path
from optbot.test_kit.execution import build_harness, option_intent

runner = CliRunner()


def _config(tmp_path) -> list[str]:
    path = tmp_path / "optbot.toml"
    path.write_text(f'[paths]\ndata_root = "{tmp_path / "root"}"\n')
    return ["--config", str(path)]


def test_charges_json() -> None:
    result = runner.invoke(
        app,
        [
            "charges",
            "--exchange",
            "NSE",
            "--qty",
            "75",
            "--buy-price",
            "100",
            "--sell-price",
            "110",
            "--date",
            "2026-04-01",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["components"]["stt"]["sell"] == 12.38  # 75 × 110 × 0.15 % = 12.375, paisa half-up
    assert document["net_pnl"] == round(document["gross_pnl"] - document["total_charges"], 2)
    assert document["breakeven_sell_price_for_long"] > 100


def test_charges_bad_date_exits_2() -> None:
    result = runner.invoke(
        app, ["charges", "--qty", "75", "--buy-price", "1", "--sell-price", "2", "--date", "31-01-2025"]
    )
    assert result.exit_code == 2
    assert "--date must be a date" in result.output


async def _populate(tmp_path) -> None:
    settings = Settings(paths={"data_root": tmp_path / "root"})
    harness = build_harness(state_db_path(settings))
    await harness.manager.submit(option_intent("a"))
    await harness.manager.poll_once()
    harness.clock.advance(120)
    await harness.manager.submit(option_intent("b", side=Side.SELL, limit_price=99.5))
    await harness.manager.poll_once()
    harness.store.record_reconciliation("startup", False, ["position NFO:58784 local 0 broker 75"])
    harness.store.close()


async def test_audit_verify_reconcile_ack_and_pnl_report(tmp_path) -> None:
    await _populate(tmp_path)
    config = _config(tmp_path)
    verified = runner.invoke(app, [*config, "audit", "verify"])
    assert verified.exit_code == 0 and "audit chain OK" in verified.output
    halted = runner.invoke(app, [*config, "reconcile", "--offline"])
    assert halted.exit_code == 1 and "local 0 broker 75" in halted.output
    acked = runner.invoke(app, [*config, "reconcile", "--ack", "--by", "alice"])
    assert acked.exit_code == 0 and "acknowledged 1" in acked.output
    assert runner.invoke(app, [*config, "reconcile", "--offline"]).exit_code == 0
    report = runner.invoke(
        app, [*config, "report", "pnl", "--from", "2026-03-01", "--to", "2026-03-31", "--json"]
    )
    assert report.exit_code == 0, report.output
    document = json.loads(report.output)
    assert document["summary"]["trades"] == 1
    assert document["summary"]["gross_pnl"] == round(75 * (99.5 - 100.5), 2)
    assert document["summary"]["stt_paid"] > 0
    assert (tmp_path / "root" / "reports" / "pnl-2026-03-01-2026-03-31-daily.csv").exists()
    statement = runner.invoke(app, [*config, "report", "statement", "--date", "2026-03-02"])
    assert statement.exit_code == 0 and "net amount" in statement.output


def test_audit_verify_missing_db_exits_2(tmp_path) -> None:
    result = runner.invoke(app, [*_config(tmp_path), "audit", "verify"])
    assert result.exit_code == 2


def test_audit_verify_detects_tampering(tmp_path) -> None:
    import sqlite3

    settings = Settings(paths={"data_root": tmp_path / "root"})
    from optbot.core.clock import SimClock
    from optbot.persistence import Store
    from optbot.test_kit.execution import TEST_START

    store = Store.open(state_db_path(settings), SimClock(TEST_START))
    store.audit("x", "y", {"a": 1})
    store.audit("x", "y", {"a": 2})
    store.close()
    raw = sqlite3.connect(state_db_path(settings))
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("UPDATE audit SET kind = 'forged' WHERE seq = 1")
    raw.commit()
    raw.close()
    result = runner.invoke(app, [*_config(tmp_path), "audit", "verify"])
    assert result.exit_code == 1 and "BROKEN at seq 1" in result.output

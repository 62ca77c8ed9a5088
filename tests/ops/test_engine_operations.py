"""Issue 9 "Done when": a paper session against the simulator, with real notifications, a Prometheus
scrape, the daily report and the dashboard in headless Chromium driving the kill switch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from optbot.config import Settings, load_settings
from optbot.core.enums import IntentPurpose, RiskState
from optbot.core.timeutil import ist_datetime
from optbot.engine.replay import InProcessReplay
from optbot.ops.dashboard import DashboardAuth
from optbot.ops.wiring import Operations, attach_operations
from optbot.test_kit.browser import CHROMIUM, CHROMIUM_ARGS
from optbot.test_kit.ops import JsonReceiver, ScriptedAtmCall, SessionPause

DAY = date(2025, 9, 8)  # a Monday with 1-minute NIFTY sample data (data/sample/intraday)
AUTH = DashboardAuth(viewer_token="viewer-token-0123456789", operator_token="operator-token-9876543210")


def session_settings(root: Path, receiver_port: int) -> Settings:
    return load_settings(
        None,
        {
            "paths": {"data_root": str(root)},
            "replay": {"tick_seconds": 10.0},
            "universe": {"underlyings": ["NIFTY"]},
            "metrics": {"port": 0},
            "dashboard": {"port": 0, "refresh_seconds": 0.2},
            "notifications": {
                "urls": [f"json://127.0.0.1:{receiver_port}/optbot"],
                "retry_backoff_seconds": 0.05,
            },
        },
    )


@dataclass
class Session:
    replay: InProcessReplay
    strategy: ScriptedAtmCall
    ops: Operations
    receiver: JsonReceiver
    settings: Settings


@pytest.fixture
def env_clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("OPTBOT_SECRET_NOTIFY_URLS", "OPTBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
async def session(tmp_path: Path, env_clean: None) -> AsyncIterator[Session]:
    receiver = JsonReceiver()
    port = await receiver.start()
    settings = session_settings(tmp_path / "data", port)
    strategy = ScriptedAtmCall(settings)
    replay = InProcessReplay(
        settings,
        tmp_path / "data" / "state" / "optbot.sqlite",
        DAY,
        strategies=[strategy],
        underlyings=["NIFTY"],
    )
    ops = attach_operations(replay.engine, settings, replay.clock, environ={})
    try:
        yield Session(replay, strategy, ops, receiver, settings)
    finally:
        await ops.stop(drain_seconds=5)
        replay.close()
        await receiver.stop()


async def start_session(s: Session, *, dashboard: bool) -> None:
    await s.ops.start(serve_metrics=True, serve_dashboard=dashboard, auth=AUTH)
    await s.replay.engine.start(DAY)
    s.replay.warm_up()


async def scrape(ops: Operations) -> dict[str, list[tuple[dict[str, str], float]]]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"http://127.0.0.1:{ops.metrics_port}/metrics")
    assert response.status_code == 200
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return samples


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    for found_labels, found in samples.get(name, []):
        if all(found_labels.get(key) == wanted for key, wanted in labels.items()):
            return found
    raise AssertionError(f"{name}{labels} not in the scrape; have {sorted(samples)}")


async def test_paper_day_notifies_exposes_metrics_and_writes_the_daily_report(session: Session) -> None:
    s = session
    await start_session(s, dashboard=False)
    await s.replay.run_day(DAY)
    engine = s.replay.engine
    fills = engine.store.fills(DAY, DAY)
    assert [fill.side.value for fill in fills] == ["BUY", "SELL"], s.strategy.journal
    net = engine.portfolio.daily_pnl(DAY)

    files = s.ops.write_daily_report(DAY)

    # Notifications, through real Apprise, to the loopback receiver.
    buy = await s.receiver.wait_for(lambda item: str(item["title"]).startswith("[IMPORTANT] Fill: BUY 75"))
    assert buy["type"] == "warning"  # Apprise's notify type for the important priority
    assert "Action required: none" in buy["message"] and "premium paid" in buy["message"]
    await s.receiver.wait_for(lambda item: str(item["title"]).startswith("[IMPORTANT] Fill: SELL 75"))
    opened = await s.receiver.wait_for(lambda item: "Position opened" in str(item["title"]))
    assert "net +0 -> +75" in opened["message"]
    await s.receiver.wait_for(lambda item: "Position closed" in str(item["title"]))
    report_alert = await s.receiver.wait_for(
        lambda item: str(item["title"]).startswith("[INFO] Daily report")
    )
    assert report_alert["type"] == "info" and "1 closed trade(s)" in report_alert["message"]
    assert all(path == "/optbot" for path in s.receiver.paths)

    # A Prometheus scrape over loopback, parsed by prometheus_client's own parser.
    s.ops.sampler.sample()
    samples = await scrape(s.ops)
    assert value(samples, "optbot_ticks_total", source="engine") == engine.counters.ticks > 10_000
    assert value(samples, "optbot_fills_total") == 2
    assert value(samples, "optbot_realised_pnl_rupees") == pytest.approx(net)
    assert value(samples, "optbot_unrealised_pnl_rupees") == 0
    assert value(samples, "optbot_risk_state", optbot_risk_state="ACTIVE") == 1
    assert value(samples, "optbot_positions_open") == 0
    assert value(samples, "optbot_memory_rss_bytes") > 0
    assert value(samples, "optbot_notifications_total", outcome="delivered") >= 4

    # The daily report: JSON for machines, HTML with inline SVG charts for people.
    report = files.json_path.read_text()
    assert files.json_path.name == "daily-2025-09-08.json"
    for fragment in ('"trades": 1', '"fills": 2', '"win_rate_pct"', '"risk events"', '"data quality"'):
        assert fragment in report
    assert f'"net_pnl": {round(net, 2)}' in report
    (closed,) = json.loads(report)["tables"]["closed trades"]  # issue 18: why and how much, per trade
    assert closed["exit_reason"] == "exit: scripted exit" and "return_pct" in closed, closed
    page = files.html_path.read_text()
    # rupees and a percentage already scaled read as they are, never x100 with a % sign
    drawdown = json.loads(report)["metrics"]["max_drawdown_rupees"]
    assert f"<b>{drawdown:,.2f}</b>" in page, drawdown
    assert f"<td>{closed['return_pct']:,.2f}</td>" in page
    assert "generated 2025-09-08 " in page and " IST</p>" in page  # stamps for people are IST
    assert page.count("<svg") >= 2 and "intraday P&amp;L" in page and "NIFTY16SEP2524800CE" in page
    # spec §11.2 sentiment of the replayed chain, as the dashboard last showed it
    (sentiment,) = json.loads(report)["tables"]["market sentiment"]
    assert sentiment["underlying"] == "NIFTY" and sentiment["pcr_oi"] > 0 and sentiment["max_pain"] > 0
    assert sentiment["hv_pct"] > 0 and sentiment["iv_regime"] in {"RICH", "CHEAP", "FAIR"}
    assert sentiment["atm_call_build_up"] is not None and "<h2>market sentiment</h2>" in page
    # the index's bars carry no volume: the session profile is the TPO one, inside the day's range
    assert sentiment["profile_basis"] == "TPO", sentiment
    assert sentiment["initial_balance_low"] <= sentiment["profile_val"] <= sentiment["profile_poc"]
    assert sentiment["profile_poc"] <= sentiment["profile_vah"]
    assert "ticks processed" in page and "synthetic" in page

    monthly = s.ops.write_monthly_summary("2025-09")
    assert monthly.html_path.name == "monthly-2025-09.html"
    assert '"trading_days": 1' in monthly.json_path.read_text()
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        s.ops.write_monthly_summary("2025-9")

    assert [path.name for path in s.ops.provider.report_files()] == [
        "monthly-2025-09.json",
        "monthly-2025-09.html",
        "daily-2025-09-08.json",
        "daily-2025-09-08.html",
    ]

    # The snapshot the dashboard would show after the close.
    snapshot = s.ops.provider.snapshot()
    assert snapshot.mode == "paper" and snapshot.positions == [] and len(snapshot.trades) == 2
    assert [(row["purpose"], row["reason"]) for row in snapshot.trades][1] == ("exit", "scripted exit")
    assert snapshot.session["phase"] == "after_hours"
    assert snapshot.pnl_series[-1][1] == pytest.approx(round(net, 2))
    assert len(snapshot.pnl_series) > 300  # one point a minute from the pre-market to the post-market
    assert snapshot.sentiment == [sentiment]


@pytest.mark.slow
async def test_same_day_twice_gives_the_same_report(tmp_path: Path, env_clean: None) -> None:
    outputs = []
    for run in ("a", "b"):
        settings = session_settings(tmp_path / run, 9)  # no receiver needed: notifications off below
        settings = settings.model_copy(
            update={"notifications": settings.notifications.model_copy(update={"enabled": False, "urls": []})}
        )
        replay = InProcessReplay(
            settings,
            tmp_path / run / "state.sqlite",
            DAY,
            strategies=[ScriptedAtmCall(settings)],
            underlyings=["NIFTY"],
        )
        ops = attach_operations(replay.engine, settings, replay.clock, environ={})
        await ops.start(serve_metrics=False, serve_dashboard=False)
        await replay.engine.start(DAY)
        replay.warm_up()
        await replay.run_day(DAY)
        files = ops.write_daily_report(DAY, notify=False)
        outputs.append((files.json_path.read_bytes(), files.html_path.read_bytes()))
        await ops.stop(drain_seconds=1)
        replay.close()
    assert outputs[0] == outputs[1]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)")
async def test_dashboard_in_chromium_shows_the_position_and_the_kill_switch_halts_the_engine(
    session: Session, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    s = session
    engine = s.replay.engine
    await start_session(s, dashboard=True)
    pause = SessionPause(engine.bus, engine.clock, ist_datetime(DAY, time(11, 0)))
    day_task = asyncio.ensure_future(s.replay.run_day(DAY))
    await pause.wait_reached(day_task, within_seconds=60)
    try:
        held = engine.portfolio.open_positions()
        assert [p.net_quantity for p in held] == [75], s.strategy.journal
        symbol = held[0].symbol
        url = s.ops.dashboard_url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(f"{url}?token={AUTH.viewer_token}")
            row = page.locator(f"#positions tbody tr[data-symbol='{symbol}']")
            await row.wait_for(timeout=10_000)
            cells = await row.locator("td").all_inner_texts()
            assert cells[0] == symbol and cells[1] == "75"
            assert all(cell != "–" for cell in cells[2:]), cells  # avg, LTP, P&L and every Greek shown
            await page.locator("#risk-state", has_text="ACTIVE").wait_for(timeout=5_000)
            await page.locator(f"#trades tbody tr[data-symbol='{symbol}']").wait_for(timeout=5_000)
            await page.locator("#pnl-chart polyline").wait_for(state="attached", timeout=5_000)
            health = await page.locator("#health").inner_text()
            assert "phase" in health and "trading" in health and "last tick age seconds" in health
            decisions = await page.locator("#decisions").inner_text()
            assert "approved" in decisions and symbol in decisions
            await page.screenshot(path=str(tmp_path / "dashboard-before-kill.png"), full_page=True)

            # A viewer cannot kill; the operator token with confirmation does.
            await page.click("#kill-button")
            await page.fill("#kill-token", AUTH.viewer_token)
            await page.click("#kill-confirm")
            await page.locator("#kill-status", has_text="kill switch refused").wait_for(timeout=5_000)
            assert engine.risk.state is RiskState.ACTIVE
            await page.click("#kill-button")
            await page.fill("#kill-reason", "operator test: flatten and halt")
            await page.fill("#kill-token", AUTH.operator_token)
            await page.click("#kill-confirm")
            await page.locator("#risk-state", has_text="HALTED").wait_for(timeout=10_000)
            outcome = await page.locator("#kill-status").inner_text()
            assert "risk state HALTED" in outcome and "1 position(s) being flattened" in outcome
            await page.screenshot(path=str(tmp_path / "dashboard-after-kill.png"), full_page=True)
            await browser.close()
        assert engine.risk.state is RiskState.HALTED
        critical = await s.receiver.wait_for(lambda item: "Kill switch engaged" in str(item["title"]))
        assert critical["title"].startswith("[CRITICAL]") and critical["type"] == "failure"
        assert "operator: operator test: flatten and halt" in critical["message"]
        samples = await scrape(s.ops)
        assert value(samples, "optbot_risk_state", optbot_risk_state="HALTED") == 1
    finally:
        pause.release()
        await asyncio.wait_for(day_task, timeout=120)

    # The rest of the day: the kill switch's flatten order filled, nothing re-entered.
    assert engine.portfolio.open_positions() == []
    exits = [engine.store.find_intent(fill.intent_id) for fill in engine.store.fills(DAY, DAY)[1:]]
    assert [intent.purpose for intent in exits if intent is not None] == [IntentPurpose.FLATTEN]
    assert engine.risk.state is RiskState.HALTED
    halted = await s.receiver.wait_for(lambda item: "Risk state HALTED" in str(item["title"]))
    assert halted["type"] == "failure"

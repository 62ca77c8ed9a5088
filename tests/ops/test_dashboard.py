from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from optbot.config.sections.dashboard import DashboardSettings
from optbot.ops.dashboard import DashboardAuth, DashboardServer, create_app
from optbot.test_kit.browser import CHROMIUM, CHROMIUM_ARGS
from optbot.test_kit.ops import ScriptedDashboardProvider, sample_snapshot

AUTH = DashboardAuth(viewer_token="viewer-secret-1", operator_token="operator-secret-2")


def client_for(
    provider: ScriptedDashboardProvider, settings: DashboardSettings | None = None
) -> httpx.AsyncClient:
    app = create_app(provider, settings or DashboardSettings(), AUTH)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def test_snapshot_readable_anonymously_on_loopback() -> None:
    async with client_for(ScriptedDashboardProvider(sample_snapshot())) as client:
        response = await client.get("/api/snapshot")
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "viewer"
    assert body["positions"][0]["symbol"] == "NIFTY11AUG2624550CE"


async def test_snapshot_carries_the_market_sentiment_rows() -> None:
    async with client_for(ScriptedDashboardProvider(sample_snapshot())) as client:
        body = (await client.get("/api/snapshot")).json()
    (row,) = body["sentiment"]
    assert (row["underlying"], row["pcr_oi"], row["iv_regime"], row["strike_skew_pct"]) == (
        "NIFTY",
        1.083,
        "RICH",
        None,
    )
    # spec §11.2 session profile: the fields the "Session profile" table shows
    assert (row["profile_poc"], row["profile_vah"], row["profile_val"]) == (24_512.35, 24_548.9, 24_480.05)
    assert (row["initial_balance_high"], row["initial_balance_low"], row["profile_basis"]) == (
        24_561.2,
        24_470.6,
        "TPO",
    )


async def test_anonymous_refused_when_disabled() -> None:
    settings = DashboardSettings(allow_anonymous_loopback=False)
    async with client_for(ScriptedDashboardProvider(sample_snapshot()), settings) as client:
        assert (await client.get("/api/snapshot")).status_code == 401
        ok = await client.get("/api/snapshot", headers={"Authorization": "Bearer viewer-secret-1"})
        assert ok.status_code == 200
        assert (
            await client.get("/api/snapshot", headers={"Authorization": "Bearer wrong"})
        ).status_code == 401


def test_non_loopback_binding_requires_tokens() -> None:
    with pytest.raises(ValueError, match=r"dashboard\.host"):
        create_app(
            ScriptedDashboardProvider(sample_snapshot()), DashboardSettings(host="0.0.0.0"), DashboardAuth()
        )


async def test_kill_switch_needs_operator_and_confirmation() -> None:
    provider = ScriptedDashboardProvider(sample_snapshot())
    async with client_for(provider) as client:
        body = {"reason": "feed looks wrong", "confirm": True}
        assert (await client.post("/api/kill-switch", json=body)).status_code == 403
        viewer = {"Authorization": "Bearer viewer-secret-1"}
        assert (await client.post("/api/kill-switch", json=body, headers=viewer)).status_code == 403
        operator = {"Authorization": "Bearer operator-secret-2"}
        unconfirmed = await client.post(
            "/api/kill-switch", json={"reason": "x y z", "confirm": False}, headers=operator
        )
        assert unconfirmed.status_code == 422
        junk = await client.post(
            "/api/kill-switch", json={"reason": "ok!", "confirm": True, "x": 1}, headers=operator
        )
        assert junk.status_code == 422
        assert provider.kills == []
        response = await client.post("/api/kill-switch", json=body, headers=operator)
    assert response.status_code == 200
    assert provider.kills == [("feed looks wrong", "operator")]


async def test_reports_served_only_from_the_provider_list(tmp_path: Path) -> None:
    report = tmp_path / "backtest-2025-09.html"
    report.write_text("<html>report</html>")
    (tmp_path / "secret.txt").write_text("no")
    provider = ScriptedDashboardProvider(sample_snapshot(), reports=[report])
    async with client_for(provider) as client:
        listing = (await client.get("/api/reports")).json()
        assert [r["name"] for r in listing] == ["backtest-2025-09.html"]
        assert (await client.get("/reports/backtest-2025-09.html")).text == "<html>report</html>"
        assert (await client.get("/reports/secret.txt")).status_code == 404
        assert (await client.get("/reports/..%2Fsecret.txt")).status_code == 404


async def test_live_stream_over_a_real_server() -> None:
    provider = ScriptedDashboardProvider(sample_snapshot())
    server = DashboardServer(
        create_app(provider, DashboardSettings(refresh_seconds=0.05), AUTH), "127.0.0.1", 0
    )
    await server.start()
    try:
        async with (
            httpx.AsyncClient(timeout=5) as client,
            client.stream("GET", f"http://127.0.0.1:{server.port}/api/stream") as response,
        ):
            seen = 0
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    seen += 1
                    if seen == 2:
                        break
    finally:
        await server.stop()
    assert seen == 2


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)")
async def test_dashboard_in_headless_chromium_shows_position_and_kill_switch_halts(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    provider = ScriptedDashboardProvider(sample_snapshot())
    server = DashboardServer(
        create_app(provider, DashboardSettings(refresh_seconds=0.1), AUTH), "127.0.0.1", 0
    )
    await server.start()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{server.port}/?token=viewer-secret-1")
            row = page.locator("#positions tbody tr[data-symbol='NIFTY11AUG2624550CE']")
            await row.wait_for(timeout=10_000)
            assert "1,162.50" in await row.inner_text()
            await page.locator("#risk-state", has_text="ACTIVE").wait_for(timeout=5_000)
            sentiment = await page.locator("#sentiment tbody tr[data-symbol='NIFTY']").inner_text()
            for shown in ("1.08", "0.91", "24,500", "RICH", "-1.35", "short build up", "long unwinding"):
                assert shown in sentiment, sentiment
            profile = await page.locator("#profile tbody tr[data-symbol='NIFTY']").inner_text()
            for shown in ("24,512.35", "24,548.90", "24,480.05", "24,561.20", "24,470.60", "TPO", "10:30"):
                assert shown in profile, profile
            await page.screenshot(path=str(tmp_path / "dashboard.png"))
            await page.click("#kill-button")
            await page.fill("#kill-token", "operator-secret-2")
            await page.click("#kill-confirm")
            await page.locator("#risk-state", has_text="HALTED").wait_for(timeout=10_000)
            await browser.close()
    finally:
        await server.stop()
    assert provider.kills == [("manual kill from dashboard", "operator")]

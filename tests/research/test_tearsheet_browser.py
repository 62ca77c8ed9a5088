"""The tearsheet as a trader sees it: every chart drawn by Plotly in headless Chromium, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from optbot.research.montecarlo import Method, MonteCarloSettings, run_monte_carlo, sample_from_backtest
from optbot.research.tearsheet import write_tearsheet
from optbot.test_kit.browser import CHROMIUM, CHROMIUM_ARGS
from tests.research.test_tearsheet import EQUITY, TRADES, _input


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)")
async def test_every_chart_renders_offline_in_chromium(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    sample = sample_from_backtest(
        [t.net_pnl for t in TRADES],
        [t.charges for t in TRADES],
        [1e4, 2e4],
        [v for _, v in EQUITY],
        500_000.0,
    )
    mc = run_monte_carlo(sample, Method.RESHUFFLE, MonteCarloSettings(paths=100))
    page_file = write_tearsheet(_input(monte_carlo=[mc]), tmp_path / "sheet.html")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(page_file.as_uri())
        charts = page.locator(".chart .plotly-graph-div")
        count = await charts.count()
        assert count == 10  # equity over its underwater curve, monthly, 7 breakdowns, the fan
        for index in range(count):
            await charts.nth(index).locator("svg.main-svg").first.wait_for(timeout=10_000)
        equity_text = await page.locator("#chart-equity").inner_text()
        assert "Equity (₹, IST) with trade exits" in equity_text and "Underwater curve" in equity_text
        # the two panels share one time axis: the same range, drawn at the same place and width
        equity_axis, underwater_axis = await page.evaluate(
            "(() => { const l = document.getElementById('fig-equity')._fullLayout;"
            " return [l.xaxis, l.xaxis2].map(a => [a.range, a._offset, a._length]); })()"
        )
        assert equity_axis == underwater_axis and equity_axis[2] > 500
        assert equity_axis[0][0].startswith(EQUITY[0][0][:10])
        assert "stop loss" in await page.locator("table").last.inner_text()
        await page.screenshot(path=str(tmp_path / "tearsheet.png"), full_page=True)
        await browser.close()
    assert errors == [] and failed == []

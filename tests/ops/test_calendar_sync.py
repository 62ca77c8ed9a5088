"""`optbot calendar sync` against a local stand-in for NSE's endpoint (127.0.0.1, port 0)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from optbot.calendar.holiday_list import HolidayListError, read_synced, synced_file_name
from optbot.cli.main import app
from optbot.config import Settings
from optbot.ops.calendar_sync import calendar_from_settings, sync_calendar, synced_dir
from optbot.test_kit.nse_holidays import (
    FIXTURE_2027,
    NseHolidayServer,
    nse_holiday_server,
    nse_payload,
    packaged_2026,
)

TODAY = date(2026, 12, 6)
runner = CliRunner()


@pytest.fixture
def server() -> Iterator[NseHolidayServer]:
    with nse_holiday_server() as running:
        running.serve_json(nse_payload())
        yield running


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(paths={"data_root": tmp_path})


def stored(settings: Settings) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(synced_dir(settings).glob("*"))}


async def test_a_good_list_is_stored_dated_and_extends_the_calendar(
    settings: Settings, server: NseHolidayServer
) -> None:
    assert calendar_from_settings(settings).is_provisional(date(2027, 1, 26))
    outcome = await sync_calendar(settings, TODAY, url=server.url)
    assert server.requests[0] == "/"  # the home page first, for the cookie
    assert outcome.path == synced_dir(settings) / synced_file_name(TODAY)
    assert read_synced(outcome.path).years == (2026, 2027)
    assert (outcome.previous_last_date, outcome.last_date) == (date(2026, 12, 31), date(2027, 12, 31))
    assert "known range now ends 2027-12-31" in outcome.summary()
    calendar = calendar_from_settings(settings)
    assert not calendar.is_provisional(date(2027, 1, 26)) and calendar.is_holiday(date(2027, 1, 26))
    assert calendar.is_trading_day(date(2027, 1, 25))
    assert calendar.is_provisional(date(2028, 1, 3))


async def test_the_endpoint_refuses_clients_without_the_cookie(server: NseHolidayServer) -> None:
    async with httpx.AsyncClient(headers={"User-Agent": "Mozilla/5.0"}) as client:
        assert (await client.get(server.url)).status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"<html>Access Denied</html>", 200, "did not return JSON"),
        (b'{"CM": [{"tradingDate": "26-Jan-2027"', 200, "did not return JSON"),
        (b'{"error": "busy"}', 200, "segment 'CM' is missing or empty"),
        (b'{"CM": [], "FO": []}', 200, "segment 'CM' is missing or empty"),
        (b"{}", 503, "answered HTTP 503"),
        (
            json.dumps(nse_payload({**packaged_2026(), **dict(list(FIXTURE_2027.items())[:2])})).encode(),
            200,
            "2 equity weekday holidays in 2027",
        ),
    ],
    ids=["html", "truncated-json", "wrong-shape", "empty-lists", "server-error", "partial-year"],
)
async def test_a_bad_reply_replaces_nothing(
    settings: Settings, server: NseHolidayServer, body: bytes, status: int, needle: str
) -> None:
    await sync_calendar(settings, TODAY, url=server.url)
    before = stored(settings)
    server.body, server.status = body, status
    with pytest.raises(HolidayListError, match=needle):
        await sync_calendar(settings, TODAY, url=server.url)
    assert stored(settings) == before
    assert calendar_from_settings(settings).last_date == date(2027, 12, 31)


async def test_unreachable_and_bad_urls_are_one_clear_error(settings: Settings) -> None:
    with nse_holiday_server() as gone:
        url = gone.url
    with pytest.raises(HolidayListError, match="unreachable: ConnectError"):
        await sync_calendar(settings, TODAY, url=url)
    with pytest.raises(HolidayListError, match="not an http"):
        await sync_calendar(settings, TODAY, url="ftp://example/holidays")
    assert stored(settings) == {}


async def test_a_list_dropping_a_known_holiday_needs_acknowledging(
    settings: Settings, server: NseHolidayServer
) -> None:
    without_christmas = {day: name for day, name in packaged_2026().items() if day != date(2026, 12, 25)}
    server.serve_json(nse_payload({**without_christmas, **FIXTURE_2027}))
    with pytest.raises(HolidayListError, match="drops holiday.*2026-12-25.*--accept-removals"):
        await sync_calendar(settings, TODAY, url=server.url)
    assert stored(settings) == {}
    outcome = await sync_calendar(settings, TODAY, url=server.url, accept_removals=True)
    assert outcome.synced.acknowledged_removals == (date(2026, 12, 25),)
    assert calendar_from_settings(settings).is_trading_day(date(2026, 12, 25))


async def test_old_copies_are_pruned_to_the_setting(tmp_path: Path, server: NseHolidayServer) -> None:
    settings = Settings(paths={"data_root": tmp_path}, calendar={"synced_keep": 2})
    for day in (date(2026, 12, 4), date(2026, 12, 5), TODAY):
        await sync_calendar(settings, day, url=server.url)
    assert sorted(stored(settings)) == [synced_file_name(date(2026, 12, 5)), synced_file_name(TODAY)]


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "optbot.toml"
    config.write_text(f'[paths]\ndata_root = "{tmp_path}"\n')
    return config


def test_cli_sync_then_the_calendar_knows_the_year(tmp_path: Path, server: NseHolidayServer) -> None:
    config = _config(tmp_path)
    result = runner.invoke(app, ["--config", str(config), "calendar", "sync", "--url", server.url])
    assert result.exit_code == 0, result.output
    assert "NSE holidays for 2026-2027 stored in" in result.stdout
    assert "4 weekend row(s) ignored" in result.stdout
    days = runner.invoke(
        app, ["--config", str(config), "calendar", "days", "--from", "2027-01-25", "--to", "2027-01-27"]
    )
    assert days.stdout.split() == ["2027-01-25", "2027-01-27"]
    info = json.loads(runner.invoke(app, ["--config", str(config), "calendar", "info"]).stdout)
    assert info["last_date"] == "2027-12-31" and info["synced_years"] == [2026, 2027]


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, server: NseHolidayServer) -> None:
    config = _config(tmp_path)
    server.body = b"not json"
    result = runner.invoke(app, ["--config", str(config), "calendar", "sync", "--url", server.url])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "did not return JSON" in result.stderr
    missing = runner.invoke(
        app, ["--config", str(config), "calendar", "sync", "--from-file", str(tmp_path / "none.json")]
    )
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    both = runner.invoke(
        app, ["--config", str(config), "calendar", "sync", "--url", server.url, "--from-file", "x.json"]
    )
    assert both.exit_code == 2 and "give one source" in both.stderr
    assert not (tmp_path / "calendar").exists()


def test_cli_from_file(tmp_path: Path) -> None:
    saved = tmp_path / "holidays.json"
    saved.write_text(json.dumps(nse_payload()))
    result = runner.invoke(
        app, ["--config", str(_config(tmp_path)), "calendar", "sync", "--from-file", str(saved)]
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "calendar").glob("nse-holidays-*.toml"))) == 1

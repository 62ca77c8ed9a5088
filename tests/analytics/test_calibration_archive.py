"""Calibration and `optbot price` over a data root the bot fills itself: option archive + bar store."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from optbot.analytics.calibration import Calibrator, FitOptions
from optbot.analytics.calibration_archive import read_calibration_data
from optbot.analytics.cli import register as register_pricing_commands
from optbot.analytics.cli_calibrate import register
from optbot.calendar import get_calendar
from optbot.core.timeutil import IST
from optbot.data.archive import OptionArchive, OptionBarRow, rows_to_table
from optbot.data.cli import register as register_data_commands
from tests.conftest import SAMPLE_DATA

DAYS = ("2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07", "2025-01-08")


def _session_open(day: date) -> datetime:
    return datetime.combine(day, time(9, 15), tzinfo=IST).astimezone(UTC)


def _store_daily(root: Path, symbol: str, closes: dict[date, float]) -> None:
    folder = root / "timeframes" / symbol
    folder.mkdir(parents=True)
    lines = [
        json.dumps(
            {
                "start_ts_utc": _session_open(day).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "o": c,
                "h": c,
                "l": c,
                "c": c,
            }
        )
        for day, c in sorted(closes.items())
    ]
    (folder / "daily.json").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bhavcopy rows in the archive (as `optbot data import` stores them: volume in units, no spot)
    and NIFTY / INDIA VIX daily closes in the store."""
    root = tmp_path_factory.mktemp("store_root")
    rows, spots = [], {}
    for text in DAYS:
        day = date.fromisoformat(text)
        with (SAMPLE_DATA / "options" / "bhavcopy_udiff_2025-01" / text / "NIFTY.csv").open() as handle:
            for record in csv.DictReader(handle):
                spots[day] = float(record["UndrlygPric"])
                if record["FinInstrmTp"] != "IDO" or float(record["OpnPric"]) <= 0:
                    continue
                units = int(float(record["TtlTradgVol"])) * int(record["NewBrdLotQty"])
                rows.append(
                    OptionBarRow(
                        _session_open(day),
                        "NIFTY",
                        date.fromisoformat(record["XpryDt"]),
                        float(record["StrkPric"]),
                        record["OptnTp"],
                        record["FinInstrmNm"],
                        float(record["OpnPric"]),
                        float(record["HghPric"]),
                        float(record["LwPric"]),
                        float(record["ClsPric"]),
                        units,
                        int(record["OpnIntrst"]),
                        "bhavcopy",
                    )
                )
    OptionArchive(root).write(rows_to_table(rows), "1d")
    _store_daily(root, "NIFTY", spots)
    vix: dict[date, float] = {}
    with (SAMPLE_DATA / "daily" / "indiavix_daily_merged_2015-01-01_to_2025-09-10.csv").open() as handle:
        for record in csv.DictReader(handle):
            if record["date"] in DAYS:
                vix[date.fromisoformat(record["date"])] = float(record["close"])
    _store_daily(root, "INDIA_VIX", vix)
    return root


def test_archive_and_store_become_end_of_day_observations(store_root: Path) -> None:
    data = read_calibration_data(store_root, sample_every_minutes=15, min_eod_volume=500 * 75)
    assert data.chains and {chain.source for chain in data.chains} == {"EOD"}
    assert {chain.day.isoformat() for chain in data.chains} == set(DAYS)
    first = next(chain for chain in data.chains if chain.day == date(2025, 1, 3))
    assert first.spot == pytest.approx(24004.75) and first.vix == pytest.approx(13.54)
    assert "archive/options" in data.datasets and "timeframes/NIFTY" in data.datasets


def test_fit_on_the_archive_matches_real_premiums(store_root: Path) -> None:
    result = Calibrator(get_calendar(), FitOptions(min_eod_volume=500 * 75)).calibrate(store_root)
    rows = {(row.evaluation, row.segment): row for row in result.errors}
    straddle = rows[("in-sample", "NIFTY 3-35 d EOD ATM straddle")]
    assert straddle.median_abs_pct < 6.0
    assert any("no bid/ask data" in note for note in result.skipped)


def test_price_shows_the_archived_bar(store_root: Path) -> None:
    app = typer.Typer()
    register_data_commands(app)
    register_pricing_commands(app)
    register(app)
    result = CliRunner().invoke(
        app,
        [
            "price",
            "NIFTY",
            "2025-01-30",
            "23900",
            "PE",
            "--at",
            "2025-01-03T15:30:00+05:30",
            "--data",
            str(store_root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "index daily close" in result.output and "archive 1d bar (bhavcopy)" in result.output
    assert "C 259.45" in result.output

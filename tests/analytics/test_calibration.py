"""Fitting the synthetic model on a slice of the bundled real option data, and the two commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from optbot.analytics.calibration import Calibrator, FitOptions, atm_point
from optbot.analytics.calibration_archive import read_calibration_data
from optbot.analytics.cli import register as register_pricing_commands
from optbot.analytics.cli_calibrate import register
from optbot.analytics.synthetic_params import load_calibration
from optbot.calendar import get_calendar
from optbot.data.cli import register as register_data_commands
from tests.conftest import SAMPLE_DATA

runner = CliRunner()
BHAVCOPY_DAYS = ("2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07", "2025-01-08")
MINUTE_FILES = ("NIFTY_2022-11-01_exp2022-11-03.csv.gz", "NIFTY_2022-11-02_exp2022-11-03.csv.gz")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small store of real data: five bhavcopy days, two days of NIFTY minute options, VIX, index."""
    root = tmp_path_factory.mktemp("calibration_data")
    for day in BHAVCOPY_DAYS:
        target = root / "options" / "bhavcopy_udiff_2025-01" / day
        target.mkdir(parents=True)
        for name in ("NIFTY.csv", "BANKNIFTY.csv"):
            shutil.copy(SAMPLE_DATA / "options" / "bhavcopy_udiff_2025-01" / day / name, target / name)
    minute = root / "options" / "nov2022_1min" / "NIFTY"
    minute.mkdir(parents=True)
    for name in MINUTE_FILES:
        shutil.copy(SAMPLE_DATA / "options" / "nov2022_1min" / "NIFTY" / name, minute / name)
    for relative in (
        "daily/indiavix_daily_merged_2015-01-01_to_2025-09-10.csv",
        "daily/nifty50_daily_merged_2016-09-15_to_2025-09-10.csv",
        "intraday/nifty50_1min_nsechart_2022-11-01_to_2022-11-15.csv",
        "intraday/futures_1min_2022-11/FUT_I_2022-11-01.csv",
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_DATA / relative, root / relative)
    snapshots = root / "options" / "snapshots"
    snapshots.mkdir()
    source = sorted((SAMPLE_DATA / "options" / "nifty_option_chain_snapshots_2026-05-26").rglob("*.csv"))[0]
    shutil.copy(source, snapshots / source.name)
    return root


def _app() -> typer.Typer:
    app = typer.Typer()
    register_data_commands(app)
    register_pricing_commands(app)
    register(app)
    return app


def test_reader_recognises_each_kind_of_file(data_root: Path) -> None:
    data = read_calibration_data(data_root, sample_every_minutes=30, min_eod_volume=500)
    sources = {(chain.underlying, chain.source) for chain in data.chains}
    assert sources == {("NIFTY", "EOD"), ("BANKNIFTY", "EOD"), ("NIFTY", "1-minute")}
    assert data.spreads and all(s.spread > 0 for s in data.spreads)
    minute = next(chain for chain in data.chains if chain.source == "1-minute")
    assert minute.spot > 17000 and 10 < minute.vix < 25  # index bar; the previous session's VIX close


def test_parity_forward_is_read_from_the_real_chain(data_root: Path) -> None:
    data = read_calibration_data(data_root, sample_every_minutes=30, min_eod_volume=500)
    eod = [c for c in data.chains if c.underlying == "NIFTY" and c.source == "EOD"]
    monthly = next(c for c in eod if c.future_expiry == c.expiry)
    point = atm_point(monthly, 0.065, 27 / 365)
    assert point is not None
    # the parity forward of the monthly agrees with the month's future close within a few points
    assert abs(point.parity_forward - monthly.future_price) < 25
    # every chain of the day carries the day's near future (the model carries it to its own expiry)
    weekly = next(c for c in eod if c.day == monthly.day and c.expiry < monthly.expiry)
    assert (weekly.future_price, weekly.future_expiry) == (monthly.future_price, monthly.expiry)


def test_fit_reproduces_real_atm_premiums_and_shows_the_put_skew(data_root: Path) -> None:
    calibrator = Calibrator(get_calendar(), FitOptions(sample_every_minutes=30))
    result = calibrator.calibrate(data_root)
    params = result.params
    assert set(params.underlyings) == {"NIFTY", "BANKNIFTY"}
    assert 0.0 < params.underlyings["NIFTY"].carry < 0.2
    assert (
        params.underlyings["BANKNIFTY"].levels[-1].atm_vol_per_vix
        != params.underlyings["NIFTY"].levels[-1].atm_vol_per_vix
    )
    rows = {(row.evaluation, row.segment): row for row in result.errors}
    straddle = rows[("in-sample", "NIFTY 3-35 d EOD ATM straddle")]
    assert straddle.median_abs_pct < 6.0 and abs(straddle.bias_pct) < 5.0
    assert ("out-of-sample", "NIFTY 3-35 d EOD ATM straddle") in rows
    ratios = params.underlyings["NIFTY"].smile.ratio(np.array([-2.0, 2.0]), 20.0)
    assert ratios[0] > ratios[1]  # 2 SD below the forward (puts) above 2 SD above it (calls)
    assert params.spread.time_value_fraction > 0 and params.spread.observations > 0


def test_calibrate_command_writes_a_loadable_file(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.toml"
    result = runner.invoke(
        _app(), ["data", "calibrate", "--data", str(data_root), "--out", str(out), "--sample-minutes", "30"]
    )
    assert result.exit_code == 0, result.output
    assert "NIFTY 3-35 d EOD ATM straddle" in result.output and "carry" in result.output
    loaded = load_calibration(out)
    assert loaded.provenance["data_last_day"] is not None and loaded.errors


def test_check_scores_the_active_calibration_without_fitting(data_root: Path, tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["data", "calibrate", "--data", str(data_root), "--check"])
    assert result.exit_code == 0, result.output
    assert "calibration: packaged" in result.output
    assert "given file" in result.output and "NIFTY 3-35 d EOD ATM straddle" in result.output
    both = runner.invoke(
        _app(), ["data", "calibrate", "--data", str(data_root), "--check", "--out", str(tmp_path / "x.toml")]
    )
    assert both.exit_code == 2 and "drop --out" in both.output


def test_since_fits_only_the_recent_data(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "recent.toml"
    result = runner.invoke(
        _app(), ["data", "calibrate", "--data", str(data_root), "--since", "2025-01-03", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    provenance = load_calibration(out).provenance
    assert str(provenance["data_first_day"]) == "2025-01-03"
    assert "NIFTY 1-minute" not in provenance["chain_observations"]  # the 2022 minute bars are older
    late = runner.invoke(_app(), ["data", "calibrate", "--data", str(data_root), "--since", "2025-02-01"])
    assert late.exit_code == 2 and "from 2025-02-01 on" in late.output
    bad = runner.invoke(_app(), ["data", "calibrate", "--data", str(data_root), "--since", "January"])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_calibrate_command_refuses_a_folder_without_option_data(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["data", "calibrate", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "no option data" in result.output
    missing = runner.invoke(_app(), ["data", "calibrate", "--data", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a folder" in missing.output


def test_calibrate_refuses_an_out_path_before_fitting(data_root: Path, tmp_path: Path) -> None:
    """A missing folder in --out was created silently, after the whole fit."""
    typo = tmp_path / "no_such_folder" / "mine.toml"
    missing = runner.invoke(_app(), ["data", "calibrate", "--data", str(data_root), "--out", str(typo)])
    assert missing.exit_code == 2 and "does not exist (create it first)" in missing.output
    assert "chain observations" not in missing.output and not typo.parent.exists()
    csv = runner.invoke(
        _app(), ["data", "calibrate", "--data", str(data_root), "--out", str(tmp_path / "x.csv")]
    )
    assert csv.exit_code == 2 and "must end in .toml" in csv.output


def test_price_shows_the_model_inputs_and_the_real_bar(data_root: Path) -> None:
    result = runner.invoke(
        _app(),
        ["price", "NIFTY03NOV2218000CE", "--at", "2022-11-01T11:00:00+05:30", "--data", str(data_root)],
    )
    assert result.exit_code == 0, result.output
    for expected in ("spot", "forward", "time left", "ATM IV", "bid", "ask", "delta", "real bar", "C 207.15"):
        assert expected in result.output
    # the data has the near future's minute bar: the quote with it as the forward is shown beside
    assert "near future   18210.05 (2022-11-24) as the forward instead" in result.output
    by_parts = runner.invoke(
        _app(),
        [
            "price",
            "NIFTY",
            "2025-01-30",
            "23900",
            "PE",
            "--at",
            "2025-01-03T15:30:00+05:30",
            "--data",
            str(data_root),
        ],
    )
    assert by_parts.exit_code == 0 and "bhavcopy EOD row" in by_parts.output
    # the data's NIFTY daily closes give the last week the ATM vol and the call side respond to:
    # ln(24188.65 (01-02) / 23750.20 (12-26, five sessions before)) = +1.83 %
    assert "last week     NIFTY r = +1.83% to the last close before 2025-01-03" in by_parts.output
    banknifty = runner.invoke(
        _app(),
        [
            "price",
            "BANKNIFTY",
            "2025-01-30",
            "52000",
            "CE",
            "--at",
            "2025-01-03T15:30:00+05:30",
            "--spot",
            "51000",
            "--vix",
            "13.5",
            "--data",
            str(data_root),
        ],
    )
    assert banknifty.exit_code == 0 and "no BANKNIFTY daily closes before 2025-01-03" in banknifty.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["NIFTY99XYZ2218000CE", "--at", "2022-11-01T11:00:00+05:30"], "not an expiry"),
        (["BANKNIFTY", "--at", "2022-11-01T11:00:00+05:30"], "not an option symbol"),
        (["NIFTY03NOV2218000CE", "--at", "2022-11-01T11:00:00"], "ISO time with a zone"),
        (["NIFTY", "2022-11-03", "abc", "CE", "--at", "2022-11-01T11:00:00+05:30"], "not a number"),
        (["NIFTY", "2022-11-03", "18000", "--at", "2022-11-01T11:00:00+05:30"], "give one SYMBOL"),
        (["NIFTY03NOV2218000CE", "--at", "2022-11-05T11:00:00+05:30"], "after the contract's expiry"),
    ],
)
def test_price_bad_input_is_one_line_and_exit_2(data_root: Path, arguments: list[str], message: str) -> None:
    result = runner.invoke(_app(), ["price", *arguments, "--data", str(data_root)])
    assert result.exit_code == 2, result.output
    assert message in result.output

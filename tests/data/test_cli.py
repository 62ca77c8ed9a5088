from __future__ import annotations

import json
from datetime import date

from typer.testing import CliRunner

from optbot.data.archive import OptionArchive
from tests.data.cli_app import data_cli_app

app = data_cli_app()


def run(args, tmp_path, **extra):
    env = {"OPTBOT__PATHS__DATA_ROOT": str(tmp_path), "COLUMNS": "200", **extra}
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def test_import_gaps_validate_backup_restore(tmp_path, sample_data):
    minute_file = sample_data / "intraday" / "nifty50_1min_yf_2025-09-04_to_2025-09-10.csv"
    result = run(["data", "import", str(minute_file), "--symbol", "NIFTY"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "1874" in result.output and "partial day: 374 of 375 bars" in result.output
    assert (tmp_path / "timeframes" / "NIFTY" / "1m.json").exists()
    again = run(["data", "import", str(minute_file), "--symbol", "NIFTY"], tmp_path)
    assert "│ 0     │ 0        │ 1874" in again.output  # idempotent: nothing added, all unchanged

    gaps = run(["data", "gaps", "--symbol", "NIFTY"], tmp_path)
    assert gaps.exit_code == 0, gaps.output
    assert "missing bars within the session" in gaps.output and "99.95" in gaps.output
    (report_path,) = (tmp_path / "reports" / "data").glob("gaps-*.json")
    report = json.loads(report_path.read_text())
    assert report[0]["missing"] == 1 and report[0]["gaps"][0]["start_ist"].startswith("2025-09-05T15:19")

    quality = run(["data", "validate"], tmp_path)
    assert quality.exit_code == 0 and "incomplete=374" in quality.output

    backup = run(["data", "backup"], tmp_path)
    assert backup.exit_code == 0 and "verified" in backup.output
    (tmp_path / "timeframes" / "NIFTY" / "1m.json").write_text("")
    restored = run(["data", "restore", "--yes"], tmp_path)
    assert restored.exit_code == 0, restored.output
    assert (tmp_path / "timeframes" / "NIFTY" / "1m.json").stat().st_size > 100_000

    maintained = run(["data", "maintain"], tmp_path)
    assert maintained.exit_code == 0 and "NIFTY/1m" in maintained.output


def test_user_errors_exit_2(tmp_path, sample_data):
    missing = run(["data", "import", str(tmp_path / "nope.csv"), "--symbol", "NIFTY"], tmp_path)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    daily = sample_data / "daily" / "nifty50_daily_nse_2016-09-15_to_2021-09-13.csv"
    wrong = run(["data", "import", str(daily), "--symbol", "NIFTY", "--timeframe", "2m"], tmp_path)
    assert wrong.exit_code == 2 and "--timeframe must be one of" in wrong.output
    bad_symbol = run(["data", "import", str(daily), "--symbol", "../x"], tmp_path)
    assert bad_symbol.exit_code == 2 and "file name" in bad_symbol.output
    empty = run(["data", "gaps"], tmp_path)
    assert empty.exit_code == 2 and "store is empty" in empty.output
    no_backup = run(["data", "restore", "--yes"], tmp_path)
    assert no_backup.exit_code == 2 and "no backups" in no_backup.output


def test_import_recognises_option_files_without_symbol(tmp_path, sample_data):
    minute = (
        sample_data / "options" / "nov2022_1min" / "FINNIFTY" / "FINNIFTY_2022-11-01_exp2022-11-01.csv.gz"
    )
    udiff = sample_data / "options" / "bhavcopy_udiff_2025-01" / "2025-01-03" / "NIFTY.csv"
    futures = sample_data / "intraday" / "futures_1min_2022-11" / "FUT_I_2022-11-02.csv"
    root = tmp_path / "elsewhere"
    result = run(["data", "import", str(minute), str(udiff), str(futures), "--data", str(root)], tmp_path)
    assert result.exit_code == 0, result.output
    assert "format option_bars" in result.output and "format bhavcopy_udiff" in result.output
    assert "not traded (zero OHLC/volume" in result.output
    archive = OptionArchive(root)
    assert archive.underlyings() == ["FINNIFTY", "NIFTY"]
    assert archive.days("NIFTY", "1d") == [date(2025, 1, 3)]
    stored = archive.day("FINNIFTY", date(2022, 11, 1)).num_rows
    assert f"{stored} rows (added {stored}," in " ".join(result.output.split())
    assert (root / "timeframes" / "BANKNIFTY-I" / "1m.json").exists()
    assert not (tmp_path / "archive").exists()  # --data chose the root
    again = run(["data", "import", str(minute), "--data", str(root)], tmp_path)
    assert f"(added 0, replaced 0, unchanged {stored})" in " ".join(again.output.split())
    index = sample_data / "intraday" / "nifty50_1min_nsechart_2022-11-01_to_2022-11-15.csv"
    nothing = run(["data", "import", str(index)], tmp_path)
    assert nothing.exit_code == 2 and "--symbol" in nothing.output


def test_a_second_daily_import_keeps_the_first(tmp_path, sample_data):
    nse = sample_data / "daily" / "nifty50_daily_nse_2016-09-15_to_2021-09-13.csv"
    yahoo = sample_data / "daily" / "nifty50_daily_yf_2019-01-02_to_2024-12-31.csv"
    assert run(["data", "import", str(nse), "--symbol", "NIFTY"], tmp_path).exit_code == 0
    # Yahoo's 2021-02-24 (the halt day) has open and close swapped against NSE's: refused, kept.
    refused = run(["data", "import", str(yahoo), "--symbol", "NIFTY"], tmp_path)
    assert refused.exit_code == 2
    assert "1 NIFTY daily bar(s) differ" in refused.output and "2021-02-24" in refused.output
    store_file = tmp_path / "timeframes" / "NIFTY" / "daily.json"
    assert json.loads(store_file.read_text().splitlines()[-1])["start_ts_utc"][:10] == "2021-09-13"
    second = run(["data", "import", str(yahoo), "--symbol", "NIFTY", "--replace"], tmp_path)
    assert second.exit_code == 0, second.output
    starts = [json.loads(line)["start_ts_utc"][:10] for line in store_file.read_text().splitlines()]
    assert starts[0] == "2016-09-15" and starts[-1] == "2024-12-31"
    assert "retention" in second.output
    maintained = run(["data", "maintain"], tmp_path)
    assert "imported history is kept" in maintained.output
    assert len(store_file.read_text().splitlines()) == len(starts)


def test_validate_exits_non_zero_and_names_every_bad_bar(tmp_path):
    rows = ["date,open,high,low,close"] + [
        f"2024-01-{day:02d},100,101,99,{100 + (day % 3) * 0.2}" for day in range(1, 32)
    ]
    rows[11] = "2024-01-11,100,150,99,149"  # one bad print, back the next day
    path = tmp_path / "daily.csv"
    path.write_text("\n".join(rows))
    assert run(["data", "import", str(path), "--symbol", "NIFTY"], tmp_path).exit_code == 0
    result = run(["data", "validate"], tmp_path)
    assert result.exit_code == 1, result.output
    assert "2024-01-11 09:15" in result.output and "2024-01-12 09:15" in result.output
    assert "2 bar(s) failed" in result.output


def _stored_files(tmp_path):
    return {path.name: path.read_bytes() for path in (tmp_path / "timeframes").rglob("*") if path.is_file()}


def test_a_forced_wrong_zone_is_refused_and_stored_bars_are_kept(tmp_path, sample_data):
    index = sample_data / "intraday" / "nifty50_1min_nsechart_2022-11-01_to_2022-11-15.csv"  # naive IST
    assert run(["data", "import", str(index), "--symbol", "NIFTY"], tmp_path).exit_code == 0
    before = _stored_files(tmp_path)
    wrong = run(["data", "import", str(index), "--symbol", "NIFTY", "--tz", "utc"], tmp_path)
    assert wrong.exit_code == 2
    line = " ".join(wrong.output.split())
    assert "--tz utc puts 3300 of 3750 1m rows outside the session" in line
    assert "look like IST" in line
    assert _stored_files(tmp_path) == before  # the 14:45-15:30 bars were not replaced
    again = run(["data", "import", str(index), "--symbol", "NIFTY", "--tz", "ist"], tmp_path)
    assert again.exit_code == 0 and "│ 0     │ 0        │ 3750" in again.output  # identical: unchanged


def test_differing_bars_are_replaced_only_with_replace(tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("date,open,high,low,close\n2022-11-01,100,110,90,105\n2022-11-02,105,112,100,110\n")
    assert run(["data", "import", str(first), "--symbol", "NIFTY"], tmp_path).exit_code == 0
    within_tick = tmp_path / "tick.csv"
    within_tick.write_text("date,open,high,low,close\n2022-11-01,100.05,110,90,105\n")
    assert run(["data", "import", str(within_tick), "--symbol", "NIFTY"], tmp_path).exit_code == 0
    before = _stored_files(tmp_path)
    second = tmp_path / "second.csv"
    second.write_text("date,open,high,low,close\n2022-11-02,105,112,100,111\n2022-11-03,110,115,108,112\n")
    refused = run(["data", "import", str(second), "--symbol", "NIFTY"], tmp_path)
    assert refused.exit_code == 2
    assert "1 NIFTY daily bar(s) differ from stored ones (first at 2022-11-02" in " ".join(
        refused.output.split()
    )
    assert _stored_files(tmp_path) == before  # not even the new 2022-11-03 bar
    replaced = run(["data", "import", str(second), "--symbol", "NIFTY", "--replace"], tmp_path)
    assert replaced.exit_code == 0 and "│ 1     │ 1        │ 0         │ 3" in replaced.output


def test_a_two_row_minute_file_with_a_bad_row_never_replaces_a_daily_bar(tmp_path):
    daily = tmp_path / "daily.csv"
    daily.write_text("date,open,high,low,close\n2022-11-01,18130.7,18175.8,18060.15,18145.4\n")
    assert run(["data", "import", str(daily), "--symbol", "NIFTY"], tmp_path).exit_code == 0
    before = _stored_files(tmp_path)
    minutes = tmp_path / "minutes.csv"
    minutes.write_text(
        "timestamp,open,high,low,close\n"
        "2022-11-01 09:15:00,18100,18110,18090,18100\n"
        "2022-11-01 09:16:00,18100,bad,18090,18100\n"
    )
    refused = run(["data", "import", str(minutes), "--symbol", "NIFTY"], tmp_path)
    assert refused.exit_code == 2 and "pass --timeframe" in refused.output
    as_daily = run(["data", "import", str(minutes), "--symbol", "NIFTY", "--timeframe", "daily"], tmp_path)
    assert as_daily.exit_code == 2 and "not daily bars" in as_daily.output
    assert _stored_files(tmp_path) == before
    as_minutes = run(["data", "import", str(minutes), "--symbol", "NIFTY", "--timeframe", "1m"], tmp_path)
    assert as_minutes.exit_code == 0, as_minutes.output
    stored = _stored_files(tmp_path)
    assert stored["daily.json"] == before["daily.json"] and stored["1m.json"].count(b"\n") == 1


def test_the_report_path_is_printed_on_one_line_however_narrow_the_console(tmp_path, sample_data):
    minute_file = sample_data / "intraday" / "nifty50_1min_yf_2025-09-04_to_2025-09-10.csv"
    root = tmp_path / ("a-data-root-with-a-long-name-" * 3)
    result = run(["data", "import", str(minute_file), "--symbol", "NIFTY"], root, COLUMNS="60")
    assert result.exit_code == 0, result.output
    (report_path,) = (root / "reports" / "data").glob("import-*.json")
    assert f"report: {report_path}\n" in result.output

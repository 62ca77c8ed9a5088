from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app

runner = CliRunner()


def test_days_lists_trading_days() -> None:
    result = runner.invoke(app, ["calendar", "days", "--from", "2024-10-30", "--to", "2024-11-05"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["2024-10-30", "2024-10-31", "2024-11-01", "2024-11-04", "2024-11-05"]


def test_days_equity_segment() -> None:
    result = runner.invoke(
        app, ["calendar", "days", "--from", "2025-02-01", "--to", "2025-02-03", "--segment", "equity"]
    )
    assert result.output.split() == ["2025-02-01", "2025-02-03"]


def test_session_json() -> None:
    result = runner.invoke(app, ["calendar", "session", "2026-08-03"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "date": "2026-08-03",
        "is_trading_day": True,
        "pre_open": "2026-08-03T09:00:00+05:30",
        "open": "2026-08-03T09:15:00+05:30",
        "close": "2026-08-03T15:40:00+05:30",
        "special": None,
        "provisional": False,
    }


def test_session_on_a_holiday_has_nulls() -> None:
    payload = json.loads(runner.invoke(app, ["calendar", "session", "2025-12-25"]).output)
    assert payload["is_trading_day"] is False and payload["open"] is None and payload["special"] is None


def test_expiries() -> None:
    result = runner.invoke(
        app, ["calendar", "expiries", "NIFTY", "--from", "2026-08-01", "--to", "2026-08-20"]
    )
    assert result.output.split() == ["2026-08-04", "2026-08-11", "2026-08-18"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["calendar", "session", "2024-02-30"], "2024-02-30"),
        (["calendar", "session", "2031-01-05"], "2031-01-05"),
        (["calendar", "days", "--from", "2024-01-10", "--to", "2024-01-01"], "before"),
        (["calendar", "days", "--from", "2024-01-01", "--to", "2024-01-10", "--segment", "cash"], "cash"),
        (["calendar", "expiries", "NIFTI", "--from", "2024-01-01", "--to", "2024-02-01"], "NIFTI"),
        (
            [
                "calendar",
                "expiries",
                "NIFTY",
                "--from",
                "2024-01-01",
                "--to",
                "2024-02-01",
                "--kind",
                "daily",
            ],
            "daily",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.output.replace("\n", "")
    assert "Traceback" not in result.output


def test_info_reports_coverage() -> None:
    result = runner.invoke(app, ["calendar", "info", "--today", "2026-11-24"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["last_date"] == "2026-12-31"
    assert payload["coverage_days_left"] == 37
    assert payload["needs_update"] is True
    early = json.loads(runner.invoke(app, ["calendar", "info", "--today", "2026-01-02"]).output)
    assert early["needs_update"] is False


def test_configured_override_file_is_used(tmp_path: Path) -> None:
    import tomllib
    from datetime import date
    from importlib import resources

    import tomli_w

    data = tomllib.loads(
        resources.files("optbot.calendar").joinpath("data", "nse_overrides.toml").read_text("utf-8")
    )
    data["last_date"] = date(2027, 3, 31)
    data["holidays"].append({"date": date(2027, 1, 26), "name": "Republic Day"})
    (tmp_path / "cal.toml").write_bytes(tomli_w.dumps(data).encode())
    config = tmp_path / "optbot.toml"
    config.write_text(f'[paths]\ndata_root = "{tmp_path}"\n[calendar]\noverrides_file = "cal.toml"\n')
    result = runner.invoke(
        app, ["--config", str(config), "calendar", "days", "--from", "2027-01-25", "--to", "2027-01-27"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["2027-01-25", "2027-01-27"]
    # Without the config the packaged calendar answers 2027 provisionally: weekdays trade except the
    # fixed-date national holidays (Republic Day).
    packaged = runner.invoke(app, ["calendar", "days", "--from", "2027-01-25", "--to", "2027-01-27"])
    assert packaged.exit_code == 0
    assert packaged.stdout.split() == ["2027-01-25", "provisional", "2027-01-27", "provisional"]


def test_holidays_lists_names_and_special_sessions() -> None:
    result = runner.invoke(app, ["calendar", "holidays", "--from", "2025-10-01", "--to", "2025-10-31"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["2025-10-02", "2025-10-21", "2025-10-22"]
    assert "special session: muhurat 13:45-14:45" in lines[1]

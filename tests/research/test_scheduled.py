from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.engine.cli import _data_management_tasks
from optbot.ops.session import SessionRunner
from optbot.research.scheduled import run_scheduled_studies
from optbot.strategy.rotation import ROTATION_FILE, benched, read_verdicts
from tests.research.test_walkforward import _run


def _settings(tmp_path: Path, **research) -> Settings:
    return Settings.model_validate(
        {
            "paths": {"data_root": str(tmp_path)},
            "research": {
                "studies": [{"name": "weekly", "strategy": "adx_trend", "lookback_months": 9, "trials": 6}],
                **research,
            },
        }
    )


def test_a_scheduled_walk_forward_writes_a_tearsheet_a_verdict_and_notifies(tmp_path: Path) -> None:
    sent: list[tuple[str, str]] = []
    outcomes = run_scheduled_studies(
        _settings(tmp_path), date(2022, 3, 1), lambda t, b: sent.append((t, b)), _run
    )
    assert len(outcomes) == 1 and outcomes[0].error is None
    assert outcomes[0].tearsheet is not None and outcomes[0].tearsheet.is_file()
    verdicts = read_verdicts(tmp_path / "state" / ROTATION_FILE)
    verdict = verdicts["adx_trend"]
    assert verdict.out_of_sample_sessions > 20 and verdict.as_of == "2022-03-01"
    assert sent and "adx_trend out-of-sample net" in sent[0][1]


def test_a_strategy_whose_edge_vanished_out_of_sample_is_benched(tmp_path: Path) -> None:
    settings = _settings(tmp_path, rotation_min_walk_forward_efficiency=5.0)
    run_scheduled_studies(settings, date(2022, 3, 1), None, _run)
    reasons = benched(read_verdicts(tmp_path / "state" / ROTATION_FILE))
    assert "walk-forward efficiency" in reasons["adx_trend"]


def test_a_failing_study_is_reported_and_others_still_run(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "paths": {"data_root": str(tmp_path)},
            "research": {
                "studies": [
                    {
                        "name": "too-short",
                        "strategy": "adx_trend",
                        "lookback_months": 2,
                        "in_sample_months": 6,
                    },
                    {"name": "ok", "strategy": "adx_trend", "lookback_months": 9, "trials": 4},
                ]
            },
        }
    )
    outcomes = run_scheduled_studies(settings, date(2022, 3, 1), None, _run)
    assert outcomes[0].error is not None and "shorter than one window" in outcomes[0].error
    assert outcomes[1].error is None


async def test_the_bots_data_management_task_runs_a_real_walk_forward_and_rotation_follows_it(
    tmp_path: Path,
) -> None:
    """End to end, as the bot does it on a non-trading day: the task the supervisor is given runs a
    walk-forward of real backtests over the sample store, writes the tearsheet and the verdict from
    the out-of-sample result, and the next session's strategy list follows that verdict."""
    settings = Settings.model_validate(
        {
            "paths": {"data_root": str(tmp_path)},
            "strategy": {"enabled": ["iron_condor", "adx_trend"]},
            "research": {
                "studies": [
                    {
                        "name": "weekend",
                        "strategy": "iron_condor",
                        "lookback_months": 2,
                        "in_sample_months": 1,
                        "out_of_sample_months": 1,
                        "trials": 2,
                    }
                ],
                "rotation_min_out_of_sample_sessions": 5,
            },
        }
    )
    (task,) = _data_management_tasks(settings)
    saturday = date(2023, 3, 4)
    lines = await task(saturday)
    verdict = read_verdicts(tmp_path / "state" / ROTATION_FILE)["iron_condor"]
    assert verdict.as_of == "2023-03-04" and verdict.out_of_sample_sessions >= 15
    assert verdict.benched == (verdict.out_of_sample_net_pnl < 0)  # the IS fit never clears a loser
    assert verdict.benched  # this window lost money out of sample
    sheet = tmp_path / "reports" / "research" / "weekend-2023-03-04" / "tearsheet.html"
    assert sheet.is_file() and "Walk-forward windows" in sheet.read_text(encoding="utf-8")
    assert lines == [("optbot research: weekend", lines[0][1])] and "BENCHED" in lines[0][1]
    clock = SimClock(datetime(2023, 3, 6, 3, 0, tzinfo=UTC))
    session = SessionRunner(
        settings, clock, cast(Any, None), get_calendar(), paper=True, serve_operations=False
    )
    assert [strategy.name for strategy in session._rotated_strategies()] == ["adx_trend"]
    assert "iron_condor" in session.benched

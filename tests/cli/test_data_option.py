"""`--data PATH` is read the same way by `optbot backtest` and the research commands: a relative
path that is not under the current directory names the project folder's (the bundled sample)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.core.bundled import SAMPLE_STORE
from optbot.core.errors import UserError

DAYS = ["--from", "2022-11-01", "--to", "2022-11-02"]


class Captured(UserError):
    """Raised by the stand-in backtest to stop the command once it has the data root it was given."""


@pytest.mark.parametrize(
    ("command", "patched"),
    [
        (["backtest", *DAYS], "optbot.backtest.runner.run_backtest"),
        (["research", "montecarlo", "--strategy", "orb", *DAYS], "optbot.research.evaluate.run_backtest"),
        # stress checks the strategy's name before any window: a real one
        (["research", "stress", "--strategy", "adx_trend"], "optbot.research.evaluate.run_backtest"),
        (["research", "regimes", "--strategy", "orb", *DAYS], "optbot.research.evaluate.run_backtest"),
    ],
)
def test_a_relative_data_path_resolves_like_the_backtest_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], patched: str
) -> None:
    seen: list[Path | None] = []

    def stand_in(*args: Any, data_dir: Path | None = None, **kwargs: Any) -> None:
        seen.append(data_dir)
        raise Captured("captured")

    monkeypatch.chdir(tmp_path)  # data/sample/store is not here: the project's is meant
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "home"))
    monkeypatch.setattr(patched, stand_in)
    result = CliRunner().invoke(app, [*command, "--data", "data/sample/store", "--out", str(tmp_path)])
    assert seen, result.output  # stress reports each window's error and goes on: every one saw it
    assert set(seen) == {SAMPLE_STORE}

"""The bar kernel's engine settings: the backtest's own kill-flag re-read interval, in replayed time."""

from __future__ import annotations

from pathlib import Path

from optbot.backtest.kernel import _engine_settings
from optbot.config import Settings


def test_the_engine_rereads_the_kill_flag_at_the_backtest_interval(tmp_path: Path) -> None:
    settings = Settings(paths={"data_root": tmp_path}, backtest={"kill_file_check_seconds": 300})
    engine_settings = _engine_settings(settings)
    assert engine_settings.risk.kill_file_check_seconds == 300
    assert settings.risk.kill_file_check_seconds == 1.0  # the live tick path's is left alone
    assert engine_settings.model_dump(exclude={"risk"}) == settings.model_dump(exclude={"risk"})
    assert engine_settings.risk.model_dump(exclude={"kill_file_check_seconds"}) == settings.risk.model_dump(
        exclude={"kill_file_check_seconds"}
    )

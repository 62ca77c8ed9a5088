"""The bundled sample is found from any directory; a user's relative path is read from where they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from optbot.config.sections.replay import ReplaySettings
from optbot.core.bundled import PROJECT_ROOT, SAMPLE_STORE, resolve_data_path


def test_the_sample_store_is_anchored_on_the_project_not_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (SAMPLE_STORE / "timeframes").is_dir()
    assert resolve_data_path(Path("data/sample/store")) == SAMPLE_STORE
    assert ReplaySettings().data_dir == SAMPLE_STORE
    assert (PROJECT_ROOT / "src" / "optbot").is_dir()


def test_a_relative_path_present_here_wins_over_the_project_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "sample" / "store").mkdir(parents=True)
    assert resolve_data_path(Path("data/sample/store")) == tmp_path / "data" / "sample" / "store"
    assert ReplaySettings(data_dir=Path("mine")).data_dir == tmp_path / "mine"  # absent anywhere: here
    assert resolve_data_path(Path("/srv/data")) == Path("/srv/data")

from __future__ import annotations

from datetime import datetime

import pytest

from optbot.calendar import get_calendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.clock import SimClock
from optbot.sim.market import IndexHistory, ReplayMarket, load_store_histories
from tests.conftest import SAMPLE_STORE


@pytest.fixture(scope="session")
def replay_settings() -> ReplaySettings:
    return ReplaySettings(data_dir=SAMPLE_STORE)


@pytest.fixture(scope="session")
def histories(replay_settings: ReplaySettings) -> dict[str, IndexHistory]:
    """Loaded once: parsing the 15-minute files is the slow part."""
    return load_store_histories(replay_settings, get_calendar())


@pytest.fixture
def make_market(histories: dict[str, IndexHistory], replay_settings: ReplaySettings):  # type: ignore[no-untyped-def]
    def build(start: datetime, speed: float | None = None) -> ReplayMarket:
        return ReplayMarket(SimClock(start, speed=speed), replay_settings, get_calendar(), histories)

    return build

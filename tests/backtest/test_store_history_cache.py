"""StoreHistory parses a bar file once per process and reads it again when the file changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from optbot.backtest.store_data import StoreHistory
from optbot.calendar import get_calendar
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.data.store import JsonStore


def _bar(start: datetime, close: float) -> Bar:
    end = start + timedelta(minutes=15)
    return Bar(end, "NIFTY", "NIFTY", Timeframe.M15, start, end, close, close + 5, close - 5, close, 0)


def test_a_changed_file_is_read_again_and_an_unchanged_one_is_shared(tmp_path: Path) -> None:
    store = JsonStore(
        PathsSettings(data_root=tmp_path),
        DataSettings(fsync_appends=False),
        SimClock(datetime(2024, 6, 3, tzinfo=UTC)),
    )
    first = datetime(2024, 6, 3, 3, 45, tzinfo=UTC)  # 09:15 IST
    store.append_bar(_bar(first, 22_000.0))
    one = StoreHistory(tmp_path, get_calendar()).day("NIFTY", date(2024, 6, 3))
    again = StoreHistory(tmp_path, get_calendar()).day("NIFTY", date(2024, 6, 3))
    assert one is not None and again is not None and one.bars is again.bars  # parsed once
    store.append_bar(_bar(first + timedelta(minutes=15), 22_010.0))
    changed = StoreHistory(tmp_path, get_calendar()).day("NIFTY", date(2024, 6, 3))
    assert changed is not None and [bar.close for bar in changed.bars] == [22_000.0, 22_010.0]

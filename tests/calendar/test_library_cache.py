"""The library holiday list is cached per library version, so later processes skip pandas."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from optbot.calendar import nse


def test_cache_written_reused_and_rebuilt_when_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first, last = date(2024, 1, 1), date(2024, 12, 31)
    computed = nse._library_holidays(first, last)
    cache = nse._library_cache_path(first, last)
    assert cache is not None and cache.is_relative_to(tmp_path) and cache.exists()
    assert date(2024, 1, 26) in computed  # Republic Day
    assert {date.fromisoformat(text) for text in json.loads(cache.read_text())} == computed

    calls: list[tuple[date, date]] = []

    def counting(start: date, end: date) -> set[date]:
        calls.append((start, end))
        return set()

    monkeypatch.setattr(nse, "_compute_library_holidays", counting)
    assert nse._library_holidays(first, last) == computed and calls == []  # served from the file

    cache.write_text("{not json")
    assert nse._library_holidays(first, last) == set() and len(calls) == 1  # damaged: recomputed, rewritten
    assert json.loads(cache.read_text()) == []

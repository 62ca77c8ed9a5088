"""Project-wide pytest setup: no test may reach the network except loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "data" / "sample"

# Keep the official SDK's import-time ipify lookup and any stray client off the network.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sample_data() -> Path:
    return SAMPLE_DATA


# No test may reach NSE: data-management mode's calendar sync is off unless a test turns it on, and
# the default list URL points at the loopback discard port.
os.environ.setdefault("OPTBOT__CALENDAR__SYNC_IN_DATA_MANAGEMENT", "false")
os.environ.setdefault("OPTBOT__CALENDAR__SYNC_URL", "http://127.0.0.1:9/api/holiday-master?type=trading")

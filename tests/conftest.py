"""Project-wide pytest setup: no test may reach the network except loopback; Hypothesis is derandomised.

Hypothesis runs every property test from a fixed seed with no example database: a fresh clone and the
hundredth run explore the same examples, so no result depends on what an earlier run happened to find
(a tolerance test once failed only after the database had saved its counterexample).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("optbot", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("OPTBOT_HYPOTHESIS_PROFILE", "optbot"))

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "data" / "sample"
SAMPLE_STORE = SAMPLE_DATA / "store"  # the bundled data root (JSON timeframes + option archive)

# Rich tables are as wide in pytest-xdist workers as in a serial run (a worker's console measured
# narrower and truncated the symbol column of `instruments search`).
os.environ.setdefault("COLUMNS", "200")

# Keep the official SDK's import-time ipify lookup and any stray client off the network.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sample_data() -> Path:
    return SAMPLE_DATA


@pytest.fixture
def sample_store() -> Path:
    return SAMPLE_STORE


# No test may reach NSE: data-management mode's calendar sync is off unless a test turns it on, and
# the default list URL points at the loopback discard port.
os.environ.setdefault("OPTBOT__CALENDAR__SYNC_IN_DATA_MANAGEMENT", "false")
os.environ.setdefault("OPTBOT__CALENDAR__SYNC_URL", "http://127.0.0.1:9/api/holiday-master?type=trading")


def pytest_configure(config: pytest.Config) -> None:
    """The controller names one file every process appends its soak figures to (workers inherit it)."""
    from tests.soak.figures import SHARED_FILE

    if not hasattr(config, "workerinput") and config.getoption("markexpr", "") == "soak":
        handle, path = tempfile.mkstemp(prefix="optbot-soak-figures-", suffix=".jsonl")
        os.close(handle)
        os.environ[SHARED_FILE] = path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """`make soak` ends with one table of the campaigns (and their detailed measures)."""
    from tests.soak.figures import CAMPAIGNS, FIGURES, campaign_table, load_shared, table

    load_shared()
    if CAMPAIGNS:
        terminalreporter.section("soak figures")
        for line in campaign_table():
            terminalreporter.write_line(line)
    if FIGURES:
        terminalreporter.section("soak measures")
        for line in table():
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A campaign that missed a target fails the run even if its test did not (belt and braces)."""
    from tests.soak.figures import load_shared, targets_missed

    if hasattr(session.config, "workerinput"):
        return
    load_shared()
    if targets_missed() and exitstatus == 0:
        session.exitstatus = 1

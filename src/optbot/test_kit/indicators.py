"""Sample-data loaders for indicator tests in any package (reads the repository's `data/sample`)."""

from __future__ import annotations

from pathlib import Path

from optbot.core.bundled import SAMPLE_ROOT as BUNDLED_SAMPLE
from optbot.indicators.ohlc_csv import OhlcSeries, read_ohlc_csv

SAMPLE_ROOT = BUNDLED_SAMPLE
NIFTY_DAILY_MERGED = SAMPLE_ROOT / "daily" / "nifty50_daily_merged_2016-09-15_to_2025-09-10.csv"
BANKNIFTY_DAILY_MERGED = SAMPLE_ROOT / "daily" / "banknifty_daily_merged_2016-09-15_to_2025-09-10.csv"
NIFTY_DAILY_NSE = SAMPLE_ROOT / "daily" / "nifty50_daily_nse_2016-09-15_to_2021-09-13.csv"
NIFTY_DAILY_YAHOO = SAMPLE_ROOT / "daily" / "nifty50_daily_yf_2019-01-02_to_2024-12-31.csv"
NIFTY_1MIN_YAHOO = SAMPLE_ROOT / "intraday" / "nifty50_1min_yf_2025-09-04_to_2025-09-10.csv"
NIFTY_15MIN = SAMPLE_ROOT / "intraday" / "nifty50_15min_2015-01-09_to_2024-12-31.csv"


def load_sample(path: Path = NIFTY_DAILY_MERGED) -> OhlcSeries:
    return read_ohlc_csv(path)

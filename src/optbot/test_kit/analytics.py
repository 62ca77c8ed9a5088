"""Loaders turning the sample option files into `ChainQuote` rows, for analytics tests in any package."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from optbot.analytics.chain import ChainQuote
from optbot.core.bundled import SAMPLE_ROOT as BUNDLED_SAMPLE
from optbot.core.enums import OptionType

SAMPLE_ROOT = BUNDLED_SAMPLE
CHAIN_SNAPSHOT = SAMPLE_ROOT / "options" / "nifty_option_chain_snapshot_2026-08-07_close_exp_2026-08-11.csv"
BHAVCOPY = SAMPLE_ROOT / "options" / "nifty_options_eod_2024-05-21_exp_2024-05-23.csv"
#: NIFTY 50 close on the snapshot day (2026-08-07) and on the bhavcopy day (2024-05-21).
SNAPSHOT_SPOT = 24570.65
BHAVCOPY_SPOT = 22529.05
#: Snapshot taken at the 15:30 close on Friday 2026-08-07; expiry Tuesday 2026-08-11 15:30: 4 calendar days.
SNAPSHOT_YEARS_TO_EXPIRY = 4 / 365


def load_chain_snapshot(path: Path = CHAIN_SNAPSHOT) -> list[ChainQuote]:
    """NSE option-chain snapshot: OI in contracts, IV in percent (0 = not computed), LTP 0 = no trade."""
    quotes: list[ChainQuote] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for side, option_type in (("ce", OptionType.CE), ("pe", OptionType.PE)):
                ltp = float(row[f"{side}_ltp"])
                iv = float(row[f"{side}_iv"])
                quotes.append(
                    ChainQuote(
                        strike=float(row["strike"]),
                        option_type=option_type,
                        open_interest=float(row[f"{side}_oi"]),
                        volume=float(row[f"{side}_volume"]),
                        last_price=ltp if ltp > 0 else None,
                        oi_change=float(row[f"{side}_oi_chg"]),
                        implied_volatility=iv / 100.0 if iv > 0 else None,
                    )
                )
    return quotes


@dataclass(frozen=True, slots=True)
class BhavcopyRow:
    strike: float
    option_type: OptionType
    open: float
    close: float
    settle: float
    volume: float
    open_interest: float
    oi_change: float

    @property
    def traded(self) -> bool:
        """Rows with zero OHLC did not trade: their close is theoretical, not a price."""
        return self.open > 0


def load_bhavcopy(path: Path = BHAVCOPY) -> list[BhavcopyRow]:
    rows: list[BhavcopyRow] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append(
                BhavcopyRow(
                    strike=float(row["strike"]),
                    option_type=OptionType(row["opt_type"]),
                    open=float(row["open"]),
                    close=float(row["close"]),
                    settle=float(row["settle"]),
                    volume=float(row["volume"]),
                    open_interest=float(row["oi"]),
                    oi_change=float(row["oi_change"]),
                )
            )
    return rows


def bhavcopy_quotes(rows: list[BhavcopyRow]) -> list[ChainQuote]:
    return [
        ChainQuote(
            strike=row.strike,
            option_type=row.option_type,
            open_interest=row.open_interest,
            volume=row.volume,
            last_price=row.close if row.traded else None,
            oi_change=row.oi_change,
            price_change=(row.close - row.open) if row.traded else None,
        )
        for row in rows
    ]

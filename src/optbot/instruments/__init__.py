"""Instrument master, option chains, and strike selection (spec §3)."""

from typing import TYPE_CHECKING

from optbot.core.lazy import lazy_exports

# Re-exports load on first use: a replay or backtest that reads the master and chains never imports
# the downloader's HTTP client (`repository`, httpx).
if TYPE_CHECKING:
    from optbot.instruments.chain import ChainRow, OptionChain, OptionQuote
    from optbot.instruments.master import ExpiryKind, InstrumentMaster, InstrumentNotFound, MasterInfo
    from optbot.instruments.repository import MasterRepository, MasterUnavailable, RefreshResult
    from optbot.instruments.scripmaster import ParseReport, RowError, parse_master, parse_row
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "chain": ("ChainRow", "OptionChain", "OptionQuote"),
            "master": ("ExpiryKind", "InstrumentMaster", "InstrumentNotFound", "MasterInfo"),
            "repository": ("MasterRepository", "MasterUnavailable", "RefreshResult"),
            "scripmaster": ("ParseReport", "RowError", "parse_master", "parse_row"),
        },
    )

__all__ = [
    "ChainRow",
    "ExpiryKind",
    "InstrumentMaster",
    "InstrumentNotFound",
    "MasterInfo",
    "MasterRepository",
    "MasterUnavailable",
    "OptionChain",
    "OptionQuote",
    "ParseReport",
    "RefreshResult",
    "RowError",
    "parse_master",
    "parse_row",
]

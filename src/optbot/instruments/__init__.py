"""Instrument master, option chains, and strike selection (spec §3)."""

from optbot.instruments.chain import ChainRow, OptionChain, OptionQuote
from optbot.instruments.master import ExpiryKind, InstrumentMaster, InstrumentNotFound, MasterInfo
from optbot.instruments.repository import MasterRepository, MasterUnavailable, RefreshResult
from optbot.instruments.scripmaster import ParseReport, RowError, parse_master, parse_row

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

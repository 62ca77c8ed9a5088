"""Instrument master, option chains, strike selection and token pools (spec §3)."""

from optbot.instruments.chain import ChainRow, OptionChain, OptionQuote
from optbot.instruments.master import ExpiryKind, InstrumentMaster, InstrumentNotFound, MasterInfo
from optbot.instruments.repository import MasterRepository, MasterUnavailable, RefreshResult
from optbot.instruments.scripmaster import ParseReport, RowError, parse_master, parse_row
from optbot.instruments.token_pool import (
    PoolCategory,
    PoolMode,
    SubscriptionDiff,
    TokenPoolManager,
    apply_diff,
    pinned_keys,
    run_pool,
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
    "PoolCategory",
    "PoolMode",
    "RefreshResult",
    "RowError",
    "SubscriptionDiff",
    "TokenPoolManager",
    "apply_diff",
    "parse_master",
    "parse_row",
    "pinned_keys",
    "run_pool",
]

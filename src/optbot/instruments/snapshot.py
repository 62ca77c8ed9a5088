"""NSE option-chain snapshots (quotes for a chain: LTP, OI, volume, IV) read from a CSV file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from optbot.core.enums import OptionType
from optbot.core.errors import UserError
from optbot.instruments.chain import OptionQuote


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value == value else None


@dataclass(frozen=True, slots=True)
class ChainSnapshot:
    expiry: date
    quotes: dict[tuple[float, OptionType], OptionQuote]


def load_chain_snapshot(path: Path) -> ChainSnapshot:
    """NSE option-chain snapshot: OI in contracts, IV in percent, LTP 0 = no trade (kept unknown)."""
    quotes: dict[tuple[float, OptionType], OptionQuote] = {}
    expiry: date | None = None
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    with handle:
        reader = csv.DictReader(handle)
        if not {"strike", "expiry", "ce_ltp", "pe_ltp"} <= set(reader.fieldnames or ()):
            raise UserError(
                f"{path} is not an NSE option-chain snapshot (needs expiry, strike, ce_ltp, pe_ltp)"
            )
        for record in reader:
            try:
                row_expiry = datetime.strptime(record["expiry"].strip(), "%d-%b-%Y").date()  # noqa: DTZ007
                strike = float(record["strike"])
            except (KeyError, ValueError):
                continue
            expiry = expiry or row_expiry
            for option_type, prefix in ((OptionType.CE, "ce_"), (OptionType.PE, "pe_")):
                ltp = _float(record.get(prefix + "ltp", ""))
                iv = _float(record.get(prefix + "iv", ""))
                oi = _float(record.get(prefix + "oi", ""))
                volume = _float(record.get(prefix + "volume", ""))
                quotes[(strike, option_type)] = OptionQuote(
                    ltp=ltp if ltp else None,
                    open_interest=int(oi) if oi is not None else None,
                    volume=int(volume) if volume is not None else None,
                    implied_volatility=iv if iv else None,
                )
    if expiry is None:
        raise UserError(f"{path}: no readable rows")
    return ChainSnapshot(expiry, quotes)

"""The NIFTY 9 Sep 2025 24800 option the paper-broker tests trade."""

from __future__ import annotations

from datetime import date

from optbot.core.enums import Exchange, InstrumentKind, OptionType
from optbot.core.instrument import Instrument


def nifty_24800_option(token: str, option_type: OptionType) -> Instrument:
    return Instrument(
        token=token,
        exchange=Exchange.NFO,
        symbol=f"NIFTY09SEP2524800{option_type.value}",
        underlying="NIFTY",
        kind=InstrumentKind.OPTIDX,
        lot_size=75,
        tick_size=0.05,
        expiry=date(2025, 9, 9),
        strike=24800.0,
        option_type=option_type,
    )

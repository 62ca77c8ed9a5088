from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class UniverseSettings(Section):
    """What optbot trades and watches."""

    underlyings: list[str] = Field(default_factory=lambda: ["NIFTY", "BANKNIFTY"])
    stock_underlyings: list[str] = Field(default_factory=list)
    vix_symbol: str = "INDIA VIX"
    option_exchange: str = "NFO"

"""The backtest's SPAN-plus-exposure margin approximation (optbot.core.span) and its parameters."""

from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section
from optbot.core.span import SpanParameters


def default_scan_pct_by_underlying() -> dict[str, float]:
    """SPAN scan % of the index for a short ATM option, set so SPAN + 2 % exposure lands near what
    Angel One's margin calculator asked for one naked ATM lot in 2025 (NIFTY ~6.5 % of notional)."""
    return {"NIFTY": 4.5, "BANKNIFTY": 5.5, "FINNIFTY": 5.0, "MIDCPNIFTY": 6.5, "SENSEX": 4.5}


class MarginSettings(Section):
    """Margins for backtests (the paper broker's RMS). Live and paper sessions ask the broker's margin
    calculator instead; the simulator answers it with the same model and its `[sim]` parameters."""

    default_scan_pct: float = Field(
        default=9.0, gt=0, le=100, description="SPAN scan % of underlying for shorts not listed by index"
    )
    scan_pct_by_underlying: dict[str, float] = Field(
        default_factory=default_scan_pct_by_underlying,
        description="SPAN scan % of the underlying for short index options, by index",
    )
    short_min_pct: float = Field(
        default=1.5, gt=0, le=100, description="short-option minimum charge, % of the underlying"
    )
    exposure_pct: float = Field(
        default=2.0, ge=0, le=100, description="exposure margin % of the underlying for short options"
    )

    def span_parameters(self) -> SpanParameters:
        return SpanParameters(
            default_scan_pct=self.default_scan_pct,
            short_min_pct=self.short_min_pct,
            exposure_pct=self.exposure_pct,
            scan_pct_by_underlying={name.upper(): pct for name, pct in self.scan_pct_by_underlying.items()},
        )

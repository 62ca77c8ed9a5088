"""Option analytics: pricing, Greeks, implied volatility, chain analysis and performance metrics."""

from typing import TYPE_CHECKING

from optbot.core.lazy import lazy_exports

# Re-exports load on first use, so importing one of this package's modules (its CLI, say) does not
# import the rest.
if TYPE_CHECKING:
    from optbot.analytics import performance
    from optbot.analytics.chain import (
        BuildUp,
        ChainQuote,
        IVvsHV,
        OIChange,
        OptionPosition,
        PortfolioGreeks,
        PutCallRatio,
        Skew,
        build_up_from_rows,
        classify_build_up,
        implied_forward,
        iv_percentile,
        iv_rank,
        iv_vs_hv,
        max_pain,
        oi_changes,
        portfolio_greeks,
        put_call_ratio,
        skew,
    )
    from optbot.analytics.pricing import (
        Greeks,
        IVResult,
        black76_price,
        black_scholes_price,
        greeks,
        implied_volatility,
        no_arbitrage_bounds,
        option_price,
    )
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "chain": (
                "BuildUp",
                "ChainQuote",
                "IVvsHV",
                "OIChange",
                "OptionPosition",
                "PortfolioGreeks",
                "PutCallRatio",
                "Skew",
                "build_up_from_rows",
                "classify_build_up",
                "implied_forward",
                "iv_percentile",
                "iv_rank",
                "iv_vs_hv",
                "max_pain",
                "oi_changes",
                "portfolio_greeks",
                "put_call_ratio",
                "skew",
            ),
            "pricing": (
                "Greeks",
                "IVResult",
                "black76_price",
                "black_scholes_price",
                "greeks",
                "implied_volatility",
                "no_arbitrage_bounds",
                "option_price",
            ),
        },
        submodules=("performance",),
    )

__all__ = [
    "BuildUp",
    "ChainQuote",
    "Greeks",
    "IVResult",
    "IVvsHV",
    "OIChange",
    "OptionPosition",
    "PortfolioGreeks",
    "PutCallRatio",
    "Skew",
    "black76_price",
    "black_scholes_price",
    "build_up_from_rows",
    "classify_build_up",
    "greeks",
    "implied_forward",
    "implied_volatility",
    "iv_percentile",
    "iv_rank",
    "iv_vs_hv",
    "max_pain",
    "no_arbitrage_bounds",
    "oi_changes",
    "option_price",
    "performance",
    "portfolio_greeks",
    "put_call_ratio",
    "skew",
]

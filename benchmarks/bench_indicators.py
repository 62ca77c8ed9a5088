"""Indicator and option-analytics speed against baselines measured in the same run.

Incremental ADX/RSI cost per bar vs TA-Lib's C batch per bar (the floor), our batch twins vs TA-Lib,
and closed-form Greeks / the IV solver vs a scipy.stats.norm Black-Scholes price (the usual baseline).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import talib
from scipy.stats import norm

from optbot.analytics.pricing import black_scholes_price, greeks, implied_volatility
from optbot.core.enums import OptionType
from optbot.indicators import ADX, RSI, adx, rsi
from optbot.test_kit.indicators import load_sample


def _best_of(function: Callable[[], object], repeats: int = 5) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def _scipy_price(spot: float, strike: float, years: float, vol: float, rate: float) -> float:
    d1 = (math.log(spot / strike) + (rate + vol * vol / 2) * years) / (vol * math.sqrt(years))
    d2 = d1 - vol * math.sqrt(years)
    return float(spot * norm.cdf(d1) - strike * math.exp(-rate * years) * norm.cdf(d2))


def main() -> None:
    bars = load_sample()
    high, low, close = bars.high, bars.low, bars.close
    count = len(close)

    def incremental_adx() -> None:
        indicator = ADX(14)
        for h, lo, c in zip(high.tolist(), low.tolist(), close.tolist(), strict=True):
            indicator.update(h, lo, c)

    def incremental_rsi() -> None:
        indicator = RSI(14)
        for c in close.tolist():
            indicator.update(c)

    talib_adx = _best_of(lambda: talib.ADX(high, low, close, 14))
    rows = [
        ("ADX incremental (per bar)", _best_of(incremental_adx) / count),
        ("RSI incremental (per bar)", _best_of(incremental_rsi) / count),
        ("ADX batch (per bar)", _best_of(lambda: adx(high, low, close, 14)) / count),
        ("RSI batch (per bar)", _best_of(lambda: rsi(close, 14)) / count),
    ]
    baseline = talib_adx / count
    print(f"{count} NIFTY daily bars; baseline TA-Lib ADX: {baseline * 1e9:.0f} ns/bar")
    for name, seconds in rows:
        print(f"  {name:<28} {seconds * 1e9:>9.0f} ns/bar   x{seconds / baseline:,.1f} TA-Lib")

    rng = np.random.default_rng(1)
    strikes = (24570.65 * rng.uniform(0.9, 1.1, 2000)).tolist()
    years = 4 / 365

    def scipy_prices() -> None:
        for strike in strikes:
            _scipy_price(24570.65, strike, years, 0.12, 0.1)

    def our_prices() -> None:
        for strike in strikes:
            black_scholes_price(24570.65, strike, years, 0.12, 0.1, OptionType.CE)

    def our_greeks() -> None:
        for strike in strikes:
            greeks("bs", 24570.65, strike, years, 0.12, 0.1, OptionType.CE)

    prices = [black_scholes_price(24570.65, k, years, 0.12, 0.1, OptionType.CE) for k in strikes]

    def our_iv() -> None:
        for strike, price in zip(strikes, prices, strict=True):
            implied_volatility(price, 24570.65, strike, years, 0.1, OptionType.CE)

    scipy_time = _best_of(scipy_prices, 3) / len(strikes)
    print(f"baseline scipy.stats.norm BS price: {scipy_time * 1e6:.1f} us/option")
    for name, seconds in (
        ("BS price", _best_of(our_prices, 3) / len(strikes)),
        ("all Greeks", _best_of(our_greeks, 3) / len(strikes)),
        ("implied volatility", _best_of(our_iv, 1) / len(strikes)),
    ):
        print(f"  {name:<28} {seconds * 1e6:>9.1f} us/option   x{seconds / scipy_time:,.2f} scipy price")

"""PCR, OI change / build-up, IV vs HV and portfolio Greeks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.analytics import (
    BuildUp,
    ChainQuote,
    OptionPosition,
    build_up_from_rows,
    classify_build_up,
    greeks,
    iv_vs_hv,
    oi_changes,
    portfolio_greeks,
    put_call_ratio,
)
from optbot.analytics.chain import VolatilityRegime
from optbot.core.enums import OptionType
from optbot.test_kit.analytics import BHAVCOPY_SPOT, bhavcopy_quotes, load_bhavcopy


def test_pcr_on_bhavcopy_matches_column_sums() -> None:
    rows = load_bhavcopy()
    pcr = put_call_ratio(bhavcopy_quotes(rows))
    put_oi = sum(r.open_interest for r in rows if r.option_type is OptionType.PE)
    call_oi = sum(r.open_interest for r in rows if r.option_type is OptionType.CE)
    put_volume = sum(r.volume for r in rows if r.option_type is OptionType.PE)
    call_volume = sum(r.volume for r in rows if r.option_type is OptionType.CE)
    assert pcr.by_open_interest == pytest.approx(put_oi / call_oi)
    assert pcr.by_volume == pytest.approx(put_volume / call_volume)
    # The 2024-05-21 weekly chain: put OI above call OI (PCR ~1.09), i.e. supportive positioning.
    assert pcr.by_open_interest == pytest.approx(1.0918, abs=1e-4)


def test_pcr_strike_window_and_empty_call_side() -> None:
    rows = bhavcopy_quotes(load_bhavcopy())
    near = put_call_ratio(rows, (BHAVCOPY_SPOT - 500, BHAVCOPY_SPOT + 500))
    assert near.call_open_interest < put_call_ratio(rows).call_open_interest
    only_puts = put_call_ratio([ChainQuote(100, OptionType.PE, open_interest=5, volume=1)])
    assert only_puts.by_open_interest is None and only_puts.by_volume is None


def test_build_up_table() -> None:
    assert classify_build_up(+2, +100) is BuildUp.LONG_BUILD_UP
    assert classify_build_up(-2, +100) is BuildUp.SHORT_BUILD_UP
    assert classify_build_up(+2, -100) is BuildUp.SHORT_COVERING
    assert classify_build_up(-2, -100) is BuildUp.LONG_UNWINDING
    assert classify_build_up(0, 100) is BuildUp.NEUTRAL
    assert classify_build_up(2, 50, min_oi_change=50) is BuildUp.NEUTRAL


@given(price=st.floats(-1e4, 1e4), oi=st.floats(-1e7, 1e7))
def test_build_up_is_symmetric_in_sign(price: float, oi: float) -> None:
    """Flipping the price move swaps build-up with its mirror, and never invents a move."""
    mirror = {
        BuildUp.LONG_BUILD_UP: BuildUp.SHORT_BUILD_UP,
        BuildUp.SHORT_BUILD_UP: BuildUp.LONG_BUILD_UP,
        BuildUp.SHORT_COVERING: BuildUp.LONG_UNWINDING,
        BuildUp.LONG_UNWINDING: BuildUp.SHORT_COVERING,
        BuildUp.NEUTRAL: BuildUp.NEUTRAL,
    }
    assert classify_build_up(-price, oi) is mirror[classify_build_up(price, oi)]
    if price == 0 or oi == 0:
        assert classify_build_up(price, oi) is BuildUp.NEUTRAL


def test_oi_changes_between_snapshots() -> None:
    before = [
        ChainQuote(22500, OptionType.CE, open_interest=1000, last_price=100),
        ChainQuote(22500, OptionType.PE, open_interest=2000, last_price=80),
        ChainQuote(22600, OptionType.CE, open_interest=500, last_price=60),
    ]
    after = [
        ChainQuote(22500, OptionType.CE, open_interest=1500, last_price=120),
        ChainQuote(22500, OptionType.PE, open_interest=1500, last_price=70),
        ChainQuote(22600, OptionType.CE, open_interest=800, last_price=None),
        ChainQuote(22700, OptionType.CE, open_interest=900, last_price=30),
    ]
    changes = {(c.strike, c.option_type): c for c in oi_changes(before, after)}
    assert set(changes) == {(22500, OptionType.CE), (22500, OptionType.PE), (22600, OptionType.CE)}
    assert changes[(22500, OptionType.CE)].build_up is BuildUp.LONG_BUILD_UP
    assert changes[(22500, OptionType.CE)].oi_change_pct == pytest.approx(50.0)
    assert changes[(22500, OptionType.PE)].build_up is BuildUp.LONG_UNWINDING
    assert changes[(22600, OptionType.CE)].build_up is BuildUp.NEUTRAL  # no price: never a guess


def test_build_up_on_bhavcopy_uses_exchange_oi_change() -> None:
    """The bhavcopy has no previous close, so price change is the intraday move (close - open)."""
    quotes = bhavcopy_quotes(load_bhavcopy())
    changes = build_up_from_rows(quotes)
    traded = [q for q in quotes if q.price_change is not None]
    assert len(changes) == len(traded) > 50
    for change in changes:
        assert change.build_up is classify_build_up(change.price_change, change.oi_change)
    assert {c.build_up for c in changes} >= {BuildUp.SHORT_BUILD_UP, BuildUp.LONG_BUILD_UP}


def test_iv_vs_hv_regimes_and_validation() -> None:
    assert iv_vs_hv(0.20, 0.12).regime is VolatilityRegime.RICH
    assert iv_vs_hv(0.09, 0.12).regime is VolatilityRegime.CHEAP
    fair = iv_vs_hv(0.12, 0.12)
    assert fair.regime is VolatilityRegime.FAIR and fair.ratio == 1.0 and fair.spread == 0.0
    with pytest.raises(ValueError, match="historical"):
        iv_vs_hv(0.1, 0.0)


def test_portfolio_greeks_sum_and_straddle_is_near_delta_neutral() -> None:
    spot, years, vol, rate = 22529.05, 2 / 365, 0.13, 0.07
    lot = 25.0
    straddle = [
        OptionPosition("NIFTY", -lot, spot, 22550, years, vol, rate, OptionType.CE),
        OptionPosition("NIFTY", -lot, spot, 22550, years, vol, rate, OptionType.PE),
        OptionPosition("BANKNIFTY", 15.0, 48000, 48000, years, 0.15, rate, OptionType.CE),
    ]
    result = portfolio_greeks(straddle)
    nifty = result.by_underlying["NIFTY"]
    call = greeks("bs", spot, 22550, years, vol, rate, OptionType.CE)
    put = greeks("bs", spot, 22550, years, vol, rate, OptionType.PE)
    assert nifty.delta == pytest.approx(-lot * (call.delta + put.delta))
    assert abs(nifty.delta) < 0.1 * lot  # short straddle near the money: roughly delta-neutral
    assert nifty.gamma < 0 and nifty.theta_per_day > 0 and nifty.vega_per_point < 0
    bank = result.by_underlying["BANKNIFTY"]
    assert result.total.delta == pytest.approx(nifty.delta + bank.delta)
    assert result.total.value == pytest.approx(nifty.value + bank.value)
    assert bank.delta_notional == pytest.approx(bank.delta * 48000)
    assert math.isclose(portfolio_greeks([]).total.delta, 0.0)

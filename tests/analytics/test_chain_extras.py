"""Parity-implied forward, max pain, IV rank and percentile."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.analytics import (
    ChainQuote,
    black_scholes_price,
    implied_forward,
    iv_percentile,
    iv_rank,
    max_pain,
)
from optbot.core.enums import OptionType
from optbot.test_kit.analytics import SNAPSHOT_SPOT, SNAPSHOT_YEARS_TO_EXPIRY, load_chain_snapshot


def test_implied_forward_recovers_model_forward() -> None:
    spot, strike, years, rate, q = 22500.0, 22550.0, 30 / 365, 0.07, 0.013
    call = black_scholes_price(spot, strike, years, 0.14, rate, OptionType.CE, q)
    put = black_scholes_price(spot, strike, years, 0.14, rate, OptionType.PE, q)
    assert implied_forward(call, put, strike, years, rate) == pytest.approx(
        spot * math.exp((rate - q) * years)
    )


def test_implied_forward_on_snapshot_is_near_spot() -> None:
    by_key = {(q.strike, q.option_type): q for q in load_chain_snapshot()}
    call, put = by_key[(24550.0, OptionType.CE)], by_key[(24550.0, OptionType.PE)]
    assert call.last_price is not None and put.last_price is not None
    forward = implied_forward(call.last_price, put.last_price, 24550.0, SNAPSHOT_YEARS_TO_EXPIRY, 0.10)
    assert abs(forward / SNAPSHOT_SPOT - 1) < 0.002


def test_max_pain_on_snapshot_matches_brute_force() -> None:
    quotes = load_chain_snapshot()
    strikes = sorted({q.strike for q in quotes})

    def pain(settle: float) -> float:
        total = 0.0
        for q in quotes:
            if q.option_type is OptionType.CE:
                total += q.open_interest * max(settle - q.strike, 0.0)
            else:
                total += q.open_interest * max(q.strike - settle, 0.0)
        return total

    expected = min(strikes, key=pain)
    assert max_pain(quotes) == expected
    assert abs(expected - SNAPSHOT_SPOT) < 500
    assert max_pain([ChainQuote(100, OptionType.CE)]) is None


def test_iv_rank_and_percentile() -> None:
    history = [0.10, 0.12, 0.14, 0.20]
    assert iv_rank(0.15, history) == pytest.approx(50.0)
    assert iv_percentile(0.15, history) == pytest.approx(75.0)
    assert iv_rank(0.30, history) == 100.0
    assert iv_rank(0.15, []) is None and iv_rank(0.1, [0.1, 0.1]) is None


@given(current=st.floats(0.01, 2.0), history=st.lists(st.floats(0.01, 2.0), min_size=1, max_size=50))
def test_iv_rank_bounds(current: float, history: list[float]) -> None:
    rank = iv_rank(current, history)
    assert rank is None or 0.0 <= rank <= 100.0
    percentile = iv_percentile(current, history)
    assert percentile is not None and 0.0 <= percentile <= 100.0

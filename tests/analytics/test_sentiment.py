"""Spec §11.2 sentiment snapshot on a hand-built chain: each figure checked against hand arithmetic, and
each of the five `analytics` thresholds shown to change the verdict it governs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.analytics.chain import BuildUp, ChainQuote, VolatilityRegime
from optbot.analytics.sentiment import (
    SentimentSnapshot,
    SentimentThresholds,
    historical_volatility,
    market_sentiment,
    nearest_strike,
)
from optbot.config.sections.analytics import AnalyticsSettings
from optbot.core.enums import OptionType
from optbot.indicators import batch
from optbot.instruments.chain import OptionChain
from optbot.instruments.scripmaster import parse_row
from optbot.test_kit.instruments import option_row

CE, PE = OptionType.CE, OptionType.PE
EXPIRY = date(2026, 8, 11)  # the listed contracts' expiry, for the chain the ATM rule is compared with
SPOT = 110.0
YEARS = 0.05
RATE = 0.10


def quote(
    strike: float, option_type: OptionType, oi: float, volume: float, ltp: float, iv: float
) -> ChainQuote:
    return ChainQuote(
        strike, option_type, open_interest=oi, volume=volume, last_price=ltp, implied_volatility=iv
    )


#: Calls: OI 100 + 200 + 300 = 600, volume 50 + 50 + 100 = 200.
#: Puts:  OI 400 + 300 + 200 = 900, volume 60 + 40 + 0 = 100.
CHAIN = [
    quote(100, CE, 100, 50, 11.0, 0.16),
    quote(110, CE, 200, 50, 5.0, 0.15),
    quote(120, CE, 300, 100, 1.5, 0.14),
    quote(100, PE, 400, 60, 1.0, 0.18),
    quote(110, PE, 300, 40, 4.0, 0.15),
    quote(120, PE, 200, 0, 10.5, 0.13),
]


def snapshot(
    thresholds: SentimentThresholds = SentimentThresholds(),
    *,
    chain: list[ChainQuote] = CHAIN,
    previous: list[ChainQuote] | None = None,
    hv: float | None = 0.10,
    years: float | None = YEARS,
    oi_known: bool = True,
    volume_known: bool = True,
) -> SentimentSnapshot:
    return market_sentiment(
        "NIFTY",
        chain,
        SPOT,
        years=years,
        rate=RATE,
        historical_vol=hv,
        thresholds=thresholds,
        previous=previous,
        open_interest_known=oi_known,
        volume_known=volume_known,
    )


def from_settings(**values: float) -> SentimentThresholds:
    return SentimentThresholds.from_settings(AnalyticsSettings.model_validate(values))


def test_pcr_and_max_pain_by_hand() -> None:
    result = snapshot()
    assert result.pcr_open_interest == pytest.approx(900 / 600)  # 1.5
    assert result.pcr_volume == pytest.approx(100 / 200)  # 0.5
    # writers' payout at each listed strike, OI x intrinsic:
    #   expiry 100: puts 300*10 + 200*20 = 7000
    #   expiry 110: calls 100*10 = 1000, puts 200*10 = 2000 -> 3000 (the least)
    #   expiry 120: calls 100*20 + 200*10 = 4000
    assert result.max_pain == 110.0
    assert result.atm_strike == 110.0
    row = result.as_row()
    assert (row["pcr_oi"], row["pcr_volume"], row["max_pain"]) == (1.5, 0.5, 110.0)


def test_iv_versus_hv_follows_the_ratio_settings() -> None:
    # ATM IV 15 % (the 110 strike), HV 10 %: IV/HV = 1.5
    rich = snapshot(from_settings(iv_rich_ratio=1.4), hv=0.10)
    assert rich.atm_iv == pytest.approx(0.15)
    assert rich.iv_hv_ratio == pytest.approx(1.5)
    assert rich.iv_regime is VolatilityRegime.RICH
    assert snapshot(from_settings(iv_rich_ratio=1.6), hv=0.10).iv_regime is VolatilityRegime.FAIR
    # HV 20 %: IV/HV = 0.75
    assert snapshot(from_settings(iv_cheap_ratio=0.8), hv=0.20).iv_regime is VolatilityRegime.CHEAP
    assert snapshot(from_settings(iv_cheap_ratio=0.7), hv=0.20).iv_regime is VolatilityRegime.FAIR
    assert snapshot(from_settings(iv_cheap_ratio=0.7), hv=0.20).as_row()["iv_regime"] == "FAIR"


def test_strike_skew_reads_the_offset_setting() -> None:
    # OTM smile: puts 100 -> 18 %, 110 -> 15 %; calls 110 -> 15 %, 120 -> 14 %.
    # 5 % of 110 = 5.5: put wing at 104.5 = 18 - 3 * 0.45 = 16.65 %; call wing at 115.5 = 15 - 0.55 = 14.45 %
    five = snapshot(from_settings(skew_strike_offset_pct=5.0))
    assert five.strike_skew == pytest.approx(0.1665 - 0.1445)
    # 2 % of 110 = 2.2: put wing at 107.8 = 18 - 3 * 0.78 = 15.66 %; call wing at 112.2 = 14.78 %
    two = snapshot(from_settings(skew_strike_offset_pct=2.0))
    assert two.strike_skew == pytest.approx(0.1566 - 0.1478)
    # 20 % reaches past the quoted strikes: unknown, not extrapolated
    assert snapshot(from_settings(skew_strike_offset_pct=20.0)).strike_skew is None


def _moved(
    chain: list[ChainQuote], moves: dict[tuple[float, OptionType], tuple[float, float]]
) -> list[ChainQuote]:
    """The chain with (OI, LTP) of some contracts replaced."""
    return [
        replace(row, open_interest=moves[key][0], last_price=moves[key][1])
        if (key := (row.strike, row.option_type)) in moves
        else row
        for row in chain
    ]


def test_build_up_at_the_atm_strike_between_two_snapshots() -> None:
    # ATM 110 CE: OI 200 -> 260, LTP 5 -> 6 (long build-up); PE: OI 300 -> 250, LTP 4 -> 3 (long unwinding)
    later = _moved(CHAIN, {(110, CE): (260, 6.0), (110, PE): (250, 3.0)})
    result = snapshot(chain=later, previous=CHAIN)
    assert (result.atm_call_build_up, result.atm_put_build_up) == (
        BuildUp.LONG_BUILD_UP,
        BuildUp.LONG_UNWINDING,
    )
    # CE: OI up, price down (short build-up); PE: OI down, price up (short covering)
    other = _moved(CHAIN, {(110, CE): (260, 4.0), (110, PE): (250, 5.0)})
    result = snapshot(chain=other, previous=CHAIN)
    assert (result.atm_call_build_up, result.atm_put_build_up) == (
        BuildUp.SHORT_BUILD_UP,
        BuildUp.SHORT_COVERING,
    )
    assert result.as_row()["atm_put_build_up"] == "short covering"


def test_build_up_thresholds_are_read() -> None:
    later = _moved(CHAIN, {(110, CE): (260, 6.0), (110, PE): (250, 3.0)})
    oi_floor = snapshot(from_settings(build_up_min_oi_change=60.0), chain=later, previous=CHAIN)
    # CE moved 60 (at the floor: no move), PE 50
    assert (oi_floor.atm_call_build_up, oi_floor.atm_put_build_up) == (BuildUp.NEUTRAL, BuildUp.NEUTRAL)
    under = snapshot(from_settings(build_up_min_oi_change=55.0), chain=later, previous=CHAIN)
    assert (under.atm_call_build_up, under.atm_put_build_up) == (BuildUp.LONG_BUILD_UP, BuildUp.NEUTRAL)
    price_floor = snapshot(from_settings(build_up_min_price_change=1.0), chain=later, previous=CHAIN)
    assert (price_floor.atm_call_build_up, price_floor.atm_put_build_up) == (
        BuildUp.NEUTRAL,
        BuildUp.NEUTRAL,
    )


def test_unknown_inputs_give_none() -> None:
    no_hv = snapshot(hv=None)
    assert (no_hv.historical_volatility, no_hv.iv_hv_ratio, no_hv.iv_regime) == (None, None, None)
    assert no_hv.atm_iv == pytest.approx(0.15)
    no_expiry = snapshot(years=None)
    assert (no_expiry.atm_iv, no_expiry.iv_regime, no_expiry.strike_skew) == (None, None, None)
    assert no_expiry.risk_reversal_25d is None
    later = _moved(CHAIN, {(110, CE): (260, 6.0)})
    no_oi = snapshot(oi_known=False, chain=later, previous=CHAIN)
    assert (no_oi.pcr_open_interest, no_oi.max_pain, no_oi.atm_call_build_up) == (None, None, None)
    assert no_oi.pcr_volume == pytest.approx(0.5)
    assert snapshot(volume_known=False).pcr_volume is None
    first = snapshot(previous=None)
    assert (first.atm_call_build_up, first.atm_put_build_up) == (None, None)
    # a contract the earlier snapshot did not hold has no build-up (not a new listing's "build-up")
    partial = snapshot(chain=later, previous=[row for row in CHAIN if row.option_type is PE])
    assert (partial.atm_call_build_up, partial.atm_put_build_up) == (None, BuildUp.NEUTRAL)
    empty = market_sentiment(
        "NIFTY", [], SPOT, years=YEARS, rate=RATE, historical_vol=0.1, thresholds=SentimentThresholds()
    )
    assert (empty.atm_strike, empty.pcr_open_interest, empty.max_pain, empty.atm_iv) == (None,) * 4
    assert set(empty.as_row()) == set(snapshot().as_row())


def test_iv_solved_from_prices_when_quotes_carry_none() -> None:
    """Without an IV column the smile is solved from the prices (Black-76 on spot, as the engine does)."""
    solved = snapshot(chain=[replace(row, implied_volatility=None) for row in CHAIN], hv=0.10)
    assert solved.atm_iv is not None and 0.01 < solved.atm_iv < 1.0
    assert solved.iv_hv_ratio == pytest.approx(solved.atm_iv / 0.10)


def test_historical_volatility_is_the_indicator_over_the_last_period() -> None:
    closes = [100.0, 101.0, 99.5, 102.0, 101.2, 103.1, 102.4]
    assert historical_volatility(closes[:3], period=3, annualisation=252) is None
    expected = batch.historical_volatility(np.array(closes), 3, 252)[-1]
    assert historical_volatility(closes, period=3, annualisation=252) == pytest.approx(expected)


def test_nearest_strike_prefers_the_lower_on_a_tie() -> None:
    assert nearest_strike(CHAIN, 115.0) == 110.0
    assert nearest_strike(CHAIN, 116.0) == 120.0
    assert nearest_strike([], 116.0) is None


@given(
    st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=40, unique=True),
    st.floats(min_value=0.01, max_value=200.0, allow_nan=False),
    st.sampled_from([0.5, 1.0, 50.0]),
)
def test_the_sentiment_atm_is_the_chains_atm(units: list[int], spot: float, step: float) -> None:
    """One rule (`nearest_strike_index`): the sentiment snapshot's ATM is `OptionChain.atm`'s, ties and
    spots beyond either end included."""
    strikes = [unit * step for unit in units]
    contracts = [parse_row(option_row(i, "NIFTY", EXPIRY, s, "CE")) for i, s in enumerate(strikes)]
    chain = OptionChain("NIFTY", EXPIRY, contracts)
    quotes = [ChainQuote(strike, CE) for strike in strikes]
    for price in (spot * step, (chain.strikes[0] + chain.strikes[-1]) / 2):  # the midpoint: often a tie
        assert nearest_strike(quotes, price) == chain.atm(price)


def test_far_from_every_strike_the_sentiment_atm_is_the_nearest_not_the_lowest() -> None:
    """At 1e17 every distance rounds to one float: ranking by (distance, strike) picked the lowest
    strike, 1, where the chain's ATM is the nearest, 4."""
    quotes = [ChainQuote(float(strike), CE) for strike in (1, 2, 3, 4)]
    assert nearest_strike(quotes, 1e17) == 4.0

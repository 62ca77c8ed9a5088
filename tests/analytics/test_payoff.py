"""Payoff curves: the iron condor's and straddle's textbook numbers, and unlimited sides."""

from __future__ import annotations

import pytest

from optbot.analytics.payoff import PayoffLeg, payoff


def leg(kind: str, strike: float, quantity: int, price: float) -> PayoffLeg:
    return PayoffLeg(kind, strike, quantity, price, 0.12, 7 / 365)


def test_iron_condor_max_profit_is_the_credit_and_max_loss_the_width_less_it() -> None:
    legs = [
        leg("CE", 25_000, -75, 116.05),
        leg("CE", 25_150, 75, 67.85),
        leg("PE", 24_700, -75, 111.15),
        leg("PE", 24_550, 75, 70.65),
    ]
    curve = payoff(legs, 24_828.75, 0.065)
    credit = (116.05 - 67.85) + (111.15 - 70.65)
    assert curve.max_profit == pytest.approx(credit * 75)
    assert curve.max_loss == pytest.approx((150 - credit) * 75)
    assert curve.breakevens == pytest.approx((24_700 - credit, 25_000 + credit), abs=0.01)
    assert curve.today.max() < curve.at_expiry.max()  # time value left: today's curve is flatter


def test_short_straddle_has_unlimited_loss_and_long_straddle_unlimited_profit() -> None:
    short = payoff([leg("CE", 24_800, -75, 150.0), leg("PE", 24_800, -75, 140.0)], 24_800, 0.065)
    assert short.max_loss is None and short.max_profit == pytest.approx(290 * 75)
    assert short.breakevens == pytest.approx((24_510, 25_090), abs=0.01)
    long = payoff([leg("CE", 24_800, 75, 150.0), leg("PE", 24_800, 75, 140.0)], 24_800, 0.065)
    assert long.max_profit is None and long.max_loss == pytest.approx(290 * 75)

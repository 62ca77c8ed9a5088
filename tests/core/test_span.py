"""The shared SPAN + exposure model: naked shorts, hedge benefit, and the simulator/backtest agreement."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.config.sections.margin import MarginSettings
from optbot.config.sections.sim import SimSettings
from optbot.core.span import OptionLeg, basket_margin, short_option_per_unit
from optbot.sim.exchange.instruments import InstrumentSpec
from optbot.sim.exchange.margin import Exposure, MarginModel, PortfolioMargin

PARAMS = MarginSettings().span_parameters()
EXPIRY = date(2025, 9, 9)
SPOT = 24_500.0


def leg(
    option_type: str, strike: float, quantity: int, price: float = 100.0, name: str = "NIFTY"
) -> OptionLeg:
    return OptionLeg(name, EXPIRY, option_type, strike, quantity, price, SPOT)


def test_naked_atm_short_is_scan_plus_exposure_of_the_index() -> None:
    span, exposure = short_option_per_unit(PARAMS, "NIFTY", "CE", 24_500, SPOT)
    assert span == pytest.approx(0.045 * SPOT) and exposure == pytest.approx(0.02 * SPOT)
    # one lot of 75: about 1.19 lakh, what a NIFTY ATM short asked for in 2025
    assert (span + exposure) * 75 == pytest.approx(119_437.5)
    bank, _ = short_option_per_unit(PARAMS, "BANKNIFTY", "PE", 54_000, 54_000)
    assert bank == pytest.approx(0.055 * 54_000)


def test_far_otm_short_pays_the_short_option_minimum() -> None:
    span, _ = short_option_per_unit(PARAMS, "NIFTY", "CE", 27_000, SPOT)
    assert span == pytest.approx(0.015 * SPOT)


def test_iron_condor_costs_its_two_spread_widths_not_four_naked_legs() -> None:
    condor = [
        leg("CE", 24_800, -75),
        leg("CE", 25_000, 75, 20),
        leg("PE", 24_200, -75),
        leg("PE", 24_000, 75, 20),
    ]
    margin = basket_margin(PARAMS, condor)
    assert margin.span == pytest.approx(75 * 200 + 75 * 200) and margin.exposure == 0
    assert margin.premium == pytest.approx(2 * 75 * 20)
    strangle = basket_margin(PARAMS, [leg("CE", 24_800, -75), leg("PE", 24_200, -75)])
    assert strangle.total > 3 * margin.total


def test_a_hedge_of_another_expiry_or_type_gives_no_benefit() -> None:
    naked = basket_margin(PARAMS, [leg("CE", 24_500, -75)])
    wrong_type = basket_margin(PARAMS, [leg("CE", 24_500, -75), leg("PE", 24_300, 75, 10)])
    assert wrong_type.span + wrong_type.exposure == pytest.approx(naked.span + naked.exposure)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    short_strike=st.integers(480, 500).map(lambda k: k * 50.0),
    width=st.integers(1, 20).map(lambda k: k * 50.0),
    lots=st.integers(1, 5),
    option_type=st.sampled_from(["CE", "PE"]),
)
def test_adding_a_bought_leg_never_raises_span_plus_exposure(
    short_strike: float, width: float, lots: int, option_type: str
) -> None:
    long_strike = short_strike + width if option_type == "CE" else short_strike - width
    naked = basket_margin(PARAMS, [leg(option_type, short_strike, -75 * lots)])
    hedged = basket_margin(
        PARAMS, [leg(option_type, short_strike, -75 * lots), leg(option_type, long_strike, 75 * lots)]
    )
    assert hedged.span + hedged.exposure <= naked.span + naked.exposure + 1e-9
    assert hedged.span <= width * 75 * lots + 1e-9


def _spec(token: str, option_type: str, strike: float) -> InstrumentSpec:
    return InstrumentSpec(
        "NFO",
        token,
        f"NIFTY09SEP25{int(strike)}{option_type}",
        "NIFTY",
        "OPTIDX",
        EXPIRY,
        "09SEP2025",
        strike,
        75,
        0.05,
        1800,
    )


BASKETS = {
    "naked": [("CE", 24_500, -75)],
    "straddle": [("CE", 24_500, -75), ("PE", 24_500, -75)],
    "strangle_hedged": [("CE", 24_800, -75), ("PE", 24_200, -75), ("CE", 25_200, 75), ("PE", 23_800, 75)],
    "iron_condor": [("CE", 24_700, -150), ("CE", 24_900, 150), ("PE", 24_300, -150), ("PE", 24_100, 150)],
    "bull_put": [("PE", 24_500, -75), ("PE", 24_300, 75)],
}


@pytest.mark.parametrize("name", sorted(BASKETS))
def test_backtest_parameters_reproduce_the_simulators_margin_for_the_same_basket(name: str) -> None:
    """The `[margin]` defaults are calibrated to the simulator's `[sim]` ones: same figures per basket."""
    sim = PortfolioMargin(MarginModel(SimSettings()))
    exposures = [
        Exposure(_spec(str(index), kind, strike), "CARRYFORWARD", quantity, 50.0, SPOT)
        for index, (kind, strike, quantity) in enumerate(BASKETS[name])
    ]
    simulated = sim.total(exposures)
    approximated = basket_margin(
        PARAMS, [leg(kind, strike, qty, 50.0) for kind, strike, qty in BASKETS[name]]
    )
    assert approximated.total == pytest.approx(simulated.total)
    assert approximated.span == pytest.approx(simulated.span)

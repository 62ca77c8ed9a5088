"""Property tests: no new risk while HALTED, exits never blocked, approved size within every limit."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.core.clock import SimClock
from optbot.core.enums import IntentPurpose, RiskState, Side
from optbot.risk import RiskEngine
from optbot.risk.engine import vix_band_level
from optbot.test_kit.risk import (
    TEST_DAY_OPEN,
    FakeMarket,
    FakePortfolio,
    make_intent,
    make_position,
    risk_settings,
)

PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

positions_strategy = st.lists(
    st.builds(
        make_position,
        token=st.sampled_from(["1", "2", "3", "4"]),
        net_quantity=st.integers(-400, 400).filter(lambda q: q != 0),
        price=st.floats(1, 500),
        underlying=st.sampled_from(["NIFTY", "BANKNIFTY", "RELIANCE"]),
    ),
    max_size=4,
    unique_by=lambda p: p.token,
)


@st.composite
def world(draw: st.DrawFn) -> tuple[FakePortfolio, FakeMarket]:
    portfolio = FakePortfolio(
        positions=draw(positions_strategy),
        account=draw(st.floats(50_000, 5_000_000)),
        realised=draw(st.floats(-200_000, 50_000)),
        unrealised=draw(st.floats(-50_000, 50_000)),
        used_margin=draw(st.floats(0, 1_000_000)),
        free_margin=draw(st.floats(0, 1_000_000)),
        trade_results=draw(st.lists(st.floats(-5000, 5000), max_size=6)),
    )
    market = FakeMarket(
        vix_value=draw(st.one_of(st.none(), st.floats(8, 45))),
        default_lot=draw(st.sampled_from([15, 25, 50, 75])),
        default_price=draw(st.floats(1, 800)),
        default_oi=draw(st.integers(0, 100_000)),
    )
    return portfolio, market


@PROPERTY_SETTINGS
@given(world(), st.integers(1, 60), st.integers(0, 400))
def test_approved_entry_never_exceeds_any_limit(tmp_path_factory, scenario, lots, minutes) -> None:
    portfolio, market = scenario
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=minutes))
    engine = RiskEngine(risk_settings(tmp_path_factory.mktemp("r")), clock)
    lot = market.default_lot
    intent = make_intent(clock.now_utc(), quantity=lots * lot, limit_price=None)
    decision = engine.evaluate(intent, portfolio, market)
    if not decision.approved:
        assert decision.approved_quantity == 0
        return
    r = engine.risk
    quantity = decision.approved_quantity
    account = portfolio.account
    notional = quantity * market.default_price
    assert quantity % lot == 0 and 0 < quantity <= intent.quantity
    assert engine.state is not RiskState.HALTED
    cap = account * r.max_trade_notional_pct / 100
    one_lot_kept = r.size_multiplier_keeps_one_lot and quantity == lot and lot * market.default_price <= cap
    assert notional <= cap * engine.size_multiplier + 1e-6 or one_lot_kept
    gross = sum(p.notional for p in portfolio.positions)
    assert gross + notional <= account * r.max_total_notional_pct / 100 + 1e-6
    nifty = sum(p.notional for p in portfolio.positions if p.underlying == "NIFTY")
    assert nifty + notional <= account * r.max_single_underlying_pct / 100 + 1e-6
    group = sum(p.notional for p in portfolio.positions if p.underlying in ("NIFTY", "BANKNIFTY"))
    assert group + notional <= account * r.max_correlated_exposure_pct / 100 + 1e-6
    total_margin = portfolio.used_margin + portfolio.free_margin
    assert portfolio.used_margin + notional <= total_margin * r.max_margin_utilisation_pct / 100 + 1e-6
    assert notional <= portfolio.free_margin + 1e-6
    assert sum(1 for p in portfolio.positions) < r.max_concurrent_positions
    assert market.default_oi >= r.min_open_interest
    assert -(portfolio.realised + portfolio.unrealised) / account * 100 < r.daily_loss_limit_pct
    assert any(reason.startswith("approved") for reason in decision.reasons)


@PROPERTY_SETTINGS
@given(world(), st.sampled_from(["kill", "vix", "loss"]), st.integers(1, 20))
def test_never_approves_new_risk_while_halted(tmp_path_factory, scenario, cause, lots) -> None:
    portfolio, market = scenario
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=60))
    engine = RiskEngine(risk_settings(tmp_path_factory.mktemp("r")), clock)
    if cause == "kill":
        engine.kill("property test")
    elif cause == "vix":
        market.vix_value = 35.0
    else:
        portfolio.realised = -portfolio.account
        portfolio.unrealised = min(portfolio.unrealised, 0.0)  # an open gain must not offset the loss
    decision = engine.evaluate(
        make_intent(clock.now_utc(), quantity=lots * market.default_lot), portfolio, market
    )
    assert engine.state is RiskState.HALTED
    assert not decision.approved and decision.approved_quantity == 0
    assert decision.risk_state is RiskState.HALTED


@PROPERTY_SETTINGS
@given(
    world(),
    st.sampled_from([IntentPurpose.EXIT, IntentPurpose.STOP, IntentPurpose.TARGET, IntentPurpose.FLATTEN]),
    st.booleans(),
    st.integers(1, 800),
)
def test_exits_that_reduce_are_never_blocked(tmp_path_factory, scenario, purpose, halt, quantity) -> None:
    portfolio, market = scenario
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=700))  # even after the session
    engine = RiskEngine(risk_settings(tmp_path_factory.mktemp("r")), clock)
    if halt:
        engine.kill("property test")
    position = make_position("exit-token", net_quantity=300, price=50.0)
    portfolio.positions = [*portfolio.positions, position]
    intent = make_intent(
        clock.now_utc(), quantity=quantity, side=Side.SELL, purpose=purpose, token="exit-token"
    )
    decision = engine.evaluate(intent, portfolio, market)
    assert decision.approved
    assert decision.approved_quantity == min(quantity, 300)


vix_paths = st.lists(st.floats(min_value=10.0, max_value=29.9, allow_nan=False), min_size=1, max_size=60)


@PROPERTY_SETTINGS
@given(path=vix_paths, hysteresis=st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_vix_band_has_hysteresis(path: list[float], hysteresis: float) -> None:
    """Entered at its level, left only `vix_hysteresis_points` below it; never a band VIX is not near."""
    risk = risk_settings(Path("unused"), vix_hysteresis_points=hysteresis).risk
    levels = (risk.vix_elevated, risk.vix_high)
    band = 0
    for vix in path:
        previous, band = band, vix_band_level(vix, band, risk)
        raw = sum(1 for level in levels if vix >= level)
        assert band >= raw  # reaching a level always enters its band at once
        for above in range(raw + 1, band + 1):  # a band kept above the raw one: VIX within the margin
            assert vix >= levels[above - 1] - hysteresis
        if band < previous:  # stepping down: VIX is clear of the band's level by the margin
            assert vix < levels[band] - hysteresis
        assert band in (raw, previous) or raw < band < previous


@PROPERTY_SETTINGS
@given(path=st.lists(st.floats(min_value=17.96, max_value=18.05, allow_nan=False), min_size=2, max_size=80))
def test_vix_hovering_on_a_level_changes_the_risk_state_once(path: list[float]) -> None:
    """A paper session flipped ACTIVE<->REDUCING 7 times in 12 minutes with VIX at 18.00-18.05."""
    with tempfile.TemporaryDirectory() as root:
        clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=45))
        engine = RiskEngine(risk_settings(Path(root)), clock)
        for vix in [18.01, *path]:
            engine.update_vix(vix)
            engine.refresh()
            clock.advance(5)
    assert [change.current for change in engine.state_changes] == [RiskState.REDUCING]

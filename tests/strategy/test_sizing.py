from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.config import Settings
from optbot.strategy import PositionSizer, SizingRequest

SETTINGS = Settings()
SIZER = PositionSizer(SETTINGS.strategy, SETTINGS.risk)


def request(**overrides) -> SizingRequest:
    values = dict(
        account_value=1_000_000.0,
        premium=100.0,
        lot_size=75,
        vix=15.5,
        days_to_expiry=10,
        open_interest=50_000,
        open_positions=0,
    )
    values.update(overrides)
    return SizingRequest(**values)


def test_base_size_and_reasons() -> None:
    result = SIZER.size(request())
    # 2 % of 1,000,000 = 20,000 / (100 x 75) = 2 lots
    assert (result.lots, result.quantity) == (2, 150)
    assert result.reasons[0].startswith("base 2% of 1,000,000")


def test_every_adjustment_is_listed() -> None:
    result = SIZER.size(
        request(vix=20.0, days_to_expiry=3, open_interest=1200, open_positions=1, loss_per_unit_at_stop=10.0)
    )
    text = " | ".join(result.reasons)
    for expected in ("elevated", "days to expiry", "low liquidity", "open position", "= "):
        assert expected in text
    # risk: 20,000 x 0.5 x 0.5 x 0.75 x 0.8 = 3,000 / (10 x 75) = 4 lots,
    # but premium outlay 5 % x VIX band 0.5 = 25,000 / 7,500 per lot = 3 lots
    assert result.lots == 3
    assert "premium outlay capped" in result.reasons[-1]


def test_extreme_vix_and_unknown_vix_refuse() -> None:
    assert SIZER.size(request(vix=31.0)).lots == 0
    assert "VIX unknown" in SIZER.size(request(vix=None)).reasons[-1]


def test_low_vix_boost_and_resume_multiplier() -> None:
    low = SIZER.size(request(vix=13.0, loss_per_unit_at_stop=10.0))
    assert any("low" in reason for reason in low.reasons)
    resumed = SIZER.size(request(vix=16.0, loss_per_unit_at_stop=10.0, risk_size_multiplier=0.25))
    normal = SIZER.size(request(vix=16.0, loss_per_unit_at_stop=10.0))
    assert resumed.lots < normal.lots


@settings(max_examples=300, deadline=None)
@given(
    account=st.floats(10_000, 50_000_000),
    premium=st.floats(0.5, 2_000),
    lot=st.sampled_from([15, 25, 30, 50, 65, 75, 250, 1500]),
    vix=st.one_of(st.none(), st.floats(5, 60)),
    days=st.one_of(st.none(), st.integers(0, 60)),
    oi=st.one_of(st.none(), st.integers(0, 100_000)),
    positions=st.integers(0, 6),
    multiplier=st.floats(0, 1),
    freeze=st.one_of(st.none(), st.integers(1, 5000)),
    margin=st.one_of(st.none(), st.floats(0, 10_000_000)),
    stop_loss=st.one_of(st.none(), st.floats(0.01, 500)),
)
def test_size_never_exceeds_any_limit(
    account, premium, lot, vix, days, oi, positions, multiplier, freeze, margin, stop_loss
) -> None:
    result = SIZER.size(
        SizingRequest(
            account, premium, lot, vix, days, oi, positions, multiplier, freeze, margin, None, stop_loss
        )
    )
    s = SETTINGS.strategy
    assert result.lots >= 0 and result.quantity == result.lots * lot
    if result.lots == 0:
        return
    assert vix is not None and vix <= SETTINGS.risk.vix_extreme
    assert result.quantity * premium <= account * s.max_risk_per_trade_pct / 100 + 1e-6
    loss_per_unit = min(stop_loss or premium, premium)
    assert result.quantity * loss_per_unit <= account * s.max_risk_per_trade_pct / 100 + 1e-6
    if freeze is not None:
        assert result.quantity <= freeze
    if margin is not None:
        assert result.quantity * premium <= margin + 1e-6

"""Average-cost netting (shared by the paper broker's day book and the simulator's ledger)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.core.netting import net_fill

fills = st.lists(
    st.tuples(st.booleans(), st.integers(1, 500), st.floats(0.05, 5_000, allow_nan=False)), max_size=30
)


def test_add_reduce_flip_and_flat() -> None:
    assert net_fill(0, 0.0, True, 100, 10.0) == (100, 10.0, 0.0)
    assert net_fill(100, 10.0, True, 100, 20.0) == (200, 15.0, 0.0)
    assert net_fill(200, 15.0, False, 50, 19.0) == (150, 15.0, 200.0)
    assert net_fill(150, 15.0, False, 200, 12.0) == (-50, 12.0, -450.0)  # flips: rest opens at the fill
    assert net_fill(-50, 12.0, True, 50, 10.0) == (0, 0.0, 100.0)


@given(fills, st.floats(0.05, 5_000, allow_nan=False))
def test_realised_plus_unrealised_is_the_cash_flow_marked_to_market(
    sequence: list[tuple[bool, int, float]], mark: float
) -> None:
    quantity, average, realised, cash = 0, 0.0, 0.0, 0.0
    for is_buy, size, price in sequence:
        quantity, average, gained = net_fill(quantity, average, is_buy, size, price)
        realised += gained
        cash += -size * price if is_buy else size * price
    assert realised + quantity * (mark - average) == pytest.approx(cash + quantity * mark, rel=1e-9, abs=1e-3)
    assert (quantity == 0) == (average == 0.0)

"""Whole-number order fields refuse non-finite values with AB1007 instead of crashing."""

from __future__ import annotations

import pytest

from optbot.sim.exchange import OrderRequestError
from optbot.sim.exchange.requests import int_field


@pytest.mark.parametrize("raw", [float("inf"), float("-inf"), float("nan"), "inf", "NaN", "1e400", 2.5, True])
def test_non_whole_quantities_are_ab1007(raw: object) -> None:
    with pytest.raises(OrderRequestError) as refused:
        int_field({"quantity": raw}, "quantity")
    assert refused.value.code == "AB1007" and "quantity" in refused.value.message


def test_whole_numbers_in_any_spelling() -> None:
    assert [int_field({"q": raw}, "q") for raw in (75, "75", 75.0, "75.0")] == [75, 75, 75, 75]

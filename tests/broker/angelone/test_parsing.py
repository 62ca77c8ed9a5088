from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.broker.angelone.parsing import as_rows, parse_exchange_time, to_float, to_int
from optbot.core.timeutil import IST


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("194.00", 194.0), (194, 194.0), ("- 2235.80", -2235.80), ("", 0.0), (None, 0.0), ("1,234.5", 1234.5)],
)
def test_to_float_tolerates_recorded_drift(raw: object, expected: float) -> None:
    assert to_float(raw) == pytest.approx(expected)


def test_to_float_names_the_field() -> None:
    with pytest.raises(ValueError, match="price"):
        to_float("abc", "price")
    with pytest.raises(ValueError, match="ltp"):
        to_float(float("nan"), "ltp")
    with pytest.raises(ValueError, match="qty"):
        to_int("1.5", "qty")


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_decimal_strings_round_trip(value: object) -> None:
    assert to_float(str(value)) == pytest.approx(float(str(value)))
    assert to_float(f"- {abs(float(str(value)))}") == pytest.approx(-abs(float(str(value))))


def test_exchange_time_formats() -> None:
    assert parse_exchange_time("20-Oct-2020 13:10:59") == datetime(2020, 10, 20, 13, 10, 59, tzinfo=IST)
    assert parse_exchange_time("2024-01-02T09:15:00+05:30") == datetime(2024, 1, 2, 9, 15, tzinfo=IST)
    assert parse_exchange_time("") is None and parse_exchange_time(None) is None


def test_rows() -> None:
    assert as_rows(None, "x") == [] and as_rows("", "x") == []
    assert as_rows([{"a": 1}, "junk"], "x") == [{"a": 1}]
    with pytest.raises(ValueError, match="orders"):
        as_rows({"a": 1}, "orders")

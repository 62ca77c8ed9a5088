"""Hand-checked values, warm-up behaviour and input validation of the incremental indicators."""

from __future__ import annotations

import math

import pytest

from optbot.indicators import (
    ADX,
    ATR,
    EMA,
    RSI,
    SMA,
    BollingerBands,
    HistoricalVolatility,
    Indicator,
    SessionVWAP,
    batch,
)


def test_sma_and_ema_hand_values() -> None:
    sma, ema = SMA(3), EMA(3)
    outputs = [(sma.update(v), ema.update(v)) for v in (1.0, 2.0, 3.0, 4.0)]
    assert outputs[0] == (None, None)
    assert outputs[2] == (2.0, 2.0)
    assert outputs[3] == (3.0, 3.0)  # ema: 2 + 0.5 * (4 - 2)


def test_atr_hand_values_stockcharts_seeding() -> None:
    """Computed by hand with the StockCharts rule: the first TR is high - low, the first ATR the mean
    of the first N TRs, then ATR = (previous * (N-1) + TR) / N. Period 3, with a gap down and up."""
    bars = [(10, 8, 9), (11, 9, 10), (14, 10, 13), (12, 11, 11.5), (13, 12.5, 13)]
    # TRs: 10-8 = 2; max(2, |11-9|, |9-9|) = 2; max(4, |14-10|, |10-10|) = 4;
    #      gap down: max(1, |12-13|, |11-13|) = 2; gap up: max(0.5, |13-11.5|, |12.5-11.5|) = 1.5
    expected = [None, None, 8 / 3, (8 / 3 * 2 + 2) / 3, ((8 / 3 * 2 + 2) / 3 * 2 + 1.5) / 3]
    assert expected[3] == pytest.approx(22 / 9) and expected[4] == pytest.approx(57.5 / 27)
    atr = ATR(3)
    got = [atr.update(*bar) for bar in bars]
    assert got[:2] == [None, None]
    assert got[2:] == pytest.approx(expected[2:])
    highs, lows, closes = zip(*bars, strict=True)
    assert batch.atr(highs, lows, closes, 3)[2:] == pytest.approx(expected[2:])


def test_rsi_all_gains_is_100_flat_is_50() -> None:
    rising, flat = RSI(3), RSI(3)
    for value in (1, 2, 3, 4, 5):
        rising.update(value)
        flat.update(7)
    assert rising.value == 100.0
    assert flat.value == 50.0


def test_adx_strong_uptrend_has_plus_di_above_minus_di() -> None:
    indicator = ADX(5)
    result = None
    for day in range(30):
        base = 100 + day * 2.0
        result = indicator.update(base + 1.5, base - 0.5, base + 1.0)
    assert result is not None
    assert result.plus_di > result.minus_di
    assert result.adx > 50
    assert indicator.ready


def test_adx_first_value_at_two_period_minus_one() -> None:
    indicator = ADX(4)
    outputs = [indicator.update(100 + i, 98 + i, 99 + i) for i in range(10)]
    assert [o is not None for o in outputs].index(True) == 7
    assert indicator.plus_di is not None


def test_bollinger_constant_series_collapses_bands() -> None:
    bands = BollingerBands(4)
    value = None
    for _ in range(6):
        value = bands.update(50.0)
    assert value is not None
    assert value.upper == value.lower == value.middle == 50.0
    assert value.percent_b(50.0) == 0.5


def test_historical_volatility_known_value() -> None:
    hv = HistoricalVolatility(period=2, annualisation=252)
    closes = [100.0, 101.0, 100.0]
    result = None
    for close in closes:
        result = hv.update(close)
    returns = [math.log(101 / 100), math.log(100 / 101)]
    mean = sum(returns) / 2
    expected = math.sqrt(sum((r - mean) ** 2 for r in returns) / 1) * math.sqrt(252)
    assert result == pytest.approx(expected, rel=1e-12)


def test_session_vwap_weights_and_zero_volume() -> None:
    vwap = SessionVWAP()
    assert vwap.update(100.0, 1, "d1") == 100.0
    assert vwap.update(110.0, 3, "d1") == pytest.approx(107.5)
    assert vwap.update(200.0, 0, "d2") == 200.0  # new session, no volume: equal weights
    assert vwap.update(210.0, 0, "d2") == 205.0


def test_protocol_is_satisfied() -> None:
    for indicator in (ADX(), ATR(), RSI(), EMA(3), SMA(3), BollingerBands(), HistoricalVolatility()):
        assert isinstance(indicator, Indicator)
        assert not indicator.ready
        assert indicator.value is None


@pytest.mark.parametrize("period", [0, -3, 2.5, True])
def test_bad_periods_are_refused_with_a_clear_message(period: object) -> None:
    with pytest.raises(ValueError, match="period"):
        SMA(period)  # type: ignore[arg-type]


def test_bad_bars_are_refused() -> None:
    with pytest.raises(ValueError, match="below its low"):
        ATR().update(9, 10, 9.5)
    with pytest.raises(ValueError, match="finite"):
        RSI().update(float("nan"))
    with pytest.raises(ValueError, match="positive"):
        HistoricalVolatility().update(0.0)
    with pytest.raises(ValueError, match="negative"):
        SessionVWAP().update(1.0, -5, "x")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_a_non_finite_bar_input_is_refused_by_name(bad: float, position: int) -> None:
    names = ("high", "low", "close")
    values = [10.0, 9.0, 9.5]
    values[position] = bad
    for indicator in (ADX(3), ATR(3)):
        with pytest.raises(ValueError, match=f"^{names[position]} must be a finite number, got {bad!r}$"):
            indicator.update(*values)
    with pytest.raises(ValueError, match=f"^value must be a finite number, got {bad!r}$"):
        EMA(3).update(bad)


def test_bar_inputs_are_taken_as_floats() -> None:
    """Whole numbers (and numeric strings, as float() reads them) give what their floats give."""
    bars = [(10, 8, 9), ("11", "9", "10"), (14, 10, 13), (12, 11, 11.5)]
    as_given, as_floats = (ADX(2), ATR(2)), (ADX(2), ATR(2))
    for bar in bars:
        for given, floats in zip(as_given, as_floats, strict=True):
            assert given.update(*bar) == floats.update(*(float(part) for part in bar))  # type: ignore[arg-type]
    # true ranges 2, 2, 4, 2: ATR(2) = (2 + 2) / 2, then (2 + 4) / 2, then (3 + 2) / 2
    assert as_given[0].ready and as_given[1].value == as_floats[1].value == 2.5


def _reference_adx(bars: list[tuple[float, float, float]], period: int) -> list[tuple[float, ...] | None]:
    """Wilder's ADX written with the module's own true_range / directional_movement /
    directional_indices (what ADX.update computes inline)."""
    from optbot.indicators.wilder import directional_indices, directional_movement, true_range

    out: list[tuple[float, ...] | None] = []
    tr_sum = plus_sum = minus_sum = dx_sum = 0.0
    seeded = dx_count = 0
    adx: float | None = None
    for index, (high, low, close) in enumerate(bars):
        if index == 0:
            out.append(None)
            continue
        previous_high, previous_low, previous_close = bars[index - 1]
        current_tr = true_range(high, low, previous_close)
        plus_dm, minus_dm = directional_movement(high, low, previous_high, previous_low)
        if seeded < period:
            tr_sum, plus_sum, minus_sum = tr_sum + current_tr, plus_sum + plus_dm, minus_sum + minus_dm
            seeded += 1
            if seeded < period:
                out.append(None)
                continue
        else:
            tr_sum = tr_sum - tr_sum / period + current_tr
            plus_sum = plus_sum - plus_sum / period + plus_dm
            minus_sum = minus_sum - minus_sum / period + minus_dm
        plus_di, minus_di, dx = directional_indices(plus_sum, minus_sum, tr_sum)
        if adx is None:
            dx_sum += dx
            dx_count += 1
            if dx_count < period:
                out.append(None)
                continue
            adx = dx_sum / period
        else:
            adx = (adx * (period - 1) + dx) / period
        out.append((adx, plus_di, minus_di))
    return out


@pytest.mark.parametrize("period", [1, 2, 3, 14])
def test_adx_inline_arithmetic_is_the_module_functions_bit_for_bit(period: int) -> None:
    """Flat bars (zero range), gaps both ways, inside and outside bars, whole-number prices."""
    bars: list[tuple[float, float, float]] = []
    price = 100.0
    for step in range(300):
        if step % 17 == 0:
            bars.append((price, price, price))
            continue
        price += math.sin(step * 0.7) * 3 + (5 if step % 29 == 0 else 0) - (6 if step % 31 == 0 else 0)
        spread = abs(math.cos(step * 1.3)) * 2
        bars.append((price + spread, price - spread / 2, price + math.sin(step) * spread / 3))
    adx = ADX(period)
    got = [adx.update(*bar) for bar in bars]
    expected = _reference_adx(bars, period)
    as_tuples = [None if value is None else (value.adx, value.plus_di, value.minus_di) for value in got]
    assert as_tuples == expected


def test_adx_value_is_a_frozen_dataclass_with_its_fast_constructor() -> None:
    import dataclasses

    from optbot.indicators import ADXValue

    value = ADXValue(25.0, plus_di=30.0, minus_di=10.0)
    assert (value.adx, value.plus_di, value.minus_di) == (25.0, 30.0, 10.0)
    assert value == ADXValue(25.0, 30.0, 10.0) and hash(value) == hash(ADXValue(25.0, 30.0, 10.0))
    assert repr(value) == "ADXValue(adx=25.0, plus_di=30.0, minus_di=10.0)"
    assert dataclasses.replace(value, adx=1.0) == ADXValue(1.0, 30.0, 10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.adx = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        ADXValue(1.0, 2.0)  # type: ignore[call-arg]

"""The flash-spike detectors fire exactly when a plain scan of their window says they should.

The detectors read their window's extremes from monotonic deques and evict in place; the reference
here keeps every sample in a list and scans it, the rule as spec §4.1 states it: a price more than
`percent` away from the window's low or high (a VIX more than `points` above its low), samples kept for
the window's span, a sample older than the newest ignored, the same price at the same instant no news."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from optbot.risk.windows import PercentMoveDetector, RiseDetector, SpikeDetection

START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


class _ScanWindow:
    """Every sample in a list; extremes by scanning it."""

    def __init__(self, span: timedelta) -> None:
        self.span = span
        self.samples: list[tuple[datetime, float]] = []

    def add(self, when: datetime, value: float) -> None:
        if self.samples and when < self.samples[-1][0]:
            return
        self.samples.append((when, value))
        self.samples = [(at, held) for at, held in self.samples if at >= when - self.span]

    def values(self) -> list[float]:
        return [value for _, value in self.samples]


def _percent_move(window: _ScanWindow, percent: float, when: datetime, price: float) -> float | None:
    """The move (signed %) the reference fires on, None when it does not."""
    if price <= 0 or (window.samples and window.samples[-1] == (when, price)):
        return None
    window.add(when, price)
    low, high = min(window.values()), max(window.values())
    up = (price - low) / low * 100
    down = (high - price) / high * 100
    move = up if up >= down else -down
    return move if abs(move) > percent else None


steps = st.lists(
    st.tuples(
        st.integers(min_value=-30, max_value=200),  # seconds to the next price (back in time: ignored)
        st.one_of(st.just(0.0), st.floats(min_value=-3.0, max_value=3.0)),  # % move (0: a repeat)
    ),
    max_size=120,
)


@given(steps, st.integers(min_value=1, max_value=600), st.floats(min_value=0.1, max_value=3.0))
@example([(60, 0.0), (0, 0.0), (30, 2.5), (0, 0.0), (-10, -2.5), (400, 0.5)], 300, 2.0)
def test_percent_move_detector_fires_where_a_scan_of_its_window_does(
    moves: list[tuple[int, float]], span_seconds: int, percent: float
) -> None:
    span = timedelta(seconds=span_seconds)
    detector = PercentMoveDetector(percent, span)
    reference = _ScanWindow(span)
    when, price = START, 22500.0
    for seconds, move in moves:
        when += timedelta(seconds=seconds)
        price = round(price * (1 + move / 100), 2)
        found = detector.update("NIFTY", when, price)
        expected = _percent_move(reference, percent, when, price)
        if expected is None:
            assert found is None
        else:
            assert isinstance(found, SpikeDetection)
            assert found.kind == "price_spike"
            assert f"moved {expected:+.2f}%" in found.detail
        assert sorted(detector.window.values()) == sorted(reference.values())


@given(
    st.lists(
        st.tuples(st.integers(min_value=-30, max_value=200), st.floats(min_value=-4.0, max_value=4.0)),
        max_size=120,
    ),
    st.integers(min_value=1, max_value=900),
)
def test_rise_detector_fires_where_a_scan_of_its_window_does(
    moves: list[tuple[int, float]], span_seconds: int
) -> None:
    span = timedelta(seconds=span_seconds)
    detector = RiseDetector("vix_spike", 5.0, span)
    reference = _ScanWindow(span)
    when, vix = START, 15.0
    for seconds, points in moves:
        when += timedelta(seconds=seconds)
        vix = max(1.0, round(vix + points, 2))
        found = detector.update("INDIA VIX", when, vix)
        reference.add(when, vix)
        low = min(reference.values())
        if vix - low > 5.0:
            assert found is not None and found.baseline == low
        else:
            assert found is None

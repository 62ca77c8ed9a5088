"""The risk engine's per-tick shortcuts keep its behaviour: O(1) window extremes, the cached IST day,
flag files re-read when they change, option ticks ignored by the spike windows."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, RiskState
from optbot.core.events import Tick
from optbot.risk import RiskEngine
from optbot.risk.engine import LatchKind
from optbot.risk.killswitch import clear_kill_flag, write_kill_flag, write_resume_ack
from optbot.risk.windows import RollingWindow
from optbot.test_kit.risk import TEST_DAY_OPEN, risk_settings

START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


@given(
    st.lists(
        st.tuples(st.integers(min_value=-5, max_value=40), st.floats(min_value=-1e6, max_value=1e6)),
        max_size=200,
    ),
    st.integers(min_value=1, max_value=120),
)
def test_window_extremes_match_a_scan_of_the_samples(steps: list[tuple[int, float]], span: int) -> None:
    """Steps may go back in time (ignored samples) or stay put (same-instant samples)."""
    window = RollingWindow(timedelta(seconds=span))
    when = START
    for offset, value in steps:
        when = when + timedelta(seconds=offset)
        window.add(when, value)
        values = window.values()
        assert window.min() == min(values, default=None)
        assert window.max() == max(values, default=None)
    window.evict(when + timedelta(seconds=span // 2 + 1))
    assert window.min() == min(window.values(), default=None)
    assert window.max() == max(window.values(), default=None)


def _tick(clock: SimClock, symbol: str, ltp: float, token: str = "1") -> Tick:
    return Tick(clock.now_utc(), token, Exchange.NSE, symbol, ltp)


def test_option_ticks_feed_no_spike_window(tmp_path: Path) -> None:
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=45))
    engine = RiskEngine(risk_settings(tmp_path), clock)
    for price in (100.0, 180.0, 40.0):  # an option premium swinging far beyond the price-spike limit
        assert engine.on_tick(_tick(clock, "NIFTY26MAR22500CE", price, "9")) == []
    assert engine.state is RiskState.ACTIVE
    engine.on_tick(_tick(clock, "NIFTY", 22500.0))
    clock.advance(30)
    found = engine.on_tick(_tick(clock, "NIFTY", 23500.0))
    assert [spike.kind for spike in found] == ["price_spike"]
    assert engine.state is RiskState.HALTED


def test_day_latches_clear_when_the_cached_ist_day_rolls(tmp_path: Path) -> None:
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=45))
    engine = RiskEngine(risk_settings(tmp_path), clock)
    engine.on_tick(_tick(clock, "NIFTY", 22500.0))
    engine._latch(LatchKind.DAILY_LOSS, "test loss")
    engine.refresh()
    assert engine.state is RiskState.HALTED
    ist_midnight = datetime.combine((TEST_DAY_OPEN + timedelta(days=1)).date(), datetime.min.time(), UTC)
    clock.advance_to(ist_midnight - timedelta(hours=5, minutes=30, seconds=1))  # 23:59:59 IST, same day
    engine.refresh(check_files=False)
    assert engine.state is RiskState.HALTED
    clock.advance(1)  # 00:00 IST: a new trading day
    engine.refresh(check_files=False)
    assert engine.state is not RiskState.HALTED


def test_kill_flag_is_re_read_whenever_the_file_changes(tmp_path: Path) -> None:
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=45))
    engine = RiskEngine(risk_settings(tmp_path), clock)
    engine.refresh()
    assert engine.state is RiskState.ACTIVE
    write_kill_flag(engine.kill_file, "first", clock.now_utc())
    assert engine.refresh() is RiskState.HALTED
    assert any("kill switch: first" in latch for latch in engine.status().latches)
    clear_kill_flag(engine.kill_file)
    assert engine.refresh() is RiskState.REDUCING  # leaves HALTED through REDUCING (gradual resume)
    engine.kill_file.write_text("not json\n", encoding="utf-8")  # rewritten in place: malformed = kill
    assert engine.refresh() is RiskState.HALTED
    assert any("malformed" in latch for latch in engine.status().latches)


def test_resume_ack_rewritten_with_a_new_time_is_seen(tmp_path: Path) -> None:
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=45))
    engine = RiskEngine(risk_settings(tmp_path), clock)
    first = clock.now_utc()
    write_resume_ack(engine.resume_ack_file, first)
    engine.refresh()
    assert engine._ack_seen == first
    clock.advance(300)
    write_resume_ack(engine.resume_ack_file, clock.now_utc())
    engine.refresh()
    assert engine._ack_seen == clock.now_utc()
    os.remove(engine.resume_ack_file)
    engine.refresh()
    assert engine._ack_seen == clock.now_utc()  # the last acknowledgement seen stays


def test_vix_band_follows_every_vix_change(tmp_path: Path) -> None:
    """The cached band is recomputed on every VIX change (hysteresis off: its own property tests)."""
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=45))
    engine = RiskEngine(risk_settings(tmp_path, vix_hysteresis_points=0.0), clock)
    rng = random.Random(7)
    risk = engine.risk
    for _ in range(200):
        vix = rng.uniform(10.0, risk.vix_extreme - 0.01)
        engine.update_vix(vix)
        engine.refresh(check_files=False)
        expected = 1.0
        if vix >= risk.vix_high:
            expected = risk.high_size_multiplier
        elif vix >= risk.vix_elevated:
            expected = risk.elevated_size_multiplier
        assert engine.size_multiplier == expected
        assert engine.state is (RiskState.ACTIVE if expected == 1.0 else RiskState.REDUCING)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=4 * 3600),  # seconds to the next price (crosses midnight)
            st.sampled_from(["NIFTY", "INDIA VIX"]),
            st.floats(min_value=-3.0, max_value=3.0),  # % move of the price (VIX: points)
        ),
        max_size=60,
    )
)
@example([(60, "NIFTY", 0.0), (30, "NIFTY", 2.5)] + [(60, "NIFTY", 0.01)] * 60)  # spike, quiet, resume
def test_skipped_refreshes_leave_the_state_a_refresh_at_every_price_gives(
    steps: list[tuple[int, str, float]],
) -> None:
    """A price later in the day re-runs `refresh` only when time can change what it derives (a latch's
    quiet period, the gradual resume, the IST day, a VIX or latch change): the state and size multiplier
    after every price equal those of an engine refreshed at every price (flag files read once, so
    their re-reads do not refresh it anyway)."""
    directory = Path(os.environ.get("TMPDIR", "/tmp")) / f"optbot-risk-refresh-{os.getpid()}"
    lazy_clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=45))
    eager_clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=45))
    settings = risk_settings(directory, kill_file_check_seconds=86400.0)  # files read once: no refresh
    lazy = RiskEngine(settings, lazy_clock)
    eager = RiskEngine(settings, eager_clock)
    prices = {"NIFTY": 22500.0, "INDIA VIX": 14.0}
    for seconds, symbol, move in steps:
        lazy_clock.advance(seconds)
        eager_clock.advance(seconds)
        price = prices[symbol]
        price = max(1.0, price + move if symbol == "INDIA VIX" else price * (1 + move / 100))
        prices[symbol] = price
        lazy.on_tick(_tick(lazy_clock, symbol, price))
        eager.on_tick(_tick(eager_clock, symbol, price))
        eager.refresh(check_files=False)
        assert (lazy.state, lazy.size_multiplier) == (eager.state, eager.size_multiplier)

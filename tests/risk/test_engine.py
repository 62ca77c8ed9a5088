from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, IntentPurpose, RiskState, Side, Timeframe
from optbot.core.events import Bar, OrderIntent, Tick
from optbot.risk import RiskCallbacks, RiskEngine
from optbot.risk.engine import RECENT_DECISIONS_KEPT, open_position_count
from optbot.risk.killswitch import clear_kill_flag, write_resume_ack
from optbot.risk.state import IllegalTransition, TradingStateMachine
from optbot.test_kit.risk import (
    TEST_DAY_OPEN,
    FakeMarket,
    FakePortfolio,
    make_intent,
    make_position,
    risk_settings,
)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(TEST_DAY_OPEN + timedelta(minutes=45))


def make_engine(tmp_path: Path, clock: SimClock, **overrides: object) -> tuple[RiskEngine, list, list]:
    flattened: list = []
    cancelled: list = []
    callbacks = RiskCallbacks(cancel_all=cancelled.append, flatten=flattened.append)
    return RiskEngine(risk_settings(tmp_path, **overrides), clock, callbacks), flattened, cancelled


def tick(clock: SimClock, symbol: str, ltp: float) -> Tick:
    return Tick(clock.now_utc(), "1", Exchange.NSE, symbol, ltp)


def minute_bar(clock: SimClock, volume: int) -> Bar:
    now = clock.now_utc()
    return Bar(now, "1", "NIFTY", Timeframe.M1, now, now, 22500.0, 22500.0, 22500.0, 22500.0, volume)


def test_plain_entry_is_approved_with_reason(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    decision = engine.evaluate(make_intent(clock.now_utc(), quantity=50), FakePortfolio(), FakeMarket())
    assert decision.approved and decision.approved_quantity == 50
    assert decision.reasons[0].startswith("approved 2 of 2 lots")
    assert list(engine.decisions) == [decision]


def test_only_the_newest_decisions_stay_in_memory(tmp_path: Path, clock: SimClock) -> None:
    """A months-long session keeps the newest decisions for the dashboard, not every one it made."""
    engine, _, _ = make_engine(tmp_path, clock)
    made = [
        engine.evaluate(make_intent(clock.now_utc(), quantity=50), FakePortfolio(), FakeMarket())
        for _ in range(RECENT_DECISIONS_KEPT + 5)
    ]
    assert list(engine.decisions) == made[-RECENT_DECISIONS_KEPT:]


def test_per_trade_cap_reduces_to_whole_lots(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    # 5 % of 1,000,000 = 50,000; one lot = 25 x 100 = 2,500 -> 20 lots max
    decision = engine.evaluate(make_intent(clock.now_utc(), quantity=25 * 40), FakePortfolio(), FakeMarket())
    assert decision.approved_quantity == 25 * 20
    assert any("per-trade cap" in reason for reason in decision.reasons)


def test_max_positions_rejects(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    portfolio = FakePortfolio(positions=[make_position(str(t)) for t in range(3)])
    decision = engine.evaluate(make_intent(clock.now_utc()), portfolio, FakeMarket())
    assert not decision.approved
    assert any("open positions >= max 3" in reason for reason in decision.reasons)


def test_one_strategys_legs_count_as_one_position(tmp_path: Path, clock: SimClock) -> None:
    """A straddle plus a hedged strangle plus one call are three positions, not seven contracts; the
    straddle's strategy may add a leg at the cap, a fourth strategy may not."""
    engine, _, _ = make_engine(tmp_path, clock)
    owners = ["test", "test", "strangle", "strangle", "strangle", "strangle", "buyer"]
    positions = [replace(make_position(str(n)), owner=owner) for n, owner in enumerate(owners)]
    assert open_position_count(positions) == 3
    portfolio = FakePortfolio(positions=positions)
    adding_a_leg = engine.evaluate(make_intent(clock.now_utc(), token="99"), portfolio, FakeMarket())
    assert not any("open positions" in reason for reason in adding_a_leg.reasons)
    other = replace(make_intent(clock.now_utc(), token="98"), strategy="fourth")
    refused = engine.evaluate(other, portfolio, FakeMarket())
    assert not refused.approved
    assert any("3 open positions >= max 3" in reason for reason in refused.reasons)


def test_contracts_without_a_known_owner_count_one_each() -> None:
    positions = [make_position("1"), make_position("2"), replace(make_position("3"), net_quantity=0)]
    assert open_position_count(positions) == 2


def test_liquidity_breaker_and_unknown_oi(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    decision = engine.evaluate(make_intent(clock.now_utc()), FakePortfolio(), FakeMarket(default_oi=499))
    assert not decision.approved and any("OI 499 < 500" in r for r in decision.reasons)


def test_outside_session_rejected(tmp_path: Path) -> None:
    clock = SimClock(TEST_DAY_OPEN + timedelta(minutes=375 - 30))  # inside the 45-min no-entry buffer
    engine, _, _ = make_engine(tmp_path, clock)
    decision = engine.evaluate(make_intent(clock.now_utc()), FakePortfolio(), FakeMarket())
    assert not decision.approved and any("entry window" in r for r in decision.reasons)


def test_concentration_and_correlation(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock, max_total_notional_pct=100.0)
    # NIFTY already 190,000 of a 20 % (200,000) cap -> 10,000 room -> 4 lots of 2,500
    portfolio = FakePortfolio(positions=[make_position("9", net_quantity=1900, price=100.0)])
    decision = engine.evaluate(make_intent(clock.now_utc(), quantity=250), portfolio, FakeMarket())
    assert decision.approved_quantity == 100
    assert any("NIFTY concentration" in r for r in decision.reasons)
    # BANKNIFTY has no own exposure but the NIFTY/BANKNIFTY/FINNIFTY group is at 190,000 of 300,000
    decision = engine.evaluate(
        make_intent(clock.now_utc(), quantity=25 * 20, underlying="BANKNIFTY", token="77"),
        portfolio,
        FakeMarket(),
    )
    assert decision.approved_quantity == 25 * 20  # per-trade cap 20 lots binds before group room 44
    portfolio.positions.append(make_position("10", 1000, 100.0, underlying="FINNIFTY"))
    decision = engine.evaluate(
        make_intent(clock.now_utc(), quantity=25 * 20, underlying="BANKNIFTY", token="77"),
        portfolio,
        FakeMarket(),
    )
    assert decision.approved_quantity == 25 * 4
    assert any("correlated group" in r for r in decision.reasons)


def test_margin_cap_tightens_with_high_vix(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    portfolio = FakePortfolio(used_margin=60_000, free_margin=40_000)  # 70 % cap -> 10,000 room
    decision = engine.evaluate(make_intent(clock.now_utc(), quantity=250), portfolio, FakeMarket())
    assert decision.approved_quantity == 100
    decision = engine.evaluate(
        make_intent(clock.now_utc(), quantity=250), portfolio, FakeMarket(vix_value=20)
    )
    assert not decision.approved  # cap 52.5 % < 60 % used
    assert any("margin utilisation cap 52.5%" in r for r in decision.reasons)


def test_sell_entry_without_margin_estimate_rejected(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    decision = engine.evaluate(make_intent(clock.now_utc(), side=Side.SELL), FakePortfolio(), FakeMarket())
    assert not decision.approved and any("refusing to write options blind" in r for r in decision.reasons)


def test_daily_loss_halts_until_next_day_but_exits_pass(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    position = make_position("5", 50)
    portfolio = FakePortfolio(positions=[position], realised=-30_000)
    decision = engine.evaluate(make_intent(clock.now_utc()), portfolio, FakeMarket())
    assert not decision.approved and engine.state is RiskState.HALTED
    exit_decision = engine.evaluate(
        make_intent(clock.now_utc(), quantity=75, side=Side.SELL, purpose=IntentPurpose.EXIT, token="5"),
        portfolio,
        FakeMarket(),
    )
    assert exit_decision.approved and exit_decision.approved_quantity == 50  # capped at the open quantity
    clock.advance(24 * 3600)
    portfolio.realised = 0.0
    engine.refresh()
    assert engine.state is RiskState.REDUCING and engine.size_multiplier == pytest.approx(0.25)


def test_exit_that_would_open_position_is_rejected(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    decision = engine.evaluate(
        make_intent(clock.now_utc(), side=Side.SELL, purpose=IntentPurpose.EXIT),
        FakePortfolio(),
        FakeMarket(),
    )
    assert not decision.approved and "new risk in disguise" in decision.reasons[0]


def test_an_exit_is_capped_by_the_exits_already_working_on_the_same_side(
    tmp_path: Path, clock: SimClock
) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    portfolio = FakePortfolio(positions=[make_position("5", 150)], working={("5", Side.SELL): 100})
    portfolio.working[("5", Side.BUY)] = 150  # the other side cannot close this long: not counted

    def exit_of(quantity: int) -> OrderIntent:
        return make_intent(
            clock.now_utc(), quantity=quantity, side=Side.SELL, purpose=IntentPurpose.STOP, token="5"
        )

    partial = engine.evaluate(exit_of(150), portfolio, FakeMarket())
    assert partial.approved and partial.approved_quantity == 50
    assert "already working for the other 100" in partial.reasons[-1]
    assert engine.evaluate(exit_of(50), portfolio, FakeMarket()).approved_quantity == 50
    portfolio.working[("5", Side.SELL)] = 150
    refused = engine.evaluate(exit_of(150), portfolio, FakeMarket())
    assert not refused.approved and refused.approved_quantity == 0
    assert "already working for the whole open 150" in refused.reasons[0]
    portfolio.working.clear()  # the working exit ended unfilled: the next exit goes for all of it
    assert engine.evaluate(exit_of(150), portfolio, FakeMarket()).approved_quantity == 150


def test_consecutive_losses_lockout_and_ack(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    portfolio = FakePortfolio(trade_results=[500.0, -100.0, -200.0, -50.0])
    assert not engine.evaluate(make_intent(clock.now_utc()), portfolio, FakeMarket()).approved
    clock.advance(60)
    write_resume_ack(engine.resume_ack_file, clock.now_utc())
    engine.refresh()
    assert engine.state is RiskState.REDUCING
    decision = engine.evaluate(make_intent(clock.now_utc()), portfolio, FakeMarket())
    assert decision.approved
    portfolio.trade_results += [-1.0, -1.0, -1.0]
    assert not engine.evaluate(make_intent(clock.now_utc()), portfolio, FakeMarket()).approved


def test_vix_levels_reduce_then_halt_and_flatten(tmp_path: Path, clock: SimClock) -> None:
    engine, flattened, cancelled = make_engine(tmp_path, clock)
    portfolio = FakePortfolio(positions=[make_position("5", 50)])
    engine.attach_portfolio(portfolio)
    engine.update_vix(20.0)
    engine.refresh()
    assert engine.state is RiskState.REDUCING and engine.size_multiplier == 0.5
    decision = engine.evaluate(
        make_intent(clock.now_utc(), quantity=25 * 40), portfolio, FakeMarket(vix_value=20)
    )
    assert decision.approved_quantity == 25 * 10  # per-trade cap halved
    engine.update_vix(31.0)
    engine.refresh()
    assert engine.state is RiskState.HALTED
    assert (
        len(flattened) == 1
        and flattened[0].purpose is IntentPurpose.FLATTEN
        and flattened[0].side is Side.SELL
    )
    assert cancelled
    engine.update_vix(29.0)
    engine.refresh()
    assert engine.state is RiskState.REDUCING
    assert engine.size_multiplier == pytest.approx(0.25 * 0.25)
    assert [c.current for c in engine.state_changes] == [
        RiskState.REDUCING,
        RiskState.HALTED,
        RiskState.REDUCING,
    ]


def test_vix_spike_halts_and_recovers_below_threshold_plus_two(tmp_path: Path, clock: SimClock) -> None:
    engine, flattened, _ = make_engine(tmp_path, clock)
    engine.attach_portfolio(FakePortfolio(positions=[make_position("5", 50)]))
    for vix in (13.0, 14.0, 15.0, 16.5, 18.5):  # +5.5 points inside 10 minutes
        engine.on_tick(tick(clock, "INDIA VIX", vix))
        clock.advance(120)
    assert engine.state is RiskState.HALTED and flattened
    assert any("rose 5.50 points in 10 min" in latch for latch in engine.status().latches)
    engine.on_tick(tick(clock, "INDIA VIX", 15.5))
    assert engine.state is RiskState.HALTED  # 15.5 is not below 13 + 2
    clock.advance(1200)
    engine.on_tick(tick(clock, "INDIA VIX", 14.9))
    assert engine.state is RiskState.REDUCING


def test_price_spike_and_volume_spike(tmp_path: Path, clock: SimClock) -> None:
    engine, flattened, _ = make_engine(tmp_path, clock)
    engine.on_tick(tick(clock, "NIFTY", 22000.0))
    clock.advance(120)
    found = engine.on_tick(tick(clock, "NIFTY", 22500.0))
    assert found and found[0].kind == "price_spike" and engine.state is RiskState.HALTED
    clock.advance(15 * 60)
    engine.refresh()
    assert engine.state is RiskState.REDUCING
    # option ticks never trigger the underlying price-spike breaker
    engine.on_tick(tick(clock, "NIFTY24MAY22500CE", 100.0))
    clock.advance(60)
    assert engine.on_tick(tick(clock, "NIFTY24MAY22500CE", 150.0)) == []
    for volume in (1000, 1100, 900, 1000):
        bar = Bar(
            clock.now_utc(),
            "1",
            "NIFTY",
            Timeframe.M1,
            clock.now_utc(),
            clock.now_utc(),
            1,
            1,
            1,
            22500.0,
            volume,
        )
        assert engine.on_bar(bar) == []
        clock.advance(60)
    bar = Bar(
        clock.now_utc(), "1", "NIFTY", Timeframe.M1, clock.now_utc(), clock.now_utc(), 1, 1, 1, 22500.0, 3100
    )
    found = engine.on_bar(bar)
    assert found and found[0].kind == "volume_spike" and engine.state is RiskState.HALTED


def test_gradual_resume_steps(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    engine.update_vix(31.0)
    engine.refresh()
    engine.update_vix(14.0)
    engine.refresh()
    seen = []
    for _ in range(4):
        seen.append(engine.size_multiplier)
        clock.advance(30 * 60)
        engine.refresh()
    assert seen == [0.25, 0.5, 0.75, 1.0]
    assert engine.state is RiskState.ACTIVE


def test_kill_switch_file_round_trip(tmp_path: Path, clock: SimClock) -> None:
    engine, flattened, cancelled = make_engine(tmp_path, clock)
    engine.attach_portfolio(FakePortfolio(positions=[make_position("5", -50)]))
    engine.kill("operator: broker outage")
    assert engine.state is RiskState.HALTED
    assert engine.kill_file.exists()
    assert cancelled == ["kill switch: operator: broker outage"]
    assert flattened[0].side is Side.BUY and flattened[0].quantity == 50
    # a second engine (another process) sees the flag too
    other, _, _ = make_engine(tmp_path, clock)
    assert not other.evaluate(make_intent(clock.now_utc()), FakePortfolio(), FakeMarket()).approved
    clear_kill_flag(engine.kill_file)
    engine.refresh()
    assert engine.state is RiskState.REDUCING


def test_unknown_vix_blocks_entries(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    decision = engine.evaluate(make_intent(clock.now_utc()), FakePortfolio(), FakeMarket(vix_value=None))
    assert not decision.approved and any("VIX unknown" in r for r in decision.reasons)


def test_hedge_suggestion_when_delta_exceeds_limit(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock, max_delta_notional_pct=10.0)
    portfolio = FakePortfolio(positions=[make_position("5", 500, delta=0.6)])  # 300 units x 22500 = 6.75 M
    suggestions = engine.hedge_suggestions(portfolio, FakeMarket())
    assert len(suggestions) == 1 and suggestions[0].action.startswith("buy ATM PE")
    assert suggestions[0].hedge_units < 0 and suggestions[0].option_lots_hint is not None


def test_state_machine_refuses_halted_to_active() -> None:
    machine = TradingStateMachine(RiskState.HALTED)
    with pytest.raises(IllegalTransition):
        machine.move(RiskState.ACTIVE, "test")


def test_kill_flag_read_is_throttled_on_ticks_but_not_on_evaluate(tmp_path: Path, clock: SimClock) -> None:
    from optbot.risk.killswitch import write_kill_flag

    engine, _, _ = make_engine(tmp_path, clock)
    engine.on_tick(tick(clock, "NIFTY", 22500.0))
    write_kill_flag(engine.kill_file, "ops", clock.now_utc())
    engine.on_tick(tick(clock, "NIFTY", 22500.0))  # same instant: flag not re-read yet
    assert engine.state is RiskState.ACTIVE
    decision = engine.evaluate(make_intent(clock.now_utc()), FakePortfolio(), FakeMarket())
    assert not decision.approved and "kill switch: ops" in decision.reasons
    clear_kill_flag(engine.kill_file)
    clock.advance(1)
    engine.on_tick(tick(clock, "NIFTY", 22500.0))
    assert engine.state is RiskState.REDUCING


def test_volume_windows_are_kept_per_timeframe(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    now = clock.now_utc()
    for minute in range(4):
        engine.on_bar(minute_bar(clock, 1000))
        clock.advance(60)
    hourly = Bar(
        clock.now_utc(), "1", "NIFTY", Timeframe.H1, now, clock.now_utc(), 22500, 22500, 22500, 22500, 60_000
    )
    assert engine.on_bar(hourly) == []  # an hourly bar is not compared with 1-minute volumes


def test_ticks_and_bar_closes_feed_one_price_window_per_symbol(tmp_path: Path, clock: SimClock) -> None:
    """A move is seen whichever source carried each price (a tick, then a 5-minute bar's close), and a
    bar's close repeating the tick of the same instant adds no sample."""
    engine, _, _ = make_engine(tmp_path, clock)
    engine.on_tick(tick(clock, "NIFTY", 22500.0))
    start = clock.now_utc()
    same = Bar(start, "1", "NIFTY", Timeframe.M1, start, start, 22500, 22500, 22500, 22500.0)
    assert engine.on_bar(same) == []
    assert len(engine._price_detectors["NIFTY"].window) == 1
    clock.advance(5 * 60)
    end = clock.now_utc()
    jump = Bar(end, "1", "NIFTY", Timeframe.M5, start, end, 22500, 23500, 22500, 23500.0)
    found = engine.on_bar(jump)
    assert found and found[0].kind == "price_spike" and engine.state is RiskState.HALTED


def test_sell_entry_is_sized_by_the_brokers_margin_quote(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    # 40 % per-trade margin cap on 1,000,000 = 400,000 -> 3 lots at 120,000/lot; 2 naked lots max
    decision = engine.evaluate(
        make_intent(clock.now_utc(), quantity=25 * 5, side=Side.SELL),
        FakePortfolio(),
        FakeMarket(),
        margin_per_lot=120_000.0,
    )
    assert decision.approved and decision.approved_quantity == 25 * 2
    assert any("naked short cap 2 lots" in reason for reason in decision.reasons)
    assert any("per-trade margin cap 40%" in reason for reason in decision.reasons)


def test_a_bought_hedge_makes_room_for_covered_short_lots(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock)
    hedge = make_position("99", 25 * 3, underlying="NIFTY")
    decision = engine.evaluate(
        make_intent(clock.now_utc(), quantity=25 * 5, side=Side.SELL),
        FakePortfolio(positions=[hedge]),
        FakeMarket(),
        margin_per_lot=20_000.0,
    )
    assert decision.approved_quantity == 25 * 5  # 3 covered + 2 naked


def test_vix_size_multiplier_keeps_one_lot_the_unscaled_cap_admits(tmp_path: Path, clock: SimClock) -> None:
    """5 % of 5 lakh = 25,000 admits one lot of a 250-rupee NIFTY ATM option (lot 75) even at VIX 20."""
    engine, _, _ = make_engine(tmp_path, clock)
    market = FakeMarket(vix_value=20.0, default_lot=75)
    portfolio = FakePortfolio(account=500_000.0, free_margin=500_000.0)
    intent = make_intent(clock.now_utc(), quantity=75, limit_price=250.0)
    assert engine.evaluate(intent, portfolio, market).approved_quantity == 75
    strict, _, _ = make_engine(tmp_path, clock, size_multiplier_keeps_one_lot=False)
    assert not strict.evaluate(intent, portfolio, market).approved


def test_open_losses_trip_the_daily_loss_limit_on_the_price_path(tmp_path: Path, clock: SimClock) -> None:
    """Spec §10.5: the loss limits are checked against the marked book as prices arrive, not only
    when the next order is checked (a bleeding position used to leave the state ACTIVE)."""
    engine, flattened, _ = make_engine(tmp_path, clock)
    portfolio = FakePortfolio(positions=[make_position("5", 50)], unrealised=-35_000.0)
    engine.attach_portfolio(portfolio)
    engine.on_tick(tick(clock, "NIFTY", 22500.0))
    assert engine.state is RiskState.HALTED
    assert any("daily loss 3.50% >= limit 3%" in latch for latch in engine.status().latches)
    assert not flattened  # the 3 % loss limit stops new trades; it does not close positions


def test_daily_drawdown_limit_closes_positions(tmp_path: Path, clock: SimClock) -> None:
    """Spec §10.5 'limit drawdown to 5 % per day': reaching it closes the book, once."""
    engine, flattened, cancelled = make_engine(tmp_path, clock)
    portfolio = FakePortfolio(positions=[make_position("5", 50)], unrealised=10_000.0)
    engine.attach_portfolio(portfolio)
    engine.on_tick(tick(clock, "NIFTY", 22500.0))
    assert engine.state is RiskState.ACTIVE and not flattened
    portfolio.unrealised = -41_000.0  # 5.1 % below the day's peak of +1 %
    clock.advance(1)
    engine.on_tick(tick(clock, "NIFTY", 22400.0))
    assert engine.state is RiskState.HALTED and cancelled
    assert [intent.purpose for intent in flattened] == [IntentPurpose.FLATTEN]
    clock.advance(1)
    engine.on_tick(tick(clock, "NIFTY", 22300.0))
    assert len(flattened) == 1


def test_drawdown_flatten_can_be_turned_off(tmp_path: Path, clock: SimClock) -> None:
    engine, flattened, _ = make_engine(tmp_path, clock, flatten_on_daily_drawdown=False)
    engine.attach_portfolio(FakePortfolio(positions=[make_position("5", 50)], unrealised=-60_000.0))
    engine.on_tick(tick(clock, "NIFTY", 22500.0))
    assert engine.state is RiskState.HALTED and not flattened


def test_price_path_loss_check_is_throttled_and_skips_a_flat_book(tmp_path: Path, clock: SimClock) -> None:
    engine, _, _ = make_engine(tmp_path, clock, loss_limits_check_seconds=60.0)
    portfolio = FakePortfolio(positions=[make_position("5", 50)])
    engine.attach_portfolio(portfolio)
    engine.on_tick(tick(clock, "NIFTY", 22500.0))
    portfolio.unrealised = -35_000.0
    clock.advance(30)
    engine.on_tick(tick(clock, "NIFTY", 22400.0))
    assert engine.state is RiskState.ACTIVE  # checked 30 s ago: not due
    clock.advance(30)
    engine.on_tick(tick(clock, "NIFTY", 22400.0))
    assert engine.state is RiskState.HALTED
    flat = FakePortfolio(realised=-35_000.0)  # flat: only a fill moves it, and evaluate checks those
    engine2, _, _ = make_engine(tmp_path / "flat", clock)
    engine2.attach_portfolio(flat)
    engine2.on_tick(tick(clock, "NIFTY", 22500.0))
    assert engine2.state is RiskState.ACTIVE

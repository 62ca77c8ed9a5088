"""The default strategy (and the adaptive selector) replayed on real NIFTY/VIX sample sessions.

15-minute sample bars drive entries (entry timeframe 15m, trend from daily + 1h resampled), option
quotes come from a Black-Scholes chain at the replayed spot and VIX, and every intent passes the risk
engine. Each scenario asserts that signals, sized intents and exits happen and are explained.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from optbot.config import Settings
from optbot.core.enums import IntentPurpose, OptionType, RiskState, SignalDirection
from optbot.research.harness import replay_nifty_15min
from optbot.strategy.builtin.adx_trend import AdxTrendStrategy
from optbot.strategy.builtin.matrix import AdaptiveStrategy


def replay_settings(tmp_path: Path, **risk: object) -> Settings:
    return Settings(
        paths={"data_root": tmp_path},
        strategy={"entry_timeframe": "15m", "trend_timeframes": ["daily", "1h"]},
        risk=risk,
    )


def lots_of(reason: str) -> int:
    match = re.search(r"BUY (\d+) lot", reason)
    assert match, reason
    return int(match.group(1))


def test_trending_month_november_2020(sample_data: Path, tmp_path: Path) -> None:
    settings = replay_settings(tmp_path)
    strategy = AdxTrendStrategy(settings)
    replay = replay_nifty_15min(
        sample_data, settings, [strategy], date(2020, 11, 2), date(2020, 11, 30), 75, 1800
    )
    harness = replay.harness
    entries = harness.entries()
    assert len(entries) >= 3
    approved = [(intent, decision) for intent, decision in entries if decision.approved]
    assert len(approved) >= 3
    for intent, decision in entries:
        assert intent.option_type is OptionType.CE  # a bullish month: category 1 only buys calls
        if decision.approved:
            assert decision.approved_quantity % 75 == 0 and decision.reasons[0].startswith("approved")
        else:  # refused entries say why (e.g. the consecutive-loss lockout)
            assert decision.reasons[0] in ("rejected", "trading HALTED: no new risk")
            assert any(f"entry {intent.symbol} refused" in line for line in strategy.journal)
        for part in ("category 1 buy CE", "Why:", "Trend:", "Exits:", "Size:"):
            assert part in intent.reason
        assert lots_of(intent.reason) * 75 == intent.quantity
    assert all(signal.direction is SignalDirection.BULLISH for signal in harness.ctx.signals)
    exits = harness.exits()
    assert exits and all(decision.approved for _, decision in exits)
    assert all(intent.reason.startswith("adx_trend: SELL") for intent, _ in exits)
    assert any("trade closed on NIFTY: P&L" in line for line in strategy.journal)
    # VIX was 19-24 that month: the elevated band halves sizes, and it says so
    assert any("elevated" in intent.reason for intent, _ in entries)
    total_out = sum(fill.quantity for fill in harness.sell_fills())
    total_in = sum(fill.quantity for fill in harness.fills if fill.side.value == "BUY")
    assert total_in == total_out  # intraday: flat at the end of every session


def test_range_bound_month_july_2021_stands_aside(sample_data: Path, tmp_path: Path) -> None:
    settings = replay_settings(tmp_path)
    strategy = AdxTrendStrategy(settings)
    replay = replay_nifty_15min(
        sample_data, settings, [strategy], date(2021, 7, 1), date(2021, 7, 30), 50, 1800
    )
    assert replay.harness.entries() == []
    categories = [line for line in strategy.journal if "daily category" in line]
    assert len(categories) >= 20
    assert all("category 3: no trend: ADX < 20" in line for line in categories)


def test_range_bound_month_adaptive_picks_mean_reversion(sample_data: Path, tmp_path: Path) -> None:
    settings = replay_settings(tmp_path)
    strategy = AdaptiveStrategy(settings)
    replay_nifty_15min(sample_data, settings, [strategy], date(2021, 7, 1), date(2021, 7, 9), 50, 1800)
    regimes = [line for line in strategy.journal if " regime " in line]
    assert regimes and all("ranging" in line and "mean_reversion" in line for line in regimes)


def test_gap_up_day_june_3_2024_trades_the_gap_fill(sample_data: Path, tmp_path: Path) -> None:
    settings = replay_settings(tmp_path)
    strategy = AdaptiveStrategy(settings)
    replay = replay_nifty_15min(
        sample_data, settings, [strategy], date(2024, 6, 3), date(2024, 6, 3), 25, 1800
    )
    harness = replay.harness
    assert any("gap market" in line and "gap fill" in line for line in strategy.journal)
    entries = harness.entries()
    assert entries
    for intent, decision in entries:
        assert intent.option_type is OptionType.PE  # gap up: trade back toward the previous close
        assert "gap fill: opened +3.58% from previous close 22530.70" in intent.reason
        assert decision.approved
    # VIX ~24 that morning: the risk engine is REDUCING and sizes carry the elevated-VIX cut
    assert harness.risk.state_changes[0].current is RiskState.REDUCING
    assert all("elevated" in intent.reason for intent, _ in entries)
    assert harness.exits() and all(d.approved for _, d in harness.exits())


def test_vix_spike_march_2020_halts_flattens_and_refuses(sample_data: Path, tmp_path: Path) -> None:
    # 15-minute VIX bars cannot resolve a 5/10-minute window: widen both to one bar for this data.
    settings = replay_settings(tmp_path, vix_spike_window_minutes=15, vix_breaker_window_minutes=15)
    strategy = AdxTrendStrategy(settings)
    replay = replay_nifty_15min(
        sample_data, settings, [strategy], date(2020, 3, 13), date(2020, 3, 13), 75, 1800
    )
    harness = replay.harness
    assert harness.risk.state is RiskState.HALTED
    latches = " | ".join(harness.risk.status().latches)
    assert "VIX" in latches and "extreme" in latches
    assert "vix_breaker" in latches and "rose 13.59 points in 15 min" in latches
    assert harness.entries() == []
    assert any("entries moved to 5m bars" in line for line in strategy.journal)


def test_halt_flattens_an_open_position(sample_data: Path, tmp_path: Path) -> None:
    """A position open when VIX goes extreme is flattened through the risk engine, never blocked."""
    from optbot.core.enums import Exchange
    from optbot.risk.views import PositionSnapshot

    settings = replay_settings(tmp_path)
    strategy = AdxTrendStrategy(settings)
    replay = replay_nifty_15min(
        sample_data, settings, [strategy], date(2024, 6, 4), date(2024, 6, 4), 25, 1800
    )
    harness = replay.harness
    assert any(change.current is RiskState.HALTED for change in harness.risk.state_changes)
    # now open a position and push VIX through the extreme level again on the same engine
    harness.ctx.set_position(PositionSnapshot("tok", Exchange.NFO, "NIFTYTEST", "NIFTY", 50, 100.0, 0.5))
    harness.risk.update_vix(20.0)
    harness.risk.refresh()
    harness.risk.update_vix(35.0)
    harness.process_pending()
    flatten = [(i, d) for i, d in harness.decisions if i.purpose is IntentPurpose.FLATTEN]
    assert flatten and flatten[-1][1].approved and flatten[-1][1].approved_quantity == 50
    assert "VIX 35.00 extreme" in flatten[-1][0].reason


@pytest.mark.parametrize("day", [date(2024, 6, 3)])
def test_every_intent_and_decision_is_explained(sample_data: Path, tmp_path: Path, day: date) -> None:
    settings = replay_settings(tmp_path)
    replay = replay_nifty_15min(sample_data, settings, [AdxTrendStrategy(settings)], day, day, 25, 1800)
    for intent, decision in replay.harness.decisions:
        assert intent.reason and decision.reasons


@pytest.mark.parametrize(
    ("name", "trigger"),
    [
        ("momentum", "% over 6 bars, RSI"),
        ("trend_following", "EMA9 crossed above EMA21"),
        ("volatility", "volatility expansion"),
        ("mean_reversion", "mean reversion: close"),
    ],
)
def test_matrix_strategies_trade_november_2020(
    sample_data: Path, tmp_path: Path, name: str, trigger: str
) -> None:
    from optbot.strategy.registry import resolve

    settings = replay_settings(tmp_path)
    strategy = resolve(name)(settings)
    replay = replay_nifty_15min(
        sample_data, settings, [strategy], date(2020, 11, 2), date(2020, 11, 13), 75, 1800
    )
    harness = replay.harness
    approved = [(i, d) for i, d in harness.entries() if d.approved]
    assert approved, strategy.journal[-5:]
    assert all(trigger in intent.reason and f"{name}: BUY" in intent.reason for intent, _ in approved)
    assert all(decision.reasons for _, decision in harness.decisions)
    bought = sum(f.quantity for f in harness.fills if f.side.value == "BUY")
    assert bought == sum(f.quantity for f in harness.sell_fills())  # flat every evening


def test_kill_switch_mid_trade_flattens_and_strategy_follows_the_book(
    sample_data: Path, tmp_path: Path
) -> None:
    from datetime import time

    from optbot.core.timeutil import ist_datetime

    settings = replay_settings(tmp_path)
    strategy = AdxTrendStrategy(settings)
    day = date(2020, 11, 17)
    replay = replay_nifty_15min(
        sample_data, settings, [strategy], day, day, 75, 1800, until=ist_datetime(day, time(9, 45))
    )
    harness = replay.harness
    assert "NIFTY" in strategy.trades  # the 09:30 breakout entry is open
    token = strategy.trades["NIFTY"].contract.token
    harness.risk.kill("operator: stop everything")
    harness.process_pending()
    flatten = [(i, d) for i, d in harness.decisions if i.purpose is IntentPurpose.FLATTEN]
    assert flatten and flatten[0][1].approved and flatten[0][0].token == token
    assert "kill switch: operator: stop everything" in flatten[0][0].reason
    harness.run(replay.remaining, replay.remaining_vix)
    assert "NIFTY" not in strategy.trades
    assert any("closed outside the strategy" in line for line in strategy.journal)
    after_kill = [i for i, _ in harness.decisions[harness.decisions.index(flatten[0]) + 1 :]]
    assert not any(i.strategy == "adx_trend" and i.purpose.reduces_risk for i in after_kill)
    assert all(
        not d.approved
        for i, d in harness.decisions
        if i.purpose is IntentPurpose.ENTRY and i.ts_utc > flatten[0][0].ts_utc
    )
    assert harness.risk.state is RiskState.HALTED

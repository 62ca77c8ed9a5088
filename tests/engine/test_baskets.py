"""Baskets on the engine: margin for all legs first, hedges before writes, a refused leg unwinds."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from optbot.core.enums import Exchange, Side
from optbot.core.events import Tick
from optbot.engine.builder import Venue, VenueSpec, build_engine
from optbot.engine.core import TradingEngine
from optbot.strategy.base import Strategy
from optbot.strategy.legs import load_legs
from optbot.test_kit.execution import Fault
from tests.engine.test_core import Rig


def legs_rig(tmp_path: Path, name: str, start: time = time(10, 0)) -> Rig:
    rig = Rig(tmp_path, start=start)
    strategy = load_legs(name)(rig.settings)
    rig.engine = _engine(rig, strategy)
    return rig


def _engine(rig: Rig, strategy: Strategy) -> TradingEngine:
    """The rig's engine rebuilt for `strategy` by the one builder, on the rig's fake broker."""
    venue = VenueSpec(Venue.BROKER, broker=rig.broker)  # type: ignore[arg-type]
    return build_engine(rig.settings, rig.clock, rig.store, rig.master, venue, strategies=[strategy]).engine


async def test_iron_condor_buys_its_wings_before_writing_and_blocks_margin(tmp_path: Path) -> None:
    rig = legs_rig(tmp_path, "iron_condor")
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    sides = [request.side for request in rig.broker.placed_requests]
    assert sides == [Side.BUY, Side.BUY, Side.SELL, Side.SELL]
    journal = "\n".join(entry.line() for entry in rig.engine.journal)
    assert "[basket] iron_condor entry: " in journal and "bought legs first" in journal
    assert "hedges filled, sending the written legs" in journal
    nets = sorted(position.net_quantity for position in rig.engine.ctx.positions())
    assert len(nets) == 4 and sum(nets) == 0


async def test_a_refused_written_leg_unwinds_the_basket_with_no_naked_leg(tmp_path: Path) -> None:
    rig = legs_rig(tmp_path, "iron_condor")
    await rig.start()
    rig.broker.inject(Fault.NONE, Fault.NONE, Fault.NONE, Fault.REJECT)  # the second write is refused
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    await rig.ticks()
    await rig.deliver()
    journal = "\n".join(entry.line() for entry in rig.engine.journal)
    assert "basket unwound: leg SELL" in journal and "order rejected by RMS" in journal
    assert [p for p in rig.engine.ctx.positions() if p.net_quantity != 0] == []
    closing = rig.broker.placed_requests[3:]  # the refused write never reached the book
    assert [request.side for request in closing] == [
        Side.BUY,
        Side.SELL,
        Side.SELL,
    ]  # write bought back first


async def test_a_basket_over_the_margin_cap_sends_no_leg(tmp_path: Path) -> None:
    rig = legs_rig(tmp_path, "iron_condor")
    rig.settings.risk.max_margin_utilisation_pct = 0.1
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    assert rig.broker.placed_requests == []
    journal = "\n".join(entry.line() for entry in rig.engine.journal)
    assert "[basket] iron_condor entry refused: basket margin" in journal


async def test_the_dashboard_shows_each_legs_strategys_legs_levels_and_mtm(tmp_path: Path) -> None:
    from optbot.ops.engine_provider import EngineDashboardProvider

    rig = legs_rig(tmp_path, "short_straddle_0920", start=time(9, 20, 5))
    await rig.start()
    await rig.ticks()
    await rig.ticks()  # the legs strategy steps on the index's ticks: the next one sees the quotes
    await rig.deliver()
    snapshot = EngineDashboardProvider(rig.engine, tmp_path).snapshot()
    legs = {row["leg"]: row for row in snapshot.legs}
    assert set(legs) == {"ce", "pe"}
    assert all(
        row["side"] == "SELL" and row["open_quantity"] == 65 and row["state"] == "open"
        for row in legs.values()
    )
    assert legs["ce"]["stop"] == pytest.approx(legs["ce"]["entry"] * 1.25, abs=0.01)
    mtm = legs["ce"]["leg_pnl"] + legs["pe"]["leg_pnl"]
    assert legs["ce"]["strategy_mtm"] == pytest.approx(mtm, abs=0.02)


def file_rig(tmp_path: Path, body: str, underlyings: tuple[str, ...] = ("NIFTY",)) -> Rig:
    """A rig running a legs file written to tmp_path, at 09:20:05 on the rig's day (2026-08-07)."""
    from optbot.strategy.legs import load_legs as load

    path = tmp_path / "legs.toml"
    path.write_text(body)
    rig = Rig(tmp_path, start=time(9, 20, 5))
    rig.settings = rig.settings.model_copy(
        update={"universe": rig.settings.universe.model_copy(update={"underlyings": list(underlyings)})}
    )
    rig.engine = _engine(rig, load(str(path))(rig.settings))
    return rig


STRADDLE = """
[strategy]
name = "choice"
underlying = "{underlying}"
[entry]
time = 09:20:00
[[legs]]
id = "ce"
option = "CE"
side = "SELL"
expiry = "{expiry}"
strike = {{ mode = "atm" }}
[[legs]]
id = "pe"
option = "PE"
side = "SELL"
expiry = "{expiry}"
strike = {{ mode = "atm" }}
"""


@pytest.mark.parametrize(
    ("expiry", "code"),
    [("current_weekly", "11AUG26"), ("next_weekly", "18AUG26"), ("monthly", "25AUG26")],
)
async def test_each_leg_trades_the_expiry_its_file_names(tmp_path: Path, expiry: str, code: str) -> None:
    # the master lists NIFTY 11, 18, 25 Aug and 1 Sep 2026 (Tuesdays); August's monthly is the 25th
    rig = file_rig(tmp_path, STRADDLE.format(underlying="NIFTY", expiry=expiry))
    await rig.start()
    await rig.ticks()
    await rig.ticks()
    symbols = sorted(request.symbol for request in rig.broker.placed_requests)
    assert len(symbols) == 2 and all(code in symbol for symbol in symbols), symbols


async def test_next_monthly_not_listed_is_said_and_nothing_trades(tmp_path: Path) -> None:
    rig = file_rig(tmp_path, STRADDLE.format(underlying="NIFTY", expiry="next_monthly"))
    await rig.start()
    await rig.ticks()
    assert rig.broker.placed_requests == []
    strategy = rig.engine.runner.strategies[0]
    assert strategy.name not in rig.engine.runner.paused  # data, not a strategy error
    day = getattr(strategy, "day", None)
    assert day is not None and any("next_monthly" in note for note in day.notes), day.notes


async def test_a_weekly_leg_on_banknifty_after_the_weeklies_ended_pauses_the_strategy_saying_why(
    tmp_path: Path,
) -> None:
    rig = file_rig(
        tmp_path, STRADDLE.format(underlying="BANKNIFTY", expiry="current_weekly"), ("NIFTY", "BANKNIFTY")
    )
    await rig.start()
    now = rig.clock.now_utc()
    await rig.engine.on_tick(Tick(now, "99926009", Exchange.NSE, "Nifty Bank", 55_000.0))  # the feed's symbol
    assert rig.broker.placed_requests == []
    paused = rig.engine.runner.paused["choice"]
    assert (
        "NoWeeklyExpiries" in paused.error
        and "BANKNIFTY has no weekly expiries on 2026-08-07" in paused.error
    )
    assert "leg ce, pe" in paused.error and 'use expiry = "monthly"' in paused.error
    journal = "\n".join(entry.line() for entry in rig.engine.journal)
    assert "choice paused after an error" in journal

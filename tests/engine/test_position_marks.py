"""A held contract's mark reaches the strategies' context through the portfolio's PositionChanged."""

from __future__ import annotations

from pathlib import Path

from optbot.core.events import PositionChanged, Tick
from optbot.test_kit.execution import drive
from tests.engine.test_core import Rig


async def test_a_held_contracts_mark_moves_its_context_position_and_publishes_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    seen: list[PositionChanged] = []
    rig.engine.bus.subscribe("test", (PositionChanged,), seen.append)
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    (held,) = rig.engine.ctx.positions()
    instrument = rig.master.get(held.exchange, held.token)
    assert instrument is not None
    seen.clear()
    for price in (131.5, 131.5, 127.0):  # a repeated price is still a mark (and an event)
        tick = Tick(rig.clock.now_utc(), held.token, held.exchange, instrument.symbol, price)
        await drive(rig.clock, rig.engine.on_tick(tick))
        (marked,) = rig.engine.ctx.positions()
        assert (marked.token, marked.net_quantity) == (held.token, held.net_quantity)
        assert marked.last_price == price
    record = rig.store.position(held.exchange, held.token)
    assert record is not None
    assert [(event.token, event.net_quantity) for event in seen] == [(held.token, held.net_quantity)] * 3
    assert [event.unrealised_pnl for event in seen] == [
        (price - record.average_price) * record.net_quantity for price in (131.5, 131.5, 127.0)
    ]
    assert rig.engine.portfolio.mark(held.exchange, held.token) == 127.0

"""bench_orders' measure holds together: every order's marks in path order, nothing else run on the
loop between an intent and its body on the socket, the simulator's work outside this process."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from benchmarks import bench_orders
from optbot.sim.process import SimulatorProcess


def test_each_order_is_marked_in_path_order_with_no_turn_of_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_orders, "WIRE_ORDERS", 5)
    with SimulatorProcess(bench_orders._simulator) as sim:
        assert sim.pid != os.getpid()
        plain, decided, baseline = asyncio.run(bench_orders._run_wire(tmp_path, sim))
    assert len(plain) == len(decided) == len(baseline) == 5
    for marks in (*plain, *decided):
        assert marks.started < marks.journal_started < marks.journal_ended < marks.broker_called
        assert marks.broker_called < marks.transport <= marks.headers_started < marks.written
        assert 0 < marks.commit_seconds < marks.journal_ended - marks.journal_started
        assert marks.suspensions == 0, "the order path gave the event loop a turn before the send"
    for marks in baseline:
        assert marks.started < marks.transport <= marks.headers_started < marks.written
        assert marks.suspensions == 0


async def test_suspensions_are_counted_until_the_body_is_on_the_socket() -> None:
    recorder = bench_orders._Recorder(timing=True)

    async def two_turns_then_sent() -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        recorder.timing = False  # what the transport's trace does when the body is written
        await asyncio.sleep(0)
        return "done"

    assert await bench_orders._counting_suspensions(two_turns_then_sent(), recorder) == "done"
    assert recorder.current.suspensions == 2

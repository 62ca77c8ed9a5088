"""The simulator in a spawned process: it serves on the port it reports, and stops when asked."""

from __future__ import annotations

import os

import httpx
import pytest

from optbot.core.clock import SimClock
from optbot.sim.process import SimulatorProcess
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT, StaticMarket, market_hours_start


def _simulator() -> Simulator:
    clock = SimClock(market_hours_start())
    return Simulator(StaticMarket(clock), clock, [TEST_ACCOUNT])


def _no_simulator() -> Simulator:
    raise ValueError("no accounts file")


def test_the_simulator_serves_from_its_own_process_until_stopped() -> None:
    with SimulatorProcess(_simulator) as sim:
        assert sim.port > 0 and sim.pid is not None and sim.pid != os.getpid()
        reply = httpx.get(f"{sim.base_url}/sim/v1/clock", timeout=10.0)
        process_id = sim.pid
    assert reply.status_code == 200 and reply.json()["ist"].startswith("2026-11-18T10:00")
    with pytest.raises(ProcessLookupError):
        os.kill(process_id, 0)  # joined: gone, not a zombie


def test_a_simulator_that_cannot_start_is_reported_by_name() -> None:
    with pytest.raises(RuntimeError, match="ValueError: no accounts file"):
        SimulatorProcess(_no_simulator).start()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux-only")
def test_the_simulator_process_can_be_kept_to_given_cpus() -> None:
    chosen = {max(os.sched_getaffinity(0))}
    with SimulatorProcess(_simulator, cpus=chosen) as sim:
        assert sim.pid is not None and os.sched_getaffinity(sim.pid) == chosen

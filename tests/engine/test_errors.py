"""§10.8 error classes and responses, and the service watchdog."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from optbot.broker.errors import BrokerRejected, RateLimited, TokenExpired, UnresolvedOrder
from optbot.core.events import Alert
from optbot.engine.errors import ErrorPolicy, Severity, Watchdog, classify
from optbot.test_kit.execution import drive
from tests.engine.test_core import Rig


@pytest.mark.parametrize(
    ("error", "severity"),
    [
        (TokenExpired("session gone"), Severity.CRITICAL),
        (UnresolvedOrder("ob1", "no reply"), Severity.CRITICAL),
        (RuntimeError("bug"), Severity.CRITICAL),
        (RateLimited("403"), Severity.WARNING),
        (TimeoutError(), Severity.WARNING),
        (BrokerRejected("AB1010", "margin"), Severity.INFO),
    ],
)
def test_classification(error: BaseException, severity: Severity) -> None:
    assert classify(error) is severity


async def test_critical_pauses_alerts_and_resumes_after_recovery(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    alerts: list[Alert] = []
    rig.engine.bus.subscribe("alerts", (Alert,), alerts.append)
    attempts: list[int] = []

    async def recover() -> bool:
        attempts.append(1)
        return len(attempts) > 1  # the first recovery fails, the second works

    policy = ErrorPolicy(rig.engine, recover=recover)
    await policy.handle(TokenExpired("jwt expired"), "orders")
    assert rig.engine.trading_blocked is not None and "TokenExpired" in rig.engine.trading_blocked
    assert alerts and alerts[0].title == "Trading paused: critical error"
    await policy.handle(TokenExpired("jwt expired"), "orders")
    assert rig.engine.trading_blocked is None
    assert any(entry.kind == "recovered" for entry in rig.engine.journal)


async def test_warning_reduces_size_for_a_while(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    policy = ErrorPolicy(rig.engine)
    assert rig.engine.ctx.size_multiplier() == pytest.approx(rig.engine.risk.size_multiplier)
    await policy.handle(RateLimited("403 storm"), "orders")
    reduced = rig.engine.ctx.size_multiplier()
    assert reduced == pytest.approx(
        rig.engine.risk.size_multiplier * rig.settings.engine.warning_size_multiplier
    )
    assert rig.engine.trading_blocked is None
    rig.clock.advance(rig.settings.engine.warning_cooldown_minutes * 60 + 1)
    assert rig.engine.ctx.size_multiplier() == pytest.approx(rig.engine.risk.size_multiplier)


async def test_watchdog_restarts_with_backoff_then_halts(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    runs: list[float] = []

    async def flaky() -> None:
        runs.append(rig.clock.monotonic())
        raise RuntimeError("socket task died")

    watchdog = Watchdog(rig.engine, rig.clock, rig.settings.engine, ErrorPolicy(rig.engine))
    await drive(rig.clock, watchdog.supervise("feed", flaky))
    cap = rig.settings.engine.watchdog_max_restarts
    assert len(runs) == cap + 1
    gaps = [later - earlier for earlier, later in zip(runs, runs[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[0] == pytest.approx(rig.settings.engine.watchdog_backoff_seconds)
    assert rig.engine.trading_blocked is not None and "failed" in rig.engine.trading_blocked
    assert any(entry.text.startswith("critical: Service feed halted") for entry in rig.engine.journal)


async def test_watchdog_lets_a_service_finish(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    done = asyncio.Event()

    async def fine() -> None:
        done.set()

    watchdog = Watchdog(rig.engine, rig.clock, rig.settings.engine, ErrorPolicy(rig.engine))
    await watchdog.supervise("ok", fine)
    assert done.is_set() and rig.engine.trading_blocked is None

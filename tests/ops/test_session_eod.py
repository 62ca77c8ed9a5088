"""Issue 18, found by the unattended week: an EOD that runs past the broker's day change (every API
session is logged out before the next trading day) met "AG8002 Token Expired" on its reconciliation and
the bot died with a traceback. The session is now recovered and the EOD done; a broker that still
refuses is a FAIL line, never a dead bot."""

from __future__ import annotations

from dataclasses import dataclass

from optbot.broker.angelone.factory import AngelOneStack
from optbot.broker.errors import TokenExpired, TransientError
from optbot.core.clock import SimClock
from optbot.execution.reconciliation import ReconciliationReport
from optbot.ops.session import SessionRunner
from tests.broker.angelone.conftest import pumping
from tests.ops.test_session_logout import runner

__all__ = ["runner"]  # the fixture: a session runner against the in-process simulator


@dataclass
class EodEngine:
    """An engine whose EOD reconciliation asks the broker: refused while the session is dead."""

    stack: AngelOneStack
    calls: int = 0

    async def end_of_day(self) -> ReconciliationReport:
        self.calls += 1
        if not await self.stack.auth._profile_ok():
            raise TokenExpired("trade_book: AG8002 Token Expired")
        return ReconciliationReport("eod", (), 1)


async def test_an_eod_past_the_brokers_day_change_recovers_the_session_and_reconciles(
    runner: tuple[SessionRunner, AngelOneStack, SimClock],
) -> None:
    session, stack, clock = runner
    async with pumping(clock):
        await stack.auth.login()
        dead = stack.auth.tokens
        assert dead is not None
        await stack.auth.logout()  # the broker ended the session (its day change)
        stack.auth.tokens = dead
        stack.rest.set_access_token(dead.jwt_token)
        engine = EodEngine(stack)
        await session._end_of_day(engine)  # type: ignore[arg-type]
    stages = {stage.name: stage for stage in session.outcome.stages}
    assert stages["EOD reconciliation"].passed, stages["EOD reconciliation"].detail
    assert engine.calls == 2


async def test_a_broker_outage_at_eod_is_a_fail_line_not_a_dead_bot(
    runner: tuple[SessionRunner, AngelOneStack, SimClock],
) -> None:
    session, stack, clock = runner

    class Unreachable:
        async def end_of_day(self) -> ReconciliationReport:
            raise TransientError("connection refused")

    async with pumping(clock):
        await stack.auth.login()
        await session._end_of_day(Unreachable())  # type: ignore[arg-type]
    stages = {stage.name: stage for stage in session.outcome.stages}
    assert not stages["EOD reconciliation"].passed
    assert "the next start reconciles" in stages["EOD reconciliation"].detail

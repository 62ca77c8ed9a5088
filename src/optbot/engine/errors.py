"""Error classification and the spec's responses (§10.8, §13.6), and the service watchdog.

critical -> pause new entries, notify, attempt recovery (re-login / reconcile), resume if it worked;
warning  -> reduce size for a while and watch more closely;
info     -> log only.
A background service that keeps failing is restarted with exponential backoff up to a cap; past
the cap the engine halts new risk and a person is told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from optbot.broker.errors import (
    AuthenticationFailed,
    BrokerRejected,
    RateLimited,
    TokenExpired,
    TransientError,
    UnresolvedOrder,
)
from optbot.config.sections.engine import EngineSettings
from optbot.core.clock import Clock
from optbot.core.enums import AlertPriority
from optbot.engine.core import TradingEngine

log = logging.getLogger("optbot.engine.errors")


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


def classify(error: BaseException) -> Severity:
    """Authentication loss and orders of unknown fate are critical; throttling and transient broker
    trouble are warnings; a single refused order is information (risk and the order manager act)."""
    if isinstance(error, TokenExpired | AuthenticationFailed | UnresolvedOrder):
        return Severity.CRITICAL
    if isinstance(error, RateLimited | TransientError | TimeoutError | ConnectionError | OSError):
        return Severity.WARNING
    if isinstance(error, BrokerRejected):
        return Severity.INFO
    return Severity.CRITICAL  # an unexpected exception in trading code is never harmless


Recovery = Callable[[], Awaitable[bool]]


def restart_delay(settings: EngineSettings, attempt: int) -> float:
    """Exponential backoff for the n-th consecutive failure (1-based), capped."""
    return min(settings.watchdog_backoff_seconds * 2 ** (attempt - 1), settings.watchdog_backoff_max_seconds)


@dataclass
class ErrorPolicy:
    """Applies the response for a classified error to the engine."""

    engine: TradingEngine
    recover: Recovery | None = None

    async def handle(self, error: BaseException, where: str) -> Severity:
        severity = classify(error)
        detail = f"{where}: {type(error).__name__}: {error}"
        if severity is Severity.INFO:
            log.info("info-class error %s", detail)
            return severity
        if severity is Severity.WARNING:
            self.engine.warn(f"warning-class error ({detail})")
            return severity
        self.engine.pause_trading(f"critical error ({detail})")
        await self.engine.alert(
            AlertPriority.CRITICAL,
            "Trading paused: critical error",
            detail,
            action_required="recovery is attempted automatically; check the broker session and logs",
            impact="no new entries until recovery succeeds",
            dedupe_key=f"critical:{where}:{type(error).__name__}",
        )
        if self.recover is not None and await self._try_recover():
            self.engine.resume_trading()
            self.engine.note("recovered", f"recovered after {detail}")
        return severity

    async def _try_recover(self) -> bool:
        assert self.recover is not None
        try:
            return await self.recover()
        except Exception as exc:  # recovery itself failing keeps trading paused, never crashes
            log.error("recovery failed: %s: %s", type(exc).__name__, exc)
            return False


@dataclass
class Watchdog:
    """Restarts a failed background service with backoff; past the cap, halts and tells a person."""

    engine: TradingEngine
    clock: Clock
    settings: EngineSettings
    policy: ErrorPolicy

    async def supervise(self, name: str, service: Callable[[], Awaitable[None]]) -> None:
        restarts = 0
        while True:
            try:
                await service()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("service %s failed", name)
                await self.policy.handle(exc, f"service {name}")
                restarts += 1
                if restarts > self.settings.watchdog_max_restarts:
                    await self._halt(name, exc, restarts - 1)
                    return
                delay = restart_delay(self.settings, restarts)
                self.engine.note("watchdog", f"restarting {name} in {delay:g} s (restart {restarts})")
                await self.clock.sleep(delay)

    async def _halt(self, name: str, error: BaseException, restarts: int) -> None:
        reason = f"service {name} failed {restarts + 1} times ({type(error).__name__}: {error})"
        self.engine.pause_trading(reason)
        await self.engine.alert(
            AlertPriority.CRITICAL,
            f"Service {name} halted",
            reason,
            action_required="restart optbot after fixing the cause (see the log)",
            impact="no new entries; exits and the calendar's flatten still run",
            dedupe_key=f"watchdog:{name}",
        )

"""Run one CLI action with a logged-in Angel One broker (shared by the instruments and data commands)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from optbot.broker.base import Broker
from optbot.cli.common import fail
from optbot.config import Settings
from optbot.core.clock import Clock

ResultT = TypeVar("ResultT")


def run_with_broker(
    settings: Settings, clock: Clock, action: Callable[[Broker], Awaitable[ResultT]]
) -> ResultT:
    """Log in (or reuse the stored session), run `action`, close the client; broker errors exit 1."""
    from optbot.broker.angelone.factory import build_stack, open_secret_store
    from optbot.broker.errors import BrokerError

    def prompt() -> str:
        return str(typer.prompt("Keyring password", hide_input=True)) if sys.stdin.isatty() else ""

    async def main() -> ResultT:
        stack = build_stack(settings, clock, open_secret_store(settings, prompt))
        try:
            await stack.auth.ensure_session_until()
            return await action(stack.broker)
        finally:
            await stack.aclose()

    try:
        return asyncio.run(main())
    except BrokerError as exc:
        fail(f"broker error: {type(exc).__name__}: {exc} (is `optbot auth login` done?)", code=1)

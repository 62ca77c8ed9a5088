"""Remote control over Telegram, against a local fake Bot API on 127.0.0.1 (never the real one)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from optbot.config import load_settings
from optbot.config.sections.telegram import TelegramSettings
from optbot.core.clock import SimClock
from optbot.core.enums import RiskState
from optbot.core.errors import UserError
from optbot.core.timeutil import ist_datetime
from optbot.engine.replay import InProcessReplay
from optbot.log import redact_text
from optbot.ops.engine_provider import OPERATOR_PAUSE
from optbot.ops.telegram import TelegramRemote
from optbot.ops.wiring import Operations, attach_operations
from optbot.test_kit.ops import ScriptedAtmCall, SessionPause
from optbot.test_kit.telegram import FakeTelegram

DAY = date(2025, 9, 8)  # a Monday with 1-minute NIFTY sample data
OPERATOR, STRANGER = 111, 999
TOKEN = "123456:telegram-test-token-abcdefghijkl"
CODE = re.compile(r"yes (\d{6})")


class Day:
    def __init__(self, replay: InProcessReplay, ops: Operations, fake: FakeTelegram) -> None:
        self.replay, self.ops, self.fake = replay, ops, fake
        self.count = 0

    async def ask(self, text: str, chat: int = OPERATOR) -> str:
        self.fake.push(chat, text)
        self.count += 1
        return await self.fake.wait_reply(OPERATOR, self.count)


@pytest.fixture
async def day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Day]:
    monkeypatch.setenv("OPTBOT_SECRET_TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    fake = await FakeTelegram(TOKEN).start()
    settings = load_settings(
        None,
        {
            "paths": {"data_root": str(tmp_path)},
            "replay": {"tick_seconds": 10.0},
            "universe": {"underlyings": ["NIFTY"]},
            "notifications": {"enabled": False},
            "telegram": {
                "enabled": True,
                "api_base_url": fake.base_url,
                "allowed_chat_ids": [OPERATOR],
                "poll_timeout_seconds": 1,
                "retry_seconds": 0.1,
            },
        },
    )
    replay = InProcessReplay(
        settings,
        tmp_path / "state.sqlite",
        DAY,
        strategies=[ScriptedAtmCall(settings)],
        underlyings=["NIFTY"],
    )
    ops = attach_operations(replay.engine, settings, replay.clock, environ={})
    try:
        await ops.start(serve_metrics=False, serve_dashboard=False)
        assert ops.telegram is not None
        await replay.engine.start(DAY)
        replay.warm_up()
        yield Day(replay, ops, fake)
    finally:
        await ops.stop(drain_seconds=1)
        replay.close()
        await fake.stop()


async def test_operator_reads_pauses_exits_and_kills_with_confirmation(day: Day) -> None:
    engine = day.replay.engine
    pause = SessionPause(engine.bus, engine.clock, ist_datetime(DAY, time(11, 0)))
    day_task = asyncio.ensure_future(day.replay.run_day(DAY))
    await pause.wait_reached(day_task, within_seconds=60)
    try:
        (held,) = engine.portfolio.open_positions()
        symbol = held.symbol

        day.fake.push(STRANGER, "kill")  # not allow-listed: ignored, never answered
        status = await day.ask("/status")
        assert day.fake.replies_to(STRANGER) == [] and day.ops.telegram is not None
        assert day.ops.telegram.ignored == 1 and engine.risk.state is RiskState.ACTIVE
        assert "risk ACTIVE" in status and "open positions 1" in status and "phase trading" in status
        assert symbol in await day.ask("positions")
        assert "realised" in await day.ask("pnl")

        assert "paused" in await day.ask("pause")
        assert engine.trading_blocked is not None and engine.trading_blocked.startswith(OPERATOR_PAUSE)
        assert "resumed" in await day.ask("resume")
        assert engine.trading_blocked is None

        asked = await day.ask(f"exit {symbol.lower()}")
        assert f"exit {symbol.lower()}" in asked and CODE.search(asked)
        refused = await day.ask("yes 000000" if "000000" not in asked else "yes 999999")
        assert "NOT done" in refused and engine.store.orders_in_flight() == []
        asked = await day.ask(f"exit {symbol}")
        match = CODE.search(asked)
        assert match is not None
        done = await day.ask(f"yes {match.group(1)}")
        assert f"{symbol}: closing +75" in done, done
        assert [order.purpose.value for order in engine.store.orders_in_flight()] == ["FLATTEN"]

        asked = await day.ask("kill flatten and halt from the phone")
        match = CODE.search(asked)
        assert "KILL SWITCH" in asked and match is not None
        assert "risk state HALTED" in await day.ask(f"yes {match.group(1)}")
        assert engine.risk.state is RiskState.HALTED
        assert "nothing to confirm" in await day.ask(f"yes {match.group(1)}")  # single use
    finally:
        pause.release()
        await day_task
    assert engine.portfolio.open_positions() == []
    assert day.fake.refused_tokens == 0
    assert TOKEN not in redact_text(f"POST {day.fake.base_url}/bot{TOKEN}/getUpdates")  # masked in any log


class NoProvider:
    """Only confirmation bookkeeping is exercised: the action records that it ran."""

    def __init__(self) -> None:
        self.killed: list[str] = []

    async def kill_switch(self, reason: str, actor: str) -> str:
        self.killed.append(reason)
        return "killed"


async def test_confirmation_expires_and_needs_the_same_chat() -> None:
    clock = SimClock(datetime(2026, 8, 3, 5, 0, tzinfo=UTC))
    settings = TelegramSettings(enabled=True, allowed_chat_ids=[1, 2], confirm_timeout_seconds=30)
    provider: Any = NoProvider()
    remote = TelegramRemote(settings, provider, clock, TOKEN, make_code=lambda: "424242")
    try:
        assert "yes 424242" in await remote.handle(1, "kill")
        assert await remote.handle(2, "yes 424242") == "nothing to confirm"  # another chat's request
        clock.advance(31)
        assert "expired" in await remote.handle(1, "yes 424242") and provider.killed == []
        await remote.handle(1, "kill now")
        clock.advance(29)
        assert await remote.handle(1, "yes 424242") == "killed" and provider.killed == ["now"]
        assert "commands:" in await remote.handle(1, "what")
    finally:
        await remote.aclose()


def test_enabled_without_token_or_chats_is_a_clear_error() -> None:
    clock = SimClock(datetime(2026, 8, 3, 5, 0, tzinfo=UTC))
    provider: Any = NoProvider()
    with pytest.raises(UserError, match="OPTBOT_SECRET_TELEGRAM_BOT_TOKEN"):
        TelegramRemote(TelegramSettings(enabled=True, allowed_chat_ids=[1]), provider, clock, "")
    with pytest.raises(UserError, match="allowed_chat_ids"):
        TelegramRemote(TelegramSettings(enabled=True), provider, clock, TOKEN)

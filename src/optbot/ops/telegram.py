"""Remote control over Telegram for the operator (spec §13.5 manual controls, issue 18).

The bot long-polls the Bot API (`getUpdates`) and answers with `sendMessage`, over httpx with TLS
verification on. Only chats in `telegram.allowed_chat_ids` are obeyed; anything else is ignored (and
logged without its text). Commands: `status`, `positions`, `pnl`, `pause`, `resume`, `exit <symbol>`,
`kill [reason]`, `help`. Anything that trades (`exit`, `kill`) runs only after the same chat replies
`yes <code>` within `telegram.confirm_timeout_seconds`; the code is random and single-use.

Every action goes through `EngineDashboardProvider`, the dashboard's own engine-control object, so the
dashboard and Telegram share one implementation of each operator action. The bot token is a secret
(keyring or `OPTBOT_SECRET_TELEGRAM_BOT_TOKEN`) and is registered with the log redactor, so the
request URLs that carry it are masked in every log line.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as code_source
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from optbot.config.sections.telegram import TelegramSettings
from optbot.core.clock import Clock
from optbot.core.errors import UserError
from optbot.log import register_secret
from optbot.ops.engine_provider import EngineDashboardProvider

log = logging.getLogger("optbot.ops.telegram")

TOKEN_SECRET = "telegram_bot_token"
HELP = (
    "commands: status | positions | pnl | pause | resume | exit <symbol> | kill [reason]\n"
    "exit and kill ask for confirmation: reply `yes <code>`"
)
#: Telegram caps a message at 4096 characters.
MAX_MESSAGE_CHARS = 4000


@dataclass(frozen=True, slots=True)
class PendingAction:
    code: str
    description: str
    expires_monotonic: float
    run: Callable[[], Awaitable[str]]


class TelegramApiError(Exception):
    """The Bot API refused a call (`ok: false`) or answered with something that is not its JSON."""


class TelegramRemote:
    """Polls for operator commands and executes them through the engine's control provider."""

    def __init__(
        self,
        settings: TelegramSettings,
        provider: EngineDashboardProvider,
        clock: Clock,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        make_code: Callable[[], str] | None = None,
    ) -> None:
        if not token:
            raise UserError(
                f"telegram.enabled needs a bot token: `optbot auth set-secret {TOKEN_SECRET}` "
                f"or export OPTBOT_SECRET_{TOKEN_SECRET.upper()}"
            )
        if not settings.allowed_chat_ids:
            raise UserError("telegram.enabled needs telegram.allowed_chat_ids (the operator's chat ids)")
        register_secret(token)
        self.settings = settings
        self.provider = provider
        self.clock = clock
        self._base = f"{settings.api_base_url.rstrip('/')}/bot{token}"
        self._client = httpx.AsyncClient(
            timeout=settings.poll_timeout_seconds + settings.request_timeout_seconds, transport=transport
        )
        self._make_code = make_code or (lambda: f"{code_source.randbelow(10**6):06d}")
        self._offset: int | None = None
        self._pending: dict[int, PendingAction] = {}
        self._allowed = frozenset(settings.allowed_chat_ids)
        self.handled = 0
        self.ignored = 0
        self.poll_failures = 0

    # ------------------------------------------------------------------ Bot API
    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        response = await self._client.post(f"{self._base}/{method}", json=payload)
        try:
            body = response.json()
        except ValueError:
            raise TelegramApiError(f"{method}: HTTP {response.status_code}, not JSON") from None
        if not isinstance(body, dict) or not body.get("ok"):
            description = body.get("description", "") if isinstance(body, dict) else ""
            raise TelegramApiError(f"{method}: HTTP {response.status_code} {description}".strip())
        return body.get("result")

    async def send(self, chat_id: int, text: str) -> None:
        await self._call("sendMessage", {"chat_id": chat_id, "text": text[:MAX_MESSAGE_CHARS]})

    async def poll_once(self) -> int:
        """One getUpdates round; returns the number of updates handled."""
        payload: dict[str, Any] = {
            "timeout": self.settings.poll_timeout_seconds,
            "allowed_updates": ["message"],
        }
        if self._offset is not None:
            payload["offset"] = self._offset
        updates = await self._call("getUpdates", payload)
        if not isinstance(updates, list):
            raise TelegramApiError("getUpdates: result is not a list")
        for update in updates:
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                continue
            self._offset = update["update_id"] + 1  # acknowledged even if handling fails: never replayed
            message = update.get("message")
            if isinstance(message, dict):
                await self._on_message(message)
        return len(updates)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`; a failed poll is logged and retried after `retry_seconds` (real time)."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except (httpx.HTTPError, TelegramApiError) as exc:
                self.poll_failures += 1
                log.warning(
                    "telegram poll failed: %s",
                    exc if isinstance(exc, TelegramApiError) else type(exc).__name__,
                )
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.retry_seconds)
                except TimeoutError:
                    continue

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ commands
    async def _on_message(self, message: dict[str, Any]) -> None:
        chat = message.get("chat")
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        text = message.get("text")
        if not isinstance(chat_id, int) or not isinstance(text, str):
            return
        if chat_id not in self._allowed:
            self.ignored += 1
            log.warning(
                "telegram: ignored a message from chat %d (not in telegram.allowed_chat_ids)", chat_id
            )
            return
        self.handled += 1
        reply = await self.handle(chat_id, text)
        await self.send(chat_id, reply)

    async def handle(self, chat_id: int, text: str) -> str:
        """The reply to one command from an allowed chat."""
        words = text.strip().split()
        if not words:
            return HELP
        command = words[0].lower().lstrip("/").split("@")[0]
        rest = words[1:]
        actor = f"telegram chat {chat_id}"
        provider = self.provider
        if command == "yes":
            return await self._confirm(chat_id, rest)
        if command == "status":
            return provider.status_text()
        if command == "positions":
            return provider.positions_text()
        if command == "pnl":
            return provider.pnl_text()
        if command == "pause":
            return provider.pause_entries(actor)
        if command == "resume":
            return provider.resume_entries(actor)
        if command == "exit":
            if len(rest) != 1:
                held = ", ".join(provider.open_position_symbols()) or "none"
                return f"usage: exit <symbol> (open: {held})"
            symbol = rest[0]
            return self._ask(chat_id, f"exit {symbol}", lambda: provider.exit_position(symbol, actor))
        if command == "kill":
            reason = " ".join(rest) or "kill switch from Telegram"
            return self._ask(
                chat_id,
                "KILL SWITCH: cancel all pending orders, flatten every position, halt trading",
                lambda: provider.kill_switch(reason, actor),
            )
        return HELP

    def _ask(self, chat_id: int, description: str, run: Callable[[], Awaitable[str]]) -> str:
        code = self._make_code()
        timeout = self.settings.confirm_timeout_seconds
        self._pending[chat_id] = PendingAction(code, description, self.clock.monotonic() + timeout, run)
        return f"confirm: {description}\nreply `yes {code}` within {timeout:g} s"

    async def _confirm(self, chat_id: int, words: list[str]) -> str:
        pending = self._pending.pop(chat_id, None)
        if pending is None:
            return "nothing to confirm"
        if self.clock.monotonic() > pending.expires_monotonic:
            return f"confirmation expired: {pending.description} was NOT done"
        if words != [pending.code]:
            return f"wrong code: {pending.description} was NOT done (send the command again)"
        log.warning("telegram: chat %d confirmed %s", chat_id, pending.description)
        return await pending.run()


__all__ = ["HELP", "TOKEN_SECRET", "TelegramApiError", "TelegramRemote"]

"""A local fake of the Telegram Bot API (getUpdates long polling, sendMessage) on 127.0.0.1, port 0.

Tests of the remote control talk to this over real HTTP, never to api.telegram.org. Messages a test
`push`es are handed out by `getUpdates` (honouring `offset` and the long-poll `timeout`); every
`sendMessage` is kept in `sent` and can be awaited with `wait_reply`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

from optbot.ops.listen import ListenSetting, bind_listener


@dataclass
class FakeTelegram:
    token: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    refused_tokens: int = 0
    _next_id: int = 1
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _new_message: asyncio.Event = field(default_factory=asyncio.Event)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, chat_id: int, text: str) -> None:
        """A message from `chat_id` arrives at the bot."""
        self.updates.append(
            {
                "update_id": self._next_id,
                "message": {
                    "message_id": self._next_id,
                    "chat": {"id": chat_id, "type": "private"},
                    "text": text,
                },
            }
        )
        self._next_id += 1
        self._new_update.set()

    def replies_to(self, chat_id: int) -> list[str]:
        return [str(item["text"]) for item in self.sent if item.get("chat_id") == chat_id]

    async def wait_reply(self, chat_id: int, count: int, within_seconds: float = 10.0) -> str:
        """The `count`-th reply to `chat_id` (1-based), waiting for it to arrive."""

        async def arrived() -> str:
            while len(self.replies_to(chat_id)) < count:
                self._new_message.clear()
                await self._new_message.wait()
            return self.replies_to(chat_id)[count - 1]

        return await asyncio.wait_for(arrived(), timeout=within_seconds)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/bot{token}/{method}")
        async def call(token: str, method: str, request: Request) -> dict[str, Any]:
            self.calls.append(method)
            if token != self.token:
                self.refused_tokens += 1
                return {"ok": False, "error_code": 401, "description": "Unauthorized"}
            body = await request.json()
            if method == "getUpdates":
                return {"ok": True, "result": await self._get_updates(body)}
            if method == "sendMessage":
                self.sent.append(body)
                self._new_message.set()
                return {"ok": True, "result": {"message_id": len(self.sent), "chat": {"id": body["chat_id"]}}}
            return {"ok": False, "error_code": 404, "description": "Not Found"}

        return app

    async def _get_updates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(body.get("offset") or 0)
        self.updates = [update for update in self.updates if update["update_id"] >= offset]  # acknowledged
        if not self.updates:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout=float(body.get("timeout") or 0))
            except TimeoutError:
                return []
        return list(self.updates)

    async def start(self) -> FakeTelegram:
        sock = bind_listener(ListenSetting("telegram.api_base_url", "127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(self._app(), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._new_update.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=10)


__all__ = ["FakeTelegram"]

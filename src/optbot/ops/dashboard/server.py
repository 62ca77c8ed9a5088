"""Runs the dashboard app with uvicorn inside the engine's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from optbot.ops.listen import ListenSetting, bind_listener


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside the bot's loop. The bot owns SIGINT/SIGTERM (a graceful stop that still finishes
    the day); uvicorn would otherwise take them over, shut the dashboard down on its own and raise the
    signal again afterwards — a second stop request in the middle of the bot's wind-down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DashboardServer:
    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._listener = ListenSetting("dashboard.port", host, port)
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Binds first (a port in use raises `PortUnavailable`; uvicorn would call sys.exit), then serves."""
        sock = bind_listener(self._listener)
        serving = self._server.serve(sockets=[sock])
        self._task = asyncio.get_running_loop().create_task(serving, name="dashboard")
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("dashboard server is not listening")

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=10)

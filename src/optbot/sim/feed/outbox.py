"""A per-socket send queue, so synchronous market/exchange callbacks never block on the network."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

DEFAULT_OUTBOX_CAPACITY = 20_000


class SocketOutbox:
    """Queues frames for one WebSocket and sends them in order from a single writer task.

    A slow reader that lets the queue fill up loses the newest frames (counted in `dropped`)
    instead of growing memory without bound, as a real exchange feed would under back-pressure.
    """

    def __init__(self, socket: web.WebSocketResponse, capacity: int = DEFAULT_OUTBOX_CAPACITY) -> None:
        self.socket = socket
        self.dropped = 0
        self.sent = 0
        self._queue: asyncio.Queue[bytes | str] = asyncio.Queue(maxsize=capacity)
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._drain())

    def put(self, message: bytes | str) -> None:
        if self.socket.closed:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _drain(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                if self.socket.closed:
                    return
                if isinstance(message, bytes):
                    await self.socket.send_bytes(message)
                else:
                    await self.socket.send_str(message)
                self.sent += 1
            except (ConnectionError, RuntimeError):
                return
            finally:
                self._queue.task_done()

    async def flush(self, timeout_seconds: float = 1.0) -> None:
        """Wait (bounded) until queued messages are handed to the transport."""
        if self._writer is None or self._writer.done():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_seconds)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

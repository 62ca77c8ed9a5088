"""SmartAPI order-update WebSocket (reference §6) -> `OrderUpdate` events.

Updates missed while disconnected are not replayed by the server, so after every reconnect the
`on_reconnect` callback fires: the order manager reconciles from the order book then.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from websockets.exceptions import InvalidStatus, WebSocketException

from optbot.broker.angelone.parsing import parse_exchange_time, to_float, to_int, to_str
from optbot.broker.angelone.rest import check_base_url
from optbot.broker.angelone.status_map import (
    UnknownBrokerStatus,
    broker_status_text,
    map_order_row_status,
)
from optbot.broker.angelone.wsbase import (
    Backoff,
    ClientConnection,
    CredentialsProvider,
    handshake_headers,
    open_socket,
)
from optbot.broker.errors import BrokerError
from optbot.config.sections.broker import BrokerSettings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.errors import UserError
from optbot.core.events import OrderUpdate

log = logging.getLogger("optbot.broker.angelone.order_socket")

UpdateCallback = Callable[[OrderUpdate], Awaitable[None] | None]
ReconnectCallback = Callable[[], Awaitable[None] | None]
GREETING_CODE = "AB00"


class OrderMessageError(ValueError):
    """An order-update message that cannot be turned into an OrderUpdate."""


def parse_order_message(payload: Any, now_utc: Any) -> OrderUpdate | None:
    """One decoded JSON message -> OrderUpdate; None for the AB00 greeting. Raises OrderMessageError."""
    if not isinstance(payload, dict):
        raise OrderMessageError("message is not a JSON object")
    code = to_str(payload.get("order-status")).upper()
    if code == GREETING_CODE:
        return None
    row = payload.get("orderData")
    if not isinstance(row, dict):
        raise OrderMessageError(f"{code or 'message'} has no orderData object")
    order_id = to_str(row.get("orderid"))
    if not order_id:
        raise OrderMessageError(f"{code or 'message'} has no orderid")
    status_source = code or to_str(row.get("status") or row.get("orderstatus"))
    if not status_source:
        raise OrderMessageError(f"order {order_id}: no status")
    try:
        quantity = to_int(row.get("quantity"), "quantity")
        filled = to_int(row.get("filledshares"), "filledshares")
        status = map_order_row_status(status_source, filled, quantity)
        average_price = to_float(row.get("averageprice"), "averageprice")
    except (UnknownBrokerStatus, ValueError) as exc:
        raise OrderMessageError(f"order {order_id}: {exc}") from None
    text = to_str(row.get("text")) or to_str(payload.get("error-message"))
    broker_text = to_str(row.get("status") or row.get("orderstatus")) or broker_status_text(status_source)
    return OrderUpdate(
        ts_utc=now_utc,
        order_id=order_id,
        status=status,
        broker_status=" ".join(broker_text.lower().split()),
        ordertag=to_str(row.get("ordertag")),
        token=to_str(row.get("symboltoken")),
        symbol=to_str(row.get("tradingsymbol")),
        filled_quantity=filled,
        average_price=average_price,
        message=text,
        ts_exchange=parse_exchange_time(row.get("exchorderupdatetime") or row.get("updatetime")),
    )


class OrderUpdateSocket:
    """Connects with Bearer auth, maps AB01..AB11 messages, reconnects with backoff forever."""

    def __init__(
        self,
        settings: BrokerSettings,
        clock: Clock,
        credentials: CredentialsProvider,
        *,
        on_update: UpdateCallback | None = None,
        bus: EventBus | None = None,
        on_reconnect: ReconnectCallback | None = None,
        url: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.credentials = credentials
        self.url = check_base_url(url or settings.order_ws_url, "broker.order_ws_url")
        self.on_update = on_update
        self.bus = bus
        self.on_reconnect = on_reconnect
        self.backoff = Backoff(
            settings.reconnect_initial_delay_seconds, settings.reconnect_max_delay_seconds, rng
        )
        self.errors: Counter[str] = Counter()
        self.updates = 0
        self.greetings = 0
        self.connects = 0
        self.connected = False
        self.running = False
        self._socket: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.running = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="order-update-socket")

    async def stop(self) -> None:
        self.running = False
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        first = True
        while self.running:
            if not first:
                delay = self.backoff.next_delay()
                log.info("order-update socket: reconnecting in %.2fs", delay)
                await self.clock.sleep(delay)
                if not self.running:
                    return
            first = False
            try:
                await self._session()
            except InvalidStatus as exc:
                self.errors[f"handshake_{exc.response.status_code}"] += 1
                log.error("order-update socket refused: HTTP %d", exc.response.status_code)
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.errors[type(exc).__name__] += 1
                log.warning("order-update socket lost: %s", type(exc).__name__)
            except (BrokerError, UserError) as exc:
                self.errors[type(exc).__name__] += 1
                log.warning("order-update socket cannot connect: %s", exc)
            except Exception:
                self.errors["unexpected"] += 1
                log.exception("order-update socket failed unexpectedly; reconnecting")
            finally:
                self.connected = False
                self._socket = None

    async def _session(self) -> None:
        headers = handshake_headers(self.credentials())
        async with open_socket(
            self.url,
            headers,
            self.settings.ws_open_timeout_seconds,
            "broker.order_ws_url",
            ping_interval=self.settings.order_socket_ping_seconds,
            ping_timeout=self.settings.heartbeat_timeout_seconds,
        ) as socket:
            self._socket = socket
            self.connected = True
            self.connects += 1
            self.backoff.reset()
            if self.connects > 1 and self.on_reconnect is not None:
                result = self.on_reconnect()
                if inspect.isawaitable(result):
                    await result
            pinger = asyncio.create_task(self._heartbeat(socket))
            try:
                async for message in socket:
                    await self._on_message(message)
            finally:
                pinger.cancel()
                await asyncio.gather(pinger, return_exceptions=True)

    async def _heartbeat(self, socket: ClientConnection) -> None:
        while True:
            await self.clock.sleep(self.settings.order_socket_ping_seconds)
            await socket.send("ping")

    async def _on_message(self, message: str | bytes) -> None:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        text = text.strip()
        if text == "pong":
            return
        try:
            payload = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.errors["not_json"] += 1
            log.warning("order-update socket: non-JSON message (%d chars) skipped", len(text))
            return
        try:
            update = parse_order_message(payload, self.clock.now_utc())
        except OrderMessageError as exc:
            self.errors["bad_message"] += 1
            log.warning("order-update socket: skipped message: %s", exc)
            return
        if update is None:
            self.greetings += 1
            return
        self.updates += 1
        if self.on_update is not None:
            try:
                result = self.on_update(update)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.errors["update_callback"] += 1
                log.exception("order-update callback failed")
        if self.bus is not None:
            await self.bus.publish(update)

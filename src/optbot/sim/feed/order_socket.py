"""The order-update WebSocket `/smart-order-update` (reference §6).

Bearer auth on the upgrade (401 invalid token, 403 expired token, 429 beyond the connection limit),
an `AB00` greeting with an all-empty `orderData` as soon as the socket opens, then one text JSON
message per order event of that client, and text `ping` → `pong`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from optbot.sim.contracts import OrderEvent, OrderEventListener
from optbot.sim.feed.outbox import SocketOutbox
from optbot.sim.feed.ports import strip_bearer

ORDER_UPDATE_PATH = "/smart-order-update"
DEFAULT_MAX_ORDER_SOCKETS_PER_CLIENT = 3
GREETING_STATUS = "AB00"
ORDER_STATUS_CODES = frozenset(f"AB{number:02d}" for number in range(0, 12))

#: The recorded greeting's orderData: every order-row key, empty (types as recorded).
EMPTY_ORDER_DATA: dict[str, Any] = {
    "variety": "",
    "ordertype": "",
    "ordertag": "",
    "producttype": "",
    "price": 0.0,
    "triggerprice": 0.0,
    "quantity": "0",
    "disclosedquantity": "0",
    "duration": "",
    "squareoff": 0.0,
    "stoploss": 0.0,
    "trailingstoploss": 0.0,
    "tradingsymbol": "",
    "transactiontype": "",
    "exchange": "",
    "symboltoken": "",
    "instrumenttype": "",
    "strikeprice": 0.0,
    "optiontype": "",
    "expirydate": "",
    "lotsize": "0",
    "cancelsize": "0",
    "averageprice": 0.0,
    "filledshares": "",
    "unfilledshares": "",
    "orderid": "",
    "text": "",
    "status": "",
    "orderstatus": "",
    "updatetime": "",
    "exchtime": "",
    "exchorderupdatetime": "",
    "fillid": "",
    "filltime": "",
    "parentorderid": "",
}


class OrderSocketSession(Protocol):
    @property
    def client_code(self) -> str: ...


class WsCloserRegistry(Protocol):
    def register_ws_closer(self, close: Callable[[], Awaitable[None]]) -> None: ...


class OrderSocketSessions(Protocol):
    def session_for_jwt(self, jwt: str) -> OrderSocketSession | None: ...


def order_update_message(
    client_code: str, order_status: str, order_data: dict[str, Any], error_text: str = ""
) -> str:
    """One order-update socket message, keys in the recorded order (odd values become strings)."""
    return json.dumps(
        {
            "user-id": client_code,
            "status-code": "200",
            "order-status": order_status,
            "error-message": error_text,
            "orderData": order_data,
        },
        default=str,
    )


@dataclass(eq=False, slots=True)
class OrderConnection:
    client_code: str
    outbox: SocketOutbox


class OrderUpdateHub:
    """Routes exchange order events to the sockets of the order's client."""

    def __init__(self, max_connections_per_client: int = DEFAULT_MAX_ORDER_SOCKETS_PER_CLIENT) -> None:
        self.max_connections_per_client = max_connections_per_client
        self.connections: set[OrderConnection] = set()
        self.messages_sent = 0
        self.invalid_events = 0

    def connections_for(self, client_code: str) -> int:
        return sum(1 for connection in self.connections if connection.client_code == client_code)

    def on_order_event(self, event: OrderEvent) -> None:
        """Never raises into the exchange: an event with an unknown status code is counted and skipped."""
        if event.status_code not in ORDER_STATUS_CODES:
            self.invalid_events += 1
            return
        message = order_update_message(
            event.client_code, event.status_code, event.order_row, event.error_message
        )
        for connection in self.connections:
            if connection.client_code == event.client_code:
                connection.outbox.put(message)
                self.messages_sent += 1

    async def close_all(self) -> None:
        for connection in list(self.connections):
            await connection.outbox.socket.close()


ORDER_UPDATE_HUB: web.AppKey[OrderUpdateHub] = web.AppKey("optbot_sim_order_update_hub", OrderUpdateHub)


def _jwt_expired(sessions: OrderSocketSessions, jwt: str) -> bool:
    """Stores that can tell an expired jwt from an unknown one expose `jwt_expired(jwt) -> bool`."""
    check: Callable[[str], bool] | None = getattr(sessions, "jwt_expired", None)
    return bool(check(jwt)) if check is not None else False


def register_order_socket(
    app: web.Application,
    sessions: OrderSocketSessions,
    subscribe: Callable[[OrderEventListener], None],
    max_connections_per_client: int = DEFAULT_MAX_ORDER_SOCKETS_PER_CLIENT,
    faults: WsCloserRegistry | None = None,
) -> None:
    """Route GET /smart-order-update and attach the hub to the exchange's order events.

    With `faults`, the fault injector's "drop WS connections" also drops order-update sockets.
    """
    hub = OrderUpdateHub(max_connections_per_client)
    app[ORDER_UPDATE_HUB] = hub
    subscribe(hub.on_order_event)
    if faults is not None:
        faults.register_ws_closer(hub.close_all)

    async def close_on_shutdown(_: web.Application) -> None:
        await hub.close_all()

    app.on_shutdown.append(close_on_shutdown)

    async def handle(request: web.Request) -> web.StreamResponse:
        jwt = strip_bearer(request.headers.get("Authorization", ""))
        session = sessions.session_for_jwt(jwt) if jwt else None
        if session is None:
            if jwt and _jwt_expired(sessions, jwt):
                return web.Response(status=403, text="Token expired")
            return web.Response(status=401, text="Invalid token")
        if hub.connections_for(session.client_code) >= hub.max_connections_per_client:
            return web.Response(status=429, text="Connection limit exceeded")
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        connection = OrderConnection(session.client_code, SocketOutbox(socket))
        greeting = order_update_message(session.client_code, GREETING_STATUS, dict(EMPTY_ORDER_DATA))
        connection.outbox.put(greeting)
        hub.connections.add(connection)
        connection.outbox.start()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT and message.data.strip() == "ping":
                    connection.outbox.put("pong")
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            hub.connections.discard(connection)
            await connection.outbox.stop()
        return socket

    app.router.add_get(ORDER_UPDATE_PATH, handle)

"""Hostile server input: malformed, truncated and unknown-mode frames, E1001/E1002 and junk text.

A tiny local websockets server stands in for the broker so every kind of garbage can be sent; the
client must count and skip it while the connection keeps delivering good ticks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.order_socket import OrderUpdateSocket
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.config.sections.broker import BrokerSettings
from optbot.core.bus import EventBus
from optbot.core.clock import LiveClock
from optbot.core.enums import Exchange, OrderStatus
from optbot.core.events import OrderUpdate, Tick
from optbot.test_kit.broker import FrameSpec, encode_frame, order_row, patch_mode

from .test_sim_sockets import wait_for

CREDENTIALS = FeedCredentials("A1234567", "key-1", "jwt-1", "feed-1")
GOOD = encode_frame(FrameSpec("3045", 97_850, mode=1))
GARBAGE: list[str | bytes] = [
    b"",
    b"\x01",
    GOOD[:40],
    patch_mode(GOOD, 7),
    encode_frame(FrameSpec("3045", 1, mode=1, exchange_type=7)),
    '{"correlationID":"optbot","errorCode":"E1001","errorMessage":"Invalid Request Payload."}',
    '{"correlationID":"optbot","errorCode":"E1002",'
    '"errorMessage":"Invalid Request. Subscription Limit Exceeded."}',
    "hello?",
    "[1,2,3]",
]


class FakeBroker:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        self.received: list[Any] = []

    async def market(self, connection: ServerConnection) -> None:
        self.headers.append(dict(connection.request.headers))  # type: ignore[union-attr]
        async for message in connection:
            if message == "ping":
                await connection.send("pong")
                continue
            self.received.append(orjson.loads(message))
            for junk in GARBAGE:
                await connection.send(junk)
            await connection.send(GOOD)

    async def orders(self, connection: ServerConnection) -> None:
        self.headers.append(dict(connection.request.headers))  # type: ignore[union-attr]
        await connection.send(
            orjson.dumps(
                {
                    "user-id": "A1",
                    "status-code": "200",
                    "order-status": "AB00",
                    "error-message": "",
                    "orderData": {},
                }
            ).decode()
        )
        for junk in (
            "not json",
            "[]",
            '{"order-status":"AB05"}',
            '{"order-status":"AB99","orderData":{"orderid":"1","status":"odd"}}',
        ):
            await connection.send(junk)
        row = order_row(status="complete", filledshares="75", averageprice=194.5)
        await connection.send(orjson.dumps({"order-status": "AB05", "orderData": row}).decode())
        await connection.wait_closed()


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeBroker, str]]:
    broker = FakeBroker()

    async def route(connection: ServerConnection) -> None:
        path = connection.request.path  # type: ignore[union-attr]
        await (broker.market(connection) if path == "/smart-stream" else broker.orders(connection))

    async with serve(route, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield broker, f"ws://127.0.0.1:{port}"


async def test_feed_survives_garbage_and_keeps_ticking(fake: tuple[FakeBroker, str]) -> None:
    broker, base = fake
    bus = EventBus()
    ticks: list[Tick] = []
    bus.subscribe("test", (Tick,), ticks.append)
    feed = MarketFeed(BrokerSettings(), LiveClock(), lambda: CREDENTIALS, bus=bus, url=f"{base}/smart-stream")
    await feed.subscribe([(Exchange.NSE, "3045"), (Exchange.NFO, "58784")], 1)
    await feed.start()
    try:
        await wait_for(lambda: len(ticks) >= 1)
        assert ticks[0].ltp == 978.5 and ticks[0].source == "ws"
        headers = {k.lower(): v for k, v in broker.headers[0].items()}
        assert headers["authorization"] == "Bearer jwt-1" and headers["x-api-key"] == "key-1"
        assert headers["x-client-code"] == "A1234567" and headers["x-feed-token"] == "feed-1"
        request = broker.received[0]
        assert request["action"] == 1 and request["params"]["mode"] == 1
        assert {g["exchangeType"] for g in request["params"]["tokenList"]} == {1, 2}
        skipped = feed.decoder.skipped
        assert skipped["truncated"] == 3 and skipped["unknown_mode"] == 1 and skipped["unknown_exchange"] == 1
        assert feed.stats.errors["E1001"] == 1 and feed.stats.errors["E1002"] == 1
        assert feed.stats.errors["unknown_text"] == 2
        assert feed.connected and feed.stats.reconnects == 0
    finally:
        await feed.stop()
        await bus.close()


async def test_order_socket_skips_bad_messages(fake: tuple[FakeBroker, str]) -> None:
    broker, base = fake
    updates: list[OrderUpdate] = []
    socket = OrderUpdateSocket(
        BrokerSettings(),
        LiveClock(),
        lambda: CREDENTIALS,
        on_update=updates.append,
        url=f"{base}/smart-order-update",
    )
    await socket.start()
    try:
        await wait_for(lambda: len(updates) == 1)
        assert updates[0].status is OrderStatus.FILLED and updates[0].filled_quantity == 75
        assert socket.greetings == 1 and socket.errors["not_json"] == 1 and socket.errors["bad_message"] == 3
        headers = {k.lower(): v for k, v in broker.headers[0].items()}
        assert headers["authorization"] == "Bearer jwt-1"
    finally:
        await socket.stop()


def test_plain_ws_to_a_remote_host_is_refused() -> None:
    from optbot.core.errors import UserError

    with pytest.raises(UserError, match="loopback"):
        MarketFeed(BrokerSettings(), LiveClock(), lambda: CREDENTIALS, url="ws://example.com/smart-stream")
    with pytest.raises(UserError, match="loopback"):
        OrderUpdateSocket(BrokerSettings(order_ws_url="ws://10.1.1.1/x"), LiveClock(), lambda: CREDENTIALS)
    assert MarketFeed(BrokerSettings(), LiveClock(), lambda: CREDENTIALS).url.startswith("wss://")


async def test_debug_logging_never_shows_socket_credentials(
    fake: tuple[FakeBroker, str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    _, base = fake
    caplog.set_level(logging.DEBUG)
    ticks: list[Tick] = []
    feed = MarketFeed(
        BrokerSettings(), LiveClock(), lambda: CREDENTIALS, on_tick=ticks.append, url=f"{base}/smart-stream"
    )
    await feed.subscribe([(Exchange.NSE, "3045")], 1)
    await feed.start()
    try:
        await wait_for(lambda: bool(ticks))
    finally:
        await feed.stop()
    client_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets.server")]
    assert any("optbot" in r.name for r in caplog.records)
    assert not [line for line in client_lines if "jwt-1" in line or "feed-1" in line]

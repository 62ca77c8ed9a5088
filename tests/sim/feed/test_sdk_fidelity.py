"""The official SDK (smartapi-python 1.5.5) talks to the simulator's sockets and decodes our frames."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from optbot.sim.feed import MARKET_FEED_HUB
from optbot.test_kit.sim_feed import sample_quote
from optbot.test_kit.smartapi_sdk import import_sdk_module
from tests.sim.feed.conftest import API_KEY, FeedRig


async def wait_for(condition: Any, seconds: float = 5.0) -> None:
    """Poll a condition set by the SDK's thread (it cannot signal an asyncio.Event safely)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def sdk_logs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the SDK writes ./logs/<date>/app.log on construction


async def test_sdk_websocket_v2_decodes_ltp_quote_and_snap_quote(rig: FeedRig) -> None:
    module = import_sdk_module("smartWebSocketV2")
    quote = sample_quote(token="45000", ltp=123.45, sequence=77)
    rig.market.publish(quote)
    received: list[dict[str, Any]] = []

    class Recorder(module.SmartWebSocketV2):  # type: ignore[name-defined,misc]
        ROOT_URI = f"ws://127.0.0.1:{rig.client.server.port}/smart-stream"

        def on_open(self, wsapp: Any) -> None:
            for mode in (1, 2, 3):
                self.subscribe("fid1", mode, [{"exchangeType": 2, "tokens": ["45000"]}])

        def on_data(self, wsapp: Any, data: dict[str, Any]) -> None:
            received.append(data)

        def on_error(self, *args: Any) -> None:
            return None

    sdk = Recorder("Bearer jwt-a", API_KEY, "A111", "feed-a", max_retry_attempt=0)
    thread = threading.Thread(target=sdk.connect, daemon=True)
    thread.start()
    try:
        await wait_for(lambda: len(received) >= 3)
    finally:
        # websocket-client's close() blocks waiting for the server's reply, so never call it on the loop;
        # its reader thread then ends when the test server shuts down.
        await asyncio.to_thread(sdk.close_connection)
    by_mode = {frame["subscription_mode"]: frame for frame in received}
    assert set(by_mode) == {1, 2, 3}
    for frame in by_mode.values():
        assert frame["token"] == "45000" and frame["exchange_type"] == 2
        assert frame["last_traded_price"] == 12345 and frame["sequence_number"] == 77
        assert frame["exchange_timestamp"] == 1757304000250
    full = by_mode[3]
    assert full["last_traded_quantity"] == quote.last_quantity
    assert full["average_traded_price"] == round(quote.average_price * 100)
    assert full["volume_trade_for_the_day"] == quote.volume
    assert full["total_buy_quantity"] == float(sum(level.quantity for level in quote.bids))
    assert full["closed_price"] == round(quote.close * 100)
    assert full["open_interest"] == quote.open_interest
    assert full["upper_circuit_limit"] == round(quote.upper_circuit * 100)
    assert full["52_week_low_price"] == round(quote.week52_low * 100)
    assert [level["price"] for level in full["best_5_buy_data"]] == [round(b.price * 100) for b in quote.bids]
    assert [level["quantity"] for level in full["best_5_sell_data"]] == [a.quantity for a in quote.asks]
    assert [level["no of orders"] for level in full["best_5_sell_data"]] == [a.orders for a in quote.asks]
    assert by_mode[2]["high_price_of_the_day"] == round(quote.high * 100)


async def test_sdk_websocket_v2_sees_401_on_bad_token(rig: FeedRig) -> None:
    module = import_sdk_module("smartWebSocketV2")
    errors: list[Any] = []

    class Rejected(module.SmartWebSocketV2):  # type: ignore[name-defined,misc]
        ROOT_URI = f"ws://127.0.0.1:{rig.client.server.port}/smart-stream"

        def on_error(self, *args: Any) -> None:
            errors.append(args)

    sdk = Rejected("Bearer wrong", API_KEY, "A111", "feed-a", max_retry_attempt=0)
    thread = threading.Thread(target=sdk.connect, daemon=True)
    thread.start()
    await wait_for(lambda: bool(errors))
    await asyncio.to_thread(thread.join, 5)
    assert not rig.client.app[MARKET_FEED_HUB].connections


async def test_sdk_order_update_socket_receives_ab00(rig: FeedRig) -> None:
    module = import_sdk_module("smartWebSocketOrderUpdate")
    messages: list[str] = []

    class Listener(module.SmartWebSocketOrderUpdate):  # type: ignore[name-defined,misc]
        WEBSOCKET_URI = f"ws://127.0.0.1:{rig.client.server.port}/smart-order-update"
        MAX_CONNECTION_RETRY_ATTEMPTS = 0

        def on_message(self, wsapp: Any, message: Any) -> None:
            messages.append(message if isinstance(message, str) else message.decode())

    sdk = Listener("Bearer jwt-a", API_KEY, "A111", "feed-a")
    thread = threading.Thread(target=sdk.connect, daemon=True)
    thread.start()
    try:
        await wait_for(lambda: bool(messages))
    finally:
        # websocket-client's close() blocks waiting for the server's reply, so never call it on the loop;
        # its reader thread then ends when the test server shuts down.
        await asyncio.to_thread(sdk.close_connection)
    greeting = json.loads(messages[0])
    assert greeting["order-status"] == "AB00" and greeting["user-id"] == "A111"

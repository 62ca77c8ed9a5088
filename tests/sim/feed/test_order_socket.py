from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import WSServerHandshakeError

from optbot.sim.contracts import OrderEvent
from optbot.sim.feed import ORDER_UPDATE_HUB
from optbot.sim.feed.order_socket import EMPTY_ORDER_DATA
from tests.sim.feed.conftest import FeedRig


def bearer(jwt: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt}"}


async def test_greeting_is_ab00_with_empty_order_data(rig: FeedRig) -> None:
    async with rig.client.ws_connect("/smart-order-update", headers=bearer("jwt-a")) as ws:
        greeting = json.loads((await asyncio.wait_for(ws.receive(), 2)).data)
    assert greeting == {
        "user-id": "A111",
        "status-code": "200",
        "order-status": "AB00",
        "error-message": "",
        "orderData": EMPTY_ORDER_DATA,
    }
    assert EMPTY_ORDER_DATA["quantity"] == "0" and EMPTY_ORDER_DATA["price"] == 0.0


@pytest.mark.parametrize(("headers", "status"), [({}, 401), (bearer("unknown"), 401), (bearer("old"), 403)])
async def test_handshake_failures(rig: FeedRig, headers: dict[str, str], status: int) -> None:
    rig.sessions.expired_jwts.add("old")
    with pytest.raises(WSServerHandshakeError) as raised:
        await rig.client.ws_connect("/smart-order-update", headers=headers)
    assert raised.value.status == status


async def test_connection_limit_is_429(rig: FeedRig) -> None:
    sockets = [await rig.client.ws_connect("/smart-order-update", headers=bearer("jwt-a")) for _ in range(3)]
    try:
        with pytest.raises(WSServerHandshakeError) as raised:
            await rig.client.ws_connect("/smart-order-update", headers=bearer("jwt-a"))
        assert raised.value.status == 429
    finally:
        for ws in sockets:
            await ws.close()


async def test_events_reach_only_their_client_and_ping_is_answered(rig: FeedRig) -> None:
    async with (
        rig.client.ws_connect("/smart-order-update", headers={"Authorization": "jwt-a"}) as mine,
        rig.client.ws_connect("/smart-order-update", headers=bearer("jwt-b")) as theirs,
    ):
        for ws in (mine, theirs):
            assert json.loads((await ws.receive()).data)["order-status"] == "AB00"
        (listener,) = rig.order_listeners
        row = {"orderid": "250908000000001", "status": "open", "orderstatus": "open", "quantity": "75"}
        listener(OrderEvent(client_code="A111", status_code="AB01", order_row=row))
        listener(OrderEvent(client_code="A111", status_code="ZZ99", order_row=row))
        message = json.loads((await asyncio.wait_for(mine.receive(), 2)).data)
        assert message["order-status"] == "AB01" and message["orderData"] == row
        assert message["user-id"] == "A111" and message["status-code"] == "200"
        await mine.send_str("ping")
        assert (await asyncio.wait_for(mine.receive(), 2)).data == "pong"
        await theirs.send_str("ping")
        assert (await asyncio.wait_for(theirs.receive(), 2)).data == "pong"
        assert rig.client.app[ORDER_UPDATE_HUB].invalid_events == 1


async def test_fault_closer_drops_order_sockets_too(rig: FeedRig) -> None:
    async with rig.client.ws_connect("/smart-order-update", headers=bearer("jwt-a")) as ws:
        assert json.loads((await ws.receive()).data)["order-status"] == "AB00"
        await rig.faults.drop_connections()
        assert (await asyncio.wait_for(ws.receive(), 2)).type.name in ("CLOSE", "CLOSED")

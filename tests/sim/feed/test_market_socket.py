from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError

from optbot.sim.feed import MARKET_FEED_HUB, decode_frame
from optbot.sim.feed.market_socket import PayloadError, parse_subscription_request
from optbot.test_kit.sim_feed import sample_quote
from tests.sim.feed.conftest import API_KEY, FeedRig


def subscribe(mode: int, tokens: list[str], exchange_type: int = 2, action: int = 1) -> str:
    return json.dumps(
        {
            "correlationID": "abc123",
            "action": action,
            "params": {"mode": mode, "tokenList": [{"exchangeType": exchange_type, "tokens": tokens}]},
        }
    )


async def receive(ws):  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(ws.receive(), 2.0)


async def sync(ws) -> None:  # type: ignore[no-untyped-def]
    """Round-trip a ping so every earlier request has been applied by the server."""
    await ws.send_str("ping")
    assert (await receive(ws)).data == "pong"


async def assert_silent(ws, seconds: float = 0.2) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.receive(), seconds)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Authorization": "Bearer nope"}, "Invalid Auth token"),
        ({"Authorization": ""}, "Invalid Auth token"),
        ({"x-api-key": "wrong"}, "Invalid API Key"),
        ({"x-client-code": "B222"}, "Invalid Client Code"),
        ({"x-feed-token": "feed-b"}, "Invalid Feed Token"),
    ],
)
async def test_bad_handshake_is_401_with_x_error_message(
    rig: FeedRig, changes: dict[str, str], reason: str
) -> None:
    headers = {**rig.feed_headers(), **changes}
    response = await rig.client.get("/smart-stream", headers=headers)
    assert response.status == 401
    assert response.headers["x-error-message"] == f"Invalid Header - {reason}"


async def test_raw_jwt_and_query_param_auth_are_accepted(rig: FeedRig) -> None:
    headers = {**rig.feed_headers(), "Authorization": "jwt-a"}
    async with rig.client.ws_connect("/smart-stream", headers=headers) as ws:
        await ws.send_str("ping")
        assert (await receive(ws)).data == "pong"
    query = {"clientCode": "A111", "feedToken": "feed-a", "apiKey": API_KEY}
    async with rig.client.ws_connect("/smart-stream", params=query) as ws:
        await ws.send_str("ping")
        assert (await receive(ws)).data == "pong"
    with pytest.raises(WSServerHandshakeError) as raised:
        await rig.client.ws_connect("/smart-stream", params={**query, "feedToken": "bad"})
    assert raised.value.status == 401


async def test_subscribe_sends_snapshot_then_one_frame_per_token_and_mode(rig: FeedRig) -> None:
    rig.market.publish(sample_quote(token="45000", ltp=100.0, sequence=1))
    async with rig.client.ws_connect("/smart-stream", headers=rig.feed_headers()) as ws:
        await ws.send_str(subscribe(1, ["45000"]))
        snapshot = await receive(ws)
        assert snapshot.type == WSMsgType.BINARY and len(snapshot.data) == 51
        assert decode_frame(snapshot.data).last_traded_price == 10000
        await ws.send_str(subscribe(3, ["45000"]))
        assert len((await receive(ws)).data) == 379
        await ws.send_str(subscribe(1, ["45000"]))  # duplicate: ignored, no snapshot
        await assert_silent(ws)
        rig.market.publish(sample_quote(token="45000", ltp=101.5, sequence=2))
        frames = sorted([(await receive(ws)).data for _ in range(2)], key=len)
        assert [len(frame) for frame in frames] == [51, 379]
        snap = decode_frame(frames[1])
        assert (snap.mode, snap.last_traded_price, snap.sequence) == (3, 10150, 2)
        assert len(snap.bids) == 5 and snap.bids[0].price == 10145
        await ws.send_str(subscribe(3, ["45000"], action=0))
        await ws.send_str(subscribe(3, ["99999"], action=0))  # not subscribed: ignored
        await sync(ws)
        rig.market.publish(sample_quote(token="45000", ltp=102.0, sequence=3))
        only = await receive(ws)
        assert len(only.data) == 51
        await assert_silent(ws)


async def test_index_alias_token_receives_index_quotes(rig: FeedRig) -> None:
    async with rig.client.ws_connect("/smart-stream", headers=rig.feed_headers()) as ws:
        await ws.send_str(subscribe(2, ["26000"], exchange_type=1))
        await sync(ws)
        rig.market.publish(sample_quote(exchange="NSE", token="99926000", ltp=24850.35, bids=(), asks=()))
        frame = decode_frame((await receive(ws)).data)
        assert (frame.token, frame.exchange_type, frame.last_traded_price) == ("26000", 1, 2485035)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        json.dumps({"action": 2, "params": {"mode": 1, "tokenList": [{"exchangeType": 1, "tokens": ["1"]}]}}),
        json.dumps({"action": 1, "params": {"mode": 4, "tokenList": [{"exchangeType": 1, "tokens": ["1"]}]}}),
        json.dumps({"action": 1, "params": {"mode": 1, "tokenList": [{"exchangeType": 6, "tokens": ["1"]}]}}),
        json.dumps({"action": 1, "params": {"mode": 1, "tokenList": [{"exchangeType": 1, "tokens": [45]}]}}),
        json.dumps({"action": 1, "params": {"mode": 1, "tokenList": []}}),
    ],
)
async def test_bad_payload_gets_e1001_and_the_socket_stays_open(rig: FeedRig, payload: str) -> None:
    async with rig.client.ws_connect("/smart-stream", headers=rig.feed_headers()) as ws:
        await ws.send_str(payload)
        error = json.loads((await receive(ws)).data)
        assert error["errorCode"] == "E1001"
        assert error["errorMessage"] == "Invalid Request Payload"
        await ws.send_str("ping")
        assert (await receive(ws)).data == "pong"


def test_parse_rejects_with_named_field() -> None:
    with pytest.raises(PayloadError, match="params.mode"):
        parse_subscription_request(json.dumps({"action": 1, "params": {"mode": "1", "tokenList": []}}))


async def test_token_limit_gives_e1002_and_changes_nothing(rig: FeedRig) -> None:
    async with rig.client.ws_connect("/smart-stream", headers=rig.feed_headers()) as ws:
        await ws.send_str(subscribe(1, ["1", "2", "3", "4"]))
        await ws.send_str(subscribe(1, ["5", "6"]))
        error = json.loads((await receive(ws)).data)
        assert error == {
            "correlationID": "abc123",
            "errorCode": "E1002",
            "errorMessage": "Invalid Request. Subscription Limit Exceeded",
        }
        hub = rig.client.app[MARKET_FEED_HUB]
        (connection,) = hub.connections
        assert connection.subscription_count == 4
        await ws.send_str(subscribe(1, ["4", "5"]))  # one new: fits exactly
        await assert_silent(ws)
        assert connection.subscription_count == 5


async def test_fourth_connection_of_a_client_gets_e1002(rig: FeedRig) -> None:
    sockets = [await rig.client.ws_connect("/smart-stream", headers=rig.feed_headers()) for _ in range(3)]
    try:
        fourth = await rig.client.ws_connect("/smart-stream", headers=rig.feed_headers())
        message = await receive(fourth)
        assert json.loads(message.data)["errorCode"] == "E1002"
        assert (await receive(fourth)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        other_headers = rig.feed_headers("jwt-b", "B222", "feed-b")
        other_client = await rig.client.ws_connect("/smart-stream", headers=other_headers)
        await other_client.send_str("ping")
        assert (await receive(other_client)).data == "pong"
        await other_client.close()
    finally:
        for ws in sockets:
            await ws.close()


async def test_protocol_ping_is_answered(rig: FeedRig) -> None:
    async with rig.client.ws_connect("/smart-stream", headers=rig.feed_headers(), autoping=False) as ws:
        await ws.ping(b"hb")
        pong = await receive(ws)
        assert pong.type == WSMsgType.PONG and pong.data == b"hb"


async def test_stalled_feed_keeps_socket_open_but_silent(rig: FeedRig) -> None:
    async with rig.client.ws_connect("/smart-stream", headers=rig.feed_headers()) as ws:
        await ws.send_str(subscribe(1, ["45000"]))
        await sync(ws)
        rig.faults.feed_stalled = True
        rig.market.publish(sample_quote(token="45000", ltp=100.0))
        await assert_silent(ws)
        await ws.send_str("ping")
        assert (await receive(ws)).data == "pong"
        rig.faults.feed_stalled = False
        rig.market.publish(sample_quote(token="45000", ltp=100.5))
        assert decode_frame((await receive(ws)).data).last_traded_price == 10050


async def test_fault_closer_drops_connections(rig: FeedRig) -> None:
    async with rig.client.ws_connect("/smart-stream", headers=rig.feed_headers()) as ws:
        await rig.faults.drop_connections()
        assert (await receive(ws)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    await asyncio.sleep(0.05)
    assert not rig.client.app[MARKET_FEED_HUB].connections


async def test_unencodable_quote_is_counted_and_the_stream_continues(rig: FeedRig) -> None:
    async with rig.client.ws_connect("/smart-stream", headers=rig.feed_headers()) as ws:
        await ws.send_str(subscribe(1, ["45000"]))
        await sync(ws)
        rig.market.publish(sample_quote(token="45000", ltp=float("nan")))
        rig.market.publish(sample_quote(token="45000", ltp=float("inf")))
        assert rig.client.app[MARKET_FEED_HUB].encode_errors == 2
        rig.market.publish(sample_quote(token="45000", ltp=99.0))
        assert decode_frame((await receive(ws)).data).last_traded_price == 9900

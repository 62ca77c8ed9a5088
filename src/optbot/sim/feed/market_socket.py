"""The WebSocket 2.0 market-data endpoint `/smart-stream` (reference §5).

Handshake auth by headers (or the browser query-string variant) with HTTP 401 + `x-error-message`
on failure; JSON subscribe/unsubscribe; one binary little-endian frame per (token, mode) per tick;
E1001 for bad payloads and E1002 beyond the token or connection limits; text `ping` → `pong`
(protocol pings are answered by aiohttp's autoping). While the fault injector stalls the feed the
socket stays open and silent, which is exactly what a client's stale-feed watchdog must catch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from optbot.sim.contracts import MarketView, SimQuote
from optbot.sim.feed.codec import (
    EXCHANGE_NAME_BY_TYPE,
    EXCHANGE_TYPE_BY_NAME,
    ExchangeType,
    FrameError,
    SubscriptionMode,
    encode_quote,
)
from optbot.sim.feed.outbox import SocketOutbox
from optbot.sim.feed.ports import FeedFaults, SocketSession, SocketSessionStore, strip_bearer

log = logging.getLogger(__name__)

MARKET_FEED_PATH = "/smart-stream"
DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 3
DEFAULT_MAX_TOKENS_PER_CONNECTION = 1000
MAX_CORRELATION_ID_LENGTH = 10

INVALID_PAYLOAD_CODE = "E1001"
INVALID_PAYLOAD_MESSAGE = "Invalid Request Payload"
LIMIT_EXCEEDED_CODE = "E1002"
LIMIT_EXCEEDED_MESSAGE = "Invalid Request. Subscription Limit Exceeded"

STREAMABLE_MODES = frozenset({SubscriptionMode.LTP, SubscriptionMode.QUOTE, SubscriptionMode.SNAP_QUOTE})

#: WS examples subscribe the 26xxx NSE index tokens; the replay keys indices by the 999xxxxx master tokens.
INDEX_TOKEN_ALIASES: dict[str, str] = {"26000": "99926000", "26009": "99926009", "26017": "99926017"}

SubscriptionKey = tuple[ExchangeType, str]  # (exchange type, token as the client subscribed it)


class PayloadError(ValueError):
    """A subscribe/unsubscribe request that the server answers with E1001."""


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    correlation_id: str
    subscribe: bool
    mode: SubscriptionMode
    keys: tuple[SubscriptionKey, ...]


def parse_subscription_request(text: str) -> SubscriptionRequest:
    """Validate a client request (reference §5); every problem is a PayloadError naming the field."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        raise PayloadError("request is not JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError("request must be a JSON object")
    correlation_id = payload.get("correlationID", "")
    if not isinstance(correlation_id, str):
        raise PayloadError("correlationID must be a string")
    action = payload.get("action")
    if isinstance(action, bool) or action not in (0, 1):
        raise PayloadError("action must be 1 (subscribe) or 0 (unsubscribe)")
    params = payload.get("params")
    if not isinstance(params, dict):
        raise PayloadError("params must be an object")
    mode_value = params.get("mode")
    if isinstance(mode_value, bool) or mode_value not in {int(mode) for mode in STREAMABLE_MODES}:
        raise PayloadError("params.mode must be 1 (LTP), 2 (QUOTE) or 3 (SNAP_QUOTE)")
    token_list = params.get("tokenList")
    if not isinstance(token_list, list) or not token_list:
        raise PayloadError("params.tokenList must be a non-empty list")
    keys: list[SubscriptionKey] = []
    for group in token_list:
        keys.extend(_parse_token_group(group))
    return SubscriptionRequest(
        correlation_id=correlation_id[:MAX_CORRELATION_ID_LENGTH],
        subscribe=action == 1,
        mode=SubscriptionMode(mode_value),
        keys=tuple(dict.fromkeys(keys)),
    )


def _parse_token_group(group: Any) -> list[SubscriptionKey]:
    if not isinstance(group, dict):
        raise PayloadError("each tokenList entry must be an object")
    exchange_value = group.get("exchangeType")
    if not isinstance(exchange_value, int) or isinstance(exchange_value, bool):
        raise PayloadError(f"exchangeType must be an integer, got {exchange_value!r}")
    try:
        exchange_type = ExchangeType(exchange_value)
    except ValueError:
        raise PayloadError(f"unknown exchangeType {exchange_value}") from None
    tokens = group.get("tokens")
    if not isinstance(tokens, list) or not tokens:
        raise PayloadError("tokens must be a non-empty list of strings")
    keys: list[SubscriptionKey] = []
    for token in tokens:
        if not isinstance(token, str) or not token.strip() or len(token) > 24 or not token.isascii():
            raise PayloadError(f"invalid token {token!r}: tokens are non-empty ASCII strings")
        keys.append((exchange_type, token.strip()))
    return keys


def error_message(correlation_id: str, code: str, message: str) -> str:
    return json.dumps({"correlationID": correlation_id, "errorCode": code, "errorMessage": message})


def invalid_payload(correlation_id: str) -> str:
    return error_message(correlation_id, INVALID_PAYLOAD_CODE, INVALID_PAYLOAD_MESSAGE)


@dataclass(eq=False, slots=True)
class FeedConnection:
    """One client socket and its (token, mode) subscriptions."""

    client_code: str
    outbox: SocketOutbox
    subscriptions: dict[SubscriptionKey, set[SubscriptionMode]] = field(default_factory=dict)

    @property
    def subscription_count(self) -> int:
        return sum(len(modes) for modes in self.subscriptions.values())


def market_key(key: SubscriptionKey) -> tuple[str, str]:
    """The replay's (exchange, token) for a subscription key, resolving NSE index aliases."""
    exchange_type, token = key
    exchange = EXCHANGE_NAME_BY_TYPE[exchange_type]
    if exchange_type == ExchangeType.NSE_CM:
        token = INDEX_TOKEN_ALIASES.get(token, token)
    return exchange, token


class MarketFeedHub:
    """Fans replayed quotes out to every subscribed connection, one frame per (token, mode)."""

    def __init__(
        self,
        market: MarketView,
        faults: FeedFaults,
        max_connections_per_client: int = DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        max_tokens_per_connection: int = DEFAULT_MAX_TOKENS_PER_CONNECTION,
    ) -> None:
        self.market = market
        self.faults = faults
        self.max_connections_per_client = max_connections_per_client
        self.max_tokens_per_connection = max_tokens_per_connection
        self.connections: set[FeedConnection] = set()
        self.frames_sent = 0
        self.encode_errors = 0
        self._by_instrument: dict[tuple[str, str], dict[FeedConnection, set[str]]] = defaultdict(dict)
        market.subscribe_quotes(self.on_quote)

    def connections_for(self, client_code: str) -> int:
        return sum(1 for connection in self.connections if connection.client_code == client_code)

    def on_quote(self, quote: SimQuote) -> None:
        if self.faults.feed_stalled:
            return
        subscribers = self._by_instrument.get((quote.exchange, quote.token))
        if not subscribers:
            return
        exchange_type = EXCHANGE_TYPE_BY_NAME.get(quote.exchange)
        if exchange_type is None:
            return
        encoded: dict[tuple[str, SubscriptionMode], bytes] = {}
        for connection, wire_tokens in subscribers.items():
            for wire_token in wire_tokens:
                for mode in sorted(connection.subscriptions.get((exchange_type, wire_token), ())):
                    frame = encoded.get((wire_token, mode))
                    if frame is None:
                        try:
                            frame = encode_quote(quote, mode, wire_token)
                        except (FrameError, ValueError, OverflowError, struct.error) as exc:
                            # A quote the wire format cannot carry must not stop the replay driving us.
                            self.encode_errors += 1
                            log.warning("sim feed: quote not encodable, skipped: %s", exc)
                            return
                        encoded[(wire_token, mode)] = frame
                    connection.outbox.put(frame)
                    self.frames_sent += 1

    def apply(self, connection: FeedConnection, request: SubscriptionRequest) -> str | None:
        """Apply a request; returns an error message to send, or None. Over-limit requests change nothing."""
        if not request.subscribe:
            for key in request.keys:
                modes = connection.subscriptions.get(key)
                if modes is None or request.mode not in modes:
                    continue
                modes.discard(request.mode)
                if not modes:
                    del connection.subscriptions[key]
                    self._unindex(connection, key)
            return None
        new_keys = [
            key for key in request.keys if request.mode not in connection.subscriptions.get(key, set())
        ]
        if connection.subscription_count + len(new_keys) > self.max_tokens_per_connection:
            return error_message(request.correlation_id, LIMIT_EXCEEDED_CODE, LIMIT_EXCEEDED_MESSAGE)
        for key in new_keys:
            connection.subscriptions.setdefault(key, set()).add(request.mode)
            self._by_instrument[market_key(key)].setdefault(connection, set()).add(key[1])
            self._send_snapshot(connection, key, request.mode)
        return None

    def _send_snapshot(
        self, connection: FeedConnection, key: SubscriptionKey, mode: SubscriptionMode
    ) -> None:
        """A new subscriber gets the current state at once rather than waiting for the next change."""
        if self.faults.feed_stalled:
            return
        quote = self.market.quote(*market_key(key))
        if quote is None:
            return
        try:
            connection.outbox.put(encode_quote(quote, mode, key[1]))
        except (FrameError, ValueError, OverflowError, struct.error) as exc:
            self.encode_errors += 1
            log.warning("sim feed: snapshot not encodable, skipped: %s", exc)
            return
        self.frames_sent += 1

    def _unindex(self, connection: FeedConnection, key: SubscriptionKey) -> None:
        instrument = market_key(key)
        subscribers = self._by_instrument.get(instrument)
        if subscribers is None or connection not in subscribers:
            return
        subscribers[connection].discard(key[1])
        if not subscribers[connection]:
            del subscribers[connection]
        if not subscribers:
            del self._by_instrument[instrument]

    def add(self, connection: FeedConnection) -> None:
        self.connections.add(connection)

    def remove(self, connection: FeedConnection) -> None:
        for key in list(connection.subscriptions):
            self._unindex(connection, key)
        connection.subscriptions.clear()
        self.connections.discard(connection)

    async def close_all(self) -> None:
        """Drop every connection (fault injection, shutdown); clients see a server close."""
        for connection in list(self.connections):
            await connection.outbox.socket.close()


MARKET_FEED_HUB: web.AppKey[MarketFeedHub] = web.AppKey("optbot_sim_market_feed_hub", MarketFeedHub)


def _unauthorized(reason: str) -> web.Response:
    return web.Response(status=401, headers={"x-error-message": f"Invalid Header - {reason}"})


def authenticate_feed(request: web.Request, sessions: SocketSessionStore) -> SocketSession | web.Response:
    """Header auth, or the browser query-string variant; a 401 response names the bad credential."""
    headers = request.headers
    query = request.query
    authorization = headers.get("Authorization", "")
    if not authorization and "feedToken" in query:
        api_key = query.get("apiKey", "")
        client_code = query.get("clientCode", "")
        if not sessions.api_key_valid(api_key):
            return _unauthorized("Invalid API Key")
        session = sessions.session_for_feed_token(client_code, query.get("feedToken", ""))
        if session is None:
            return _unauthorized("Invalid Feed Token")
        return session
    session = sessions.session_for_jwt(strip_bearer(authorization)) if authorization.strip() else None
    if session is None:
        return _unauthorized("Invalid Auth token")
    if not sessions.api_key_valid(headers.get("x-api-key", "")):
        return _unauthorized("Invalid API Key")
    client_code = headers.get("x-client-code", "")
    if client_code != session.client_code:
        return _unauthorized("Invalid Client Code")
    if sessions.session_for_feed_token(client_code, headers.get("x-feed-token", "")) is None:
        return _unauthorized("Invalid Feed Token")
    return session


def register_market_feed(
    app: web.Application,
    market: MarketView,
    sessions: SocketSessionStore,
    faults: FeedFaults,
    max_connections_per_client: int = DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    max_tokens_per_connection: int = DEFAULT_MAX_TOKENS_PER_CONNECTION,
) -> None:
    """Route GET /smart-stream on `app`; the hub is reachable as `app[MARKET_FEED_HUB]`."""
    hub = MarketFeedHub(market, faults, max_connections_per_client, max_tokens_per_connection)
    app[MARKET_FEED_HUB] = hub
    faults.register_ws_closer(hub.close_all)

    async def close_on_shutdown(_: web.Application) -> None:
        await hub.close_all()

    app.on_shutdown.append(close_on_shutdown)

    async def handle(request: web.Request) -> web.StreamResponse:
        authenticated = authenticate_feed(request, sessions)
        if isinstance(authenticated, web.Response):
            return authenticated
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        if hub.connections_for(authenticated.client_code) >= hub.max_connections_per_client:
            await socket.send_str(error_message("", LIMIT_EXCEEDED_CODE, LIMIT_EXCEEDED_MESSAGE))
            await socket.close()
            return socket
        connection = FeedConnection(authenticated.client_code, SocketOutbox(socket))
        hub.add(connection)
        connection.outbox.start()
        try:
            await _serve(socket, hub, connection)
        finally:
            hub.remove(connection)
            await connection.outbox.stop()
        return socket

    app.router.add_get(MARKET_FEED_PATH, handle)


async def _serve(socket: web.WebSocketResponse, hub: MarketFeedHub, connection: FeedConnection) -> None:
    async for message in socket:
        if message.type == WSMsgType.TEXT:
            text = message.data
            if text.strip() == "ping":
                connection.outbox.put("pong")
                continue
            try:
                request = parse_subscription_request(text)
            except PayloadError:
                connection.outbox.put(invalid_payload(_correlation_of(text)))
                continue
            reply = hub.apply(connection, request)
            if reply is not None:
                connection.outbox.put(reply)
        elif message.type == WSMsgType.BINARY:
            connection.outbox.put(invalid_payload(""))
        elif message.type == WSMsgType.ERROR:
            return
    await asyncio.sleep(0)


def _correlation_of(text: str) -> str:
    """Best-effort correlationID from a rejected payload, so the client can match the error."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        return ""
    if isinstance(payload, dict) and isinstance(payload.get("correlationID"), str):
        return str(payload["correlationID"])[:MAX_CORRELATION_ID_LENGTH]
    return ""

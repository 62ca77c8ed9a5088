"""SmartAPI WebSocket V2 market-data client (reference §5).

Why it is built this way: the feed is the engine's eyes, and its failure modes are silent. So every
connection sends a text `ping` every 10 s; a watchdog notices when no data frame has arrived for
`feed_stale_seconds` during market hours, re-sends the connection's subscriptions, and reconnects when
`feed_resubscribe_wait_seconds` later still nothing came (meanwhile a REST quote poller keeps prices
flowing for the contracts that matter, marked `source="rest_fallback"`); reconnects use jittered
exponential backoff and never give up, and every reconnect re-sends the full subscription set. After
`engine.max_reconnect_attempts` consecutive attempts without a working socket (one that answered once
subscribed) a circuit breaker opens: `on_circuit` hears it once (the session raises a critical alert) and
attempts slow to one per `engine.reconnect_circuit_cooldown_seconds`, so an outage does not hammer the
broker's handshake; the first working socket closes it and `on_circuit` hears that too. Bad
frames — undecodable, or decodable but impossible (crossed bid/ask, negative price or volume) — are
counted by reason and skipped, never raised or passed on.

Transport timing (heartbeats, stall windows, backoff, poll cadence) runs on `clock.realtime()`: a socket
goes silent in real seconds even when the bot's clock follows a faster replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from optbot.broker.angelone.feed_codec import (
    EXCHANGE_FEED_TYPES,
    FEED_EXCHANGES,
    MODE_LTP,
    MODE_QUOTE,
    MODE_SNAP_QUOTE,
    FeedDecoder,
)
from optbot.broker.angelone.rest import check_base_url
from optbot.broker.angelone.wsbase import (
    Backoff,
    CircuitChange,
    ClientConnection,
    CredentialsProvider,
    ReconnectCircuitBreaker,
    ReconnectCircuitPolicy,
    handshake_headers,
    open_socket,
)
from optbot.broker.errors import BrokerError
from optbot.broker.models import Quote
from optbot.config.sections.broker import BrokerSettings
from optbot.config.sections.engine import EngineSettings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.enums import Exchange
from optbot.core.errors import UserError
from optbot.core.events import FeedHealth, Tick

log = logging.getLogger("optbot.broker.angelone.feed")

TickCallback = Callable[[Tick], None]
HealthCallback = Callable[[FeedHealth], None]
QuoteFallback = Callable[[dict[Exchange, Sequence[str]]], Awaitable[list[Quote]]]
#: Which tokens the REST fallback polls (e.g. held contracts); None polls every subscribed token.
FallbackTokens = Callable[[], dict[Exchange, list[str]]]
MarketHours = Callable[[datetime], bool]
AuthErrorCallback = Callable[[str], None]
#: Hears a socket's reconnect circuit breaker open (after the attempts cap) and close again.
CircuitCallback = Callable[[CircuitChange], None]


class SubscriptionLimitExceeded(ValueError):
    """More (token, mode) pairs than `max_ws_connections * max_tokens_per_connection` allow."""


@dataclass(frozen=True, slots=True, order=True)
class Subscription:
    exchange_type: int
    token: str
    mode: int


class SubscriptionManager:
    """Places each (token, mode) pair on one connection, de-duplicated, within the per-socket cap."""

    def __init__(self, max_connections: int, max_per_connection: int) -> None:
        self.max_connections = max_connections
        self.max_per_connection = max_per_connection
        self._by_connection: list[dict[Subscription, None]] = [{} for _ in range(max_connections)]
        self._where: dict[Subscription, int] = {}

    def __len__(self) -> int:
        return len(self._where)

    def connection_of(self, subscription: Subscription) -> int | None:
        return self._where.get(subscription)

    def for_connection(self, index: int) -> list[Subscription]:
        return list(self._by_connection[index])

    def active_connections(self) -> list[int]:
        return [index for index, subs in enumerate(self._by_connection) if subs]

    def all(self) -> list[Subscription]:
        return list(self._where)

    def add(self, subscriptions: Iterable[Subscription]) -> dict[int, list[Subscription]]:
        """Returns what is new, per connection. All-or-nothing when the limits would be exceeded."""
        new = [s for s in dict.fromkeys(subscriptions) if s not in self._where]
        free = sum(self.max_per_connection - len(subs) for subs in self._by_connection)
        if len(new) > free:
            raise SubscriptionLimitExceeded(
                f"cannot subscribe {len(new)} more (token, mode) pairs: {len(self._where)} in use, limit "
                f"{self.max_connections} connections x {self.max_per_connection} (reference §5)"
            )
        placed: dict[int, list[Subscription]] = {}
        for subscription in new:
            index = next(
                i for i, subs in enumerate(self._by_connection) if len(subs) < self.max_per_connection
            )
            self._by_connection[index][subscription] = None
            self._where[subscription] = index
            placed.setdefault(index, []).append(subscription)
        return placed

    def remove(self, subscriptions: Iterable[Subscription]) -> dict[int, list[Subscription]]:
        removed: dict[int, list[Subscription]] = {}
        for subscription in dict.fromkeys(subscriptions):
            index = self._where.pop(subscription, None)
            if index is None:
                continue
            del self._by_connection[index][subscription]
            removed.setdefault(index, []).append(subscription)
        return removed


def subscription_messages(
    subscriptions: Sequence[Subscription], action: int, batch_size: int, correlation_id: str = "optbot"
) -> list[str]:
    """Reference §5 JSON, grouped by mode and exchange type, at most `batch_size` tokens each."""
    grouped: dict[int, dict[int, list[str]]] = {}
    for subscription in sorted(subscriptions):
        grouped.setdefault(subscription.mode, {}).setdefault(subscription.exchange_type, []).append(
            subscription.token
        )
    messages: list[str] = []
    for mode, by_exchange in sorted(grouped.items()):
        pending: list[tuple[int, str]] = [
            (exchange_type, token)
            for exchange_type, tokens in sorted(by_exchange.items())
            for token in tokens
        ]
        for start in range(0, len(pending), batch_size):
            token_list: dict[int, list[str]] = {}
            for exchange_type, token in pending[start : start + batch_size]:
                token_list.setdefault(exchange_type, []).append(token)
            payload = {
                "correlationID": correlation_id[:10],
                "action": action,
                "params": {
                    "mode": mode,
                    "tokenList": [
                        {"exchangeType": exchange_type, "tokens": tokens}
                        for exchange_type, tokens in token_list.items()
                    ],
                },
            }
            messages.append(orjson.dumps(payload).decode())
    return messages


@dataclass
class FeedStats:
    frames: int = 0
    ticks: int = 0
    reconnects: int = 0
    stale_reconnects: int = 0
    stalls: int = 0
    resubscribes: int = 0
    fallback_ticks: int = 0
    pongs: int = 0
    auth_failures: int = 0
    circuit_opens: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class _Connection:
    """One socket: connect, resubscribe, read, heartbeat, watchdog; reconnect forever."""

    def __init__(self, feed: MarketFeed, index: int) -> None:
        self.feed = feed
        self.index = index
        self.socket: ClientConnection | None = None
        self.last_data_at: float = feed.transport.monotonic()
        self.last_message_at: float = feed.transport.monotonic()
        self.connected = False
        self.stale = False
        #: A data frame arrived since this socket (re)connected and since its last stall.
        self.receiving = False
        self.task: asyncio.Task[None] | None = None
        self.backoff = Backoff(
            feed.settings.reconnect_initial_delay_seconds, feed.settings.reconnect_max_delay_seconds, feed.rng
        )
        self.circuit = ReconnectCircuitBreaker(feed.circuit_policy)
        #: This session's socket is subscribed and the server has answered on it (a data frame or a
        #: pong): the attempt worked. A handshake that succeeds and then dies silent does not count.
        self.working = False

    async def run(self) -> None:
        feed = self.feed
        first = True
        while feed.running:
            try:
                if not first:
                    await self._before_reconnect()
                    if not feed.running:
                        return
                first = False
                await self._session()
            except InvalidStatus as exc:
                message = (
                    exc.response.headers.get("x-error-message", "") or f"HTTP {exc.response.status_code}"
                )
                feed.stats.auth_failures += 1
                feed.count_error(f"handshake_{exc.response.status_code}")
                log.error("feed connection %d refused: %s", self.index, message)
                if feed.on_auth_error is not None:
                    feed.on_auth_error(message)
            except (OSError, TimeoutError, WebSocketException) as exc:
                feed.count_error(type(exc).__name__)
                log.warning("feed connection %d lost: %s", self.index, type(exc).__name__)
            except (BrokerError, UserError) as exc:
                # e.g. no session yet: keep trying, the session may come back (never give up).
                feed.count_error(type(exc).__name__)
                log.warning("feed connection %d cannot connect: %s", self.index, exc)
            except Exception:
                # Whatever broke (a callback, a bug), this loop is the only thing that reconnects: it
                # must never end while the feed runs.
                feed.count_error("unexpected")
                log.exception("feed connection %d failed unexpectedly; reconnecting", self.index)
            finally:
                self.receiving = False
                if self.connected:
                    self.connected = False
                    feed.socket_closed()
                    feed.publish_health(self, "disconnected")
                self.socket = None
                if feed.running:
                    self._count_attempt()

    def _count_attempt(self) -> None:
        """A session ended: a working one starts the outage clock, any other is one failed attempt."""
        now = self.feed.transport.monotonic()
        if self.working:
            self.working = False
            self.circuit.lost(now)
        elif self.circuit.failed(now):
            self.feed.circuit_opened(self)

    async def _before_reconnect(self) -> None:
        feed = self.feed
        silent = feed.transport.monotonic() - self.last_data_at
        if silent > feed.settings.feed_stale_seconds and feed.in_market_hours():
            # Still down during market hours: keep prices flowing over REST meanwhile.
            self.stale = True
            feed.start_fallback()
        delay = self.circuit.next_delay(self.backoff)
        log.info("feed connection %d: reconnecting in %.2fs", self.index, delay)
        await feed.transport.sleep(delay)
        feed.stats.reconnects += 1

    async def _session(self) -> None:
        feed = self.feed
        headers = handshake_headers(feed.credentials())
        async with open_socket(
            feed.url,
            headers,
            feed.settings.ws_open_timeout_seconds,
            "broker.market_ws_url",
            ping_interval=feed.settings.heartbeat_interval_seconds,
            ping_timeout=feed.settings.heartbeat_timeout_seconds,
            max_size=2**20,
        ) as socket:
            self.socket = socket
            self.connected = True
            self.receiving = False
            self.working = False
            now = feed.transport.monotonic()
            self.last_data_at = now
            self.last_message_at = now
            self.backoff.reset()
            subscriptions = feed.manager.for_connection(self.index)
            for message in subscription_messages(subscriptions, 1, feed.settings.subscribe_batch_size):
                await socket.send(message)
            feed.socket_up.set()
            feed.publish_health(self, f"connected, {len(subscriptions)} subscriptions")
            helpers = [
                asyncio.create_task(self._heartbeat(socket)),
                asyncio.create_task(self._guarded_watchdog(socket)),
            ]
            try:
                async for incoming in socket:
                    self._on_message(incoming)
            finally:
                for helper in helpers:
                    helper.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)

    def _on_message(self, message: str | bytes) -> None:
        feed = self.feed
        now = feed.transport.monotonic()
        self.last_message_at = now
        if isinstance(message, bytes):
            self.last_data_at = now
            if not self.working:
                self._answered(now)
            if not self.receiving:
                was_stale = self.stale
                self.stale = False
                self.receiving = True
                feed.publish_health(self, "data flowing again" if was_stale else "receiving data")
            feed.on_frame(message)
            return
        text = message.strip()
        if text == "pong":
            feed.stats.pongs += 1
            if not self.working:
                self._answered(now)
            return
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            feed.count_error("unknown_text")
            log.warning("feed: unexpected text message (%d chars)", len(text))
            return
        code = str(body.get("errorCode", "")) if isinstance(body, dict) else ""
        if code in ("E1001", "E1002"):
            feed.count_error(code)
            log.error("feed: server error %s: %s", code, body.get("errorMessage", ""))
        else:
            feed.count_error("unknown_text")
            log.warning("feed: unexpected JSON message %s", text[:200])

    def _answered(self, now: float) -> None:
        """The first data frame or pong on a subscribed socket: the attempt worked, the breaker resets.
        (A server error such as E1002 is an answer too, but not a working socket.)"""
        self.working = True
        outage = self.circuit.succeeded(now)
        if outage is not None:
            self.feed.circuit_closed(self, *outage)

    async def _heartbeat(self, socket: ClientConnection) -> None:
        interval = self.feed.settings.heartbeat_interval_seconds
        while True:
            await self.feed.transport.sleep(interval)
            await socket.send("ping")

    async def _guarded_watchdog(self, socket: ClientConnection) -> None:
        """A watchdog that fails is a feed nobody watches: count it and reconnect instead."""
        try:
            await self._watchdog(socket)
        except (asyncio.CancelledError, ConnectionClosed):
            raise
        except Exception:
            self.feed.count_error("watchdog")
            log.exception("feed connection %d: watchdog failed; reconnecting", self.index)
            await socket.close()

    async def _watchdog(self, socket: ClientConnection) -> None:
        """Silence in market hours: first re-send the subscriptions on this socket (a server that lost
        them answers at once); if `feed_resubscribe_wait_seconds` later still no data, reconnect."""
        feed = self.feed
        settings = feed.settings
        stale_after = settings.feed_stale_seconds
        check = min(1.0, stale_after / 4, settings.feed_resubscribe_wait_seconds / 4)
        resubscribed_at: float | None = None
        while True:
            await feed.transport.sleep(check)
            now = feed.transport.monotonic()
            if now - self.last_message_at > settings.heartbeat_timeout_seconds:
                feed.count_error("heartbeat_timeout")
                log.warning(
                    "feed connection %d: nothing received for %.1fs", self.index, now - self.last_message_at
                )
                await socket.close()
                return
            silent = now - self.last_data_at
            if silent <= stale_after or not feed.in_market_hours():
                resubscribed_at = None
                continue
            if resubscribed_at is None:
                self._mark_stalled(silent)
                await self._resubscribe(socket)
                resubscribed_at = now
            elif now - resubscribed_at >= settings.feed_resubscribe_wait_seconds:
                feed.stats.stale_reconnects += 1
                feed.publish_health(
                    self, f"stalled: no data frame for {silent:.1f}s after resubscribing; reconnecting"
                )
                await socket.close()
                return

    def _mark_stalled(self, silent: float) -> None:
        feed = self.feed
        self.receiving = False
        if not self.stale:
            self.stale = True
            feed.stats.stalls += 1
        feed.publish_health(self, f"stalled: no data frame for {silent:.1f}s; resubscribing")
        feed.start_fallback()

    async def _resubscribe(self, socket: ClientConnection) -> None:
        feed = self.feed
        subscriptions = feed.manager.for_connection(self.index)
        feed.stats.resubscribes += 1
        messages = subscription_messages(subscriptions, 0, feed.settings.subscribe_batch_size)
        messages += subscription_messages(subscriptions, 1, feed.settings.subscribe_batch_size)
        for message in messages:
            await socket.send(message)


class MarketFeed:
    """Subscribe with `subscribe(...)`; Ticks go to `on_tick` and/or `bus.publish_nowait`."""

    def __init__(
        self,
        settings: BrokerSettings,
        clock: Clock,
        credentials: CredentialsProvider,
        *,
        on_tick: TickCallback | None = None,
        bus: EventBus | None = None,
        on_health: HealthCallback | None = None,
        quote_fallback: QuoteFallback | None = None,
        fallback_tokens: FallbackTokens | None = None,
        market_hours: MarketHours | None = None,
        on_auth_error: AuthErrorCallback | None = None,
        on_circuit: CircuitCallback | None = None,
        circuit: ReconnectCircuitPolicy | None = None,
        url: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.transport = clock.realtime()
        self.credentials = credentials
        self.url = check_base_url(url or settings.market_ws_url, "broker.market_ws_url")
        self.on_tick = on_tick
        self.bus = bus
        self.on_health = on_health
        self.quote_fallback = quote_fallback
        self.fallback_tokens = fallback_tokens
        self.market_hours = market_hours
        self.on_auth_error = on_auth_error
        self.on_circuit = on_circuit
        self.circuit_policy = circuit or ReconnectCircuitPolicy.from_settings(EngineSettings())
        self.rng = rng or random.Random()
        self.manager = SubscriptionManager(settings.max_ws_connections, settings.max_tokens_per_connection)
        self.decoder = FeedDecoder()
        self.stats = FeedStats()
        self.running = False
        self._connections: dict[int, _Connection] = {}
        self._fallback_task: asyncio.Task[None] | None = None
        #: Set while at least one socket has completed its handshake and sent its subscriptions (the
        #: earliest reliable sign of a working connection: heartbeat pongs and market data may take
        #: a heartbeat interval or not come at all outside market hours).
        self.socket_up = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self.running = True
        for index in self.manager.active_connections():
            self._ensure_connection(index)

    async def stop(self) -> None:
        self.running = False
        tasks = [c.task for c in self._connections.values() if c.task is not None]
        for connection in self._connections.values():
            if connection.socket is not None:
                with contextlib.suppress(Exception):
                    await connection.socket.close()
        if self._fallback_task is not None:
            tasks.append(self._fallback_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._connections.clear()
        self._fallback_task = None
        self.socket_up.clear()

    def _ensure_connection(self, index: int) -> _Connection:
        connection = self._connections.get(index)
        if connection is None:
            connection = _Connection(self, index)
            self._connections[index] = connection
        if self.running and (connection.task is None or connection.task.done()):
            connection.task = asyncio.create_task(connection.run(), name=f"market-feed-{index}")
        return connection

    @property
    def connected(self) -> bool:
        return bool(self._connections) and all(c.connected for c in self._connections.values())

    @property
    def connected_sockets(self) -> int:
        """How many sockets have completed their handshake and are open now."""
        return sum(1 for c in self._connections.values() if c.connected)

    def socket_closed(self) -> None:
        """A socket went down: `socket_up` holds only while another one is still open."""
        if not self.connected_sockets:
            self.socket_up.clear()

    async def wait_connected(self, seconds: float) -> bool:
        """Wait up to `seconds` of transport time for a socket to connect and subscribe; True once one
        has. Returns at once when one already is, so a healthy start costs only the connect time."""
        if self.socket_up.is_set():
            return True
        waiter = asyncio.create_task(self.socket_up.wait())
        timer = asyncio.create_task(self.transport.sleep(seconds))
        try:
            await asyncio.wait((waiter, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, timer):
                task.cancel()
            await asyncio.gather(waiter, timer, return_exceptions=True)
        return self.socket_up.is_set()

    @property
    def receiving(self) -> bool:
        """Every socket is up and has delivered data since it (re)connected and since any stall."""
        return bool(self._connections) and all(
            c.connected and c.receiving for c in self._connections.values()
        )

    @property
    def interrupted(self) -> bool:
        """A socket is down, or stalled (connected but silent past the stale window)."""
        return any(not c.connected or c.stale for c in self._connections.values())

    @property
    def stalled(self) -> bool:
        """A socket went silent past the stale window in market hours and has not delivered since."""
        return any(c.stale for c in self._connections.values())

    @property
    def circuit_open(self) -> bool:
        """A socket's reconnect circuit breaker is open: its attempts run at the cool-down pace."""
        return any(c.circuit.open for c in self._connections.values())

    @property
    def fallback_running(self) -> bool:
        return self._fallback_task is not None and not self._fallback_task.done()

    # -- subscriptions ----------------------------------------------------------------------------

    def set_symbol(self, token: str, symbol: str) -> None:
        self.decoder.symbols[token] = symbol

    @staticmethod
    def _subscriptions(items: Iterable[tuple[Exchange | int, str]], mode: int) -> list[Subscription]:
        if mode not in (MODE_LTP, MODE_QUOTE, MODE_SNAP_QUOTE):
            raise ValueError(f"feed mode must be 1 (LTP), 2 (QUOTE) or 3 (SNAP_QUOTE), got {mode}")
        result = []
        for exchange, token in items:
            if isinstance(exchange, Exchange):
                exchange_type = EXCHANGE_FEED_TYPES[exchange]
            else:
                exchange_type = int(exchange)
                if exchange_type not in FEED_EXCHANGES:
                    raise ValueError(f"unknown feed exchange type {exchange}")
            token_text = str(token).strip()
            if not token_text or len(token_text) > 25:
                raise ValueError(f"bad feed token {token!r}")
            result.append(Subscription(exchange_type, token_text, mode))
        return result

    async def subscribe(self, items: Iterable[tuple[Exchange | int, str]], mode: int = MODE_QUOTE) -> int:
        """Add subscriptions (duplicates ignored); returns how many were new."""
        placed = self.manager.add(self._subscriptions(items, mode))
        for index, subscriptions in placed.items():
            connection = self._connections.get(index)
            if connection is not None and connection.socket is not None and connection.connected:
                await self._send(connection, subscription_messages(subscriptions, 1, self._batch))
            elif self.running:
                self._ensure_connection(index)
        return sum(len(subs) for subs in placed.values())

    async def unsubscribe(self, items: Iterable[tuple[Exchange | int, str]], mode: int = MODE_QUOTE) -> int:
        removed = self.manager.remove(self._subscriptions(items, mode))
        for index, subscriptions in removed.items():
            connection = self._connections.get(index)
            if connection is not None and connection.socket is not None and connection.connected:
                await self._send(connection, subscription_messages(subscriptions, 0, self._batch))
        return sum(len(subs) for subs in removed.values())

    @property
    def _batch(self) -> int:
        return self.settings.subscribe_batch_size

    async def _send(self, connection: _Connection, messages: list[str]) -> None:
        socket = connection.socket
        if socket is None:
            return
        try:
            for message in messages:
                await socket.send(message)
        except ConnectionClosed:
            # The reconnect resubscribes everything from the manager, so nothing is lost.
            self.count_error("send_on_closed")

    # -- inbound ----------------------------------------------------------------------------------

    def count_error(self, reason: str) -> None:
        self.stats.errors[reason] += 1

    def on_frame(self, frame: bytes) -> None:
        """One binary frame -> one Tick (the hot path: attribute lookups kept to a minimum)."""
        stats = self.stats
        stats.frames += 1
        tick = self.decoder.try_tick(frame, self.clock.now_utc())
        if tick is None:
            return
        stats.ticks += 1
        on_tick = self.on_tick
        if on_tick is not None:
            try:
                on_tick(tick)
            except Exception:
                self.count_error("tick_callback")
                log.exception("feed: tick callback failed")
        bus = self.bus
        if bus is not None:
            bus.publish_nowait(tick)

    def _emit(self, tick: Tick) -> None:
        if self.on_tick is not None:
            try:
                self.on_tick(tick)
            except Exception:
                self.count_error("tick_callback")
                log.exception("feed: tick callback failed")
        if self.bus is not None:
            self.bus.publish_nowait(tick)

    def in_market_hours(self) -> bool:
        """A failing `market_hours` callback counts as market hours: better a watched feed than a dead
        watchdog (it is counted and logged once)."""
        now = self.clock.now_utc()
        if self.market_hours is not None:
            try:
                return bool(self.market_hours(now))
            except Exception:
                self.count_error("market_hours")
                if self.stats.errors["market_hours"] == 1:
                    log.exception("feed: the market-hours callback failed; treating now as market hours")
                return True
        local = self.clock.now_ist()
        if local.weekday() >= 5:
            return False
        return self.settings.market_open_time_ist <= local.time() < self.settings.market_close_time_ist

    def publish_health(self, connection: _Connection, detail: str) -> None:
        stale = self.transport.monotonic() - connection.last_data_at
        event = FeedHealth(
            self.clock.now_utc(),
            connected=connection.connected,
            stale_seconds=round(stale, 3),
            reconnects=self.stats.reconnects,
            detail=f"connection {connection.index}: {detail}",
        )
        if self.on_health is not None:
            self.on_health(event)
        if self.bus is not None:
            self.bus.publish_nowait(event)

    def circuit_opened(self, connection: _Connection) -> None:
        breaker = connection.circuit
        change = CircuitChange(
            True,
            connection.index,
            breaker.failures,
            breaker.down_seconds(self.transport.monotonic()),
            breaker.policy.cooldown_seconds,
        )
        self.stats.circuit_opens += 1
        log.critical(
            "feed connection %d: %d reconnect attempts in a row failed (%.0f s down); circuit open, "
            "retrying every %g s",
            change.connection,
            change.failed_attempts,
            change.down_seconds,
            change.cooldown_seconds,
        )
        self.publish_health(
            connection,
            f"reconnect circuit open after {change.failed_attempts} failed attempts; retrying every "
            f"{change.cooldown_seconds:g} s",
        )
        self._report_circuit(change)

    def circuit_closed(self, connection: _Connection, failed_attempts: int, down_seconds: float) -> None:
        change = CircuitChange(
            False, connection.index, failed_attempts, down_seconds, connection.circuit.policy.cooldown_seconds
        )
        log.warning(
            "feed connection %d: reconnected after %d failed attempts (%.0f s down); circuit closed",
            change.connection,
            failed_attempts,
            down_seconds,
        )
        self._report_circuit(change)

    def _report_circuit(self, change: CircuitChange) -> None:
        """A failing listener must not stop the reconnect loop that called it."""
        if self.on_circuit is None:
            return
        try:
            self.on_circuit(change)
        except Exception:
            self.count_error("circuit_callback")
            log.exception("feed: the circuit-breaker callback failed")

    # -- REST fallback ----------------------------------------------------------------------------

    def _any_stale(self) -> bool:
        now = self.transport.monotonic()
        limit = self.settings.feed_stale_seconds
        return any(c.stale or now - c.last_data_at > limit for c in self._connections.values())

    def start_fallback(self) -> None:
        if self.quote_fallback is None or not self.running:
            return
        if self._fallback_task is None or self._fallback_task.done():
            self._fallback_task = asyncio.create_task(self._fallback_loop(), name="market-feed-rest-fallback")

    def _fallback_targets(self) -> dict[Exchange, list[str]]:
        if self.fallback_tokens is not None:
            return {exchange: list(tokens) for exchange, tokens in self.fallback_tokens().items() if tokens}
        tokens: dict[Exchange, list[str]] = {}
        for subscription in self.manager.all():
            bucket = tokens.setdefault(FEED_EXCHANGES[subscription.exchange_type], [])
            if subscription.token not in bucket:
                bucket.append(subscription.token)
        return tokens

    async def _fallback_loop(self) -> None:
        """Poll REST quotes (every `rest_fallback_interval_seconds` of real time, through the client's
        rate limiter) for the fallback tokens while any connection is stale."""
        assert self.quote_fallback is not None
        log.warning("feed stale: publishing REST quotes (source=rest_fallback) until frames resume")
        while self.running and self._any_stale() and self.in_market_hours():
            try:
                tokens = self._fallback_targets()
            except Exception:
                self.count_error("fallback_tokens")
                log.exception("REST fallback: choosing the tokens failed")
                tokens = {}
            if tokens:
                try:
                    quotes = await self.quote_fallback(dict(tokens.items()))
                except Exception as exc:
                    self.count_error(f"fallback_{type(exc).__name__}")
                    log.warning("REST quote fallback failed: %s", type(exc).__name__)
                    quotes = []
                now = self.clock.now_utc()
                for quote in quotes:
                    self.stats.fallback_ticks += 1
                    self._emit(
                        Tick(
                            now,
                            quote.token,
                            quote.exchange,
                            self.decoder.symbols.get(quote.token, quote.symbol or quote.token),
                            quote.ltp,
                            quote.exchange_time,
                            quote.best_bid,
                            quote.best_ask,
                            quote.volume,
                            None,
                            quote.open_interest,
                            "rest_fallback",
                        )
                    )
            await self.transport.sleep(self.settings.rest_fallback_interval_seconds)
        log.info("feed: REST quote fallback stopped")

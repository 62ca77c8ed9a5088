"""An HTTP/1.1 keep-alive transport for httpx that puts a request on the socket in one write.

Why not httpx's default (httpcore on anyio): on an order's path it costs about 0.3 ms of CPU between
httpx handing the request over and its body reaching the socket, and it yields to the event loop three
times in that stretch (the connection lock's checkpoint, then a checkpoint before each of its two
socket writes, headers and body), so whatever else is ready on the loop (the market feed's ticks)
runs between the decision to send an order and its send. Here the pooled connection is taken and the
whole request (headers and body, serialised by h11, the parser httpcore uses) is handed to the socket
in one `transport.write`, with no await in between; only then does the request wait, for the reply.

Scope: what the SmartAPI client needs. HTTP/1.1 over TCP or TLS (certificates always verified, with
httpx's own default context), at most `max_connections` requests in flight and as many idle
keep-alive connections, an idle connection reused for `keepalive_expiry_seconds` (httpx's default 5 s),
the request's `timeout` extension (connect, write, read, pool) and httpx's exceptions, so callers
handle failures exactly as with the default transport. A connection that is not clean after an
exchange (an error, a cancellation, `Connection: close`) is closed, never reused. The request's
`trace` extension gets httpcore's event names for the moments it shares with it.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

import h11
import httpx

from optbot.core.clock import Clock, LiveClock

#: (scheme, host, port) of a connection.
Origin = tuple[bytes, bytes, int]
DEFAULT_PORTS = {b"http": 80, b"https": 443}
HEADERS_STARTED = "http11.send_request_headers.started"
BODY_COMPLETE = "http11.send_request_body.complete"


def _seconds(timeouts: dict[str, Any], name: str) -> float | None:
    value = timeouts.get(name)
    return None if value is None else float(value)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: an h11 state machine fed by the loop's protocol callbacks."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.busy = False
        self.idle_since = 0.0
        self._eof_fed = False
        self._wake: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    # -- loop callbacks ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # bytes nobody asked for: the connection can no longer be trusted
            self.close()
            return
        self.h11.receive_data(data)
        self._notify()

    def eof_received(self) -> bool | None:
        self._feed_eof()
        self._notify()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._notify()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- used by the transport --------------------------------------------------------------------

    def reusable(self) -> bool:
        return (
            not self.lost
            and self.transport is not None
            and not self.transport.is_closing()
            and self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
        )

    async def send(self, data: bytes, within_seconds: float | None) -> None:
        """Hand `data` to the socket in one write; wait only if the kernel's buffer is full."""
        if self.transport is None or self.lost or self.transport.is_closing():
            raise httpx.WriteError("the connection is closed")
        self.transport.write(data)
        drained = self._drained
        if drained is not None and not drained.done():
            try:
                async with asyncio.timeout(within_seconds):
                    await drained
            except TimeoutError:
                raise httpx.WriteTimeout("timed out writing the request") from None
        if self.lost:
            raise httpx.WriteError("the connection was lost while writing")

    async def next_event(self, within_seconds: float | None) -> Any:
        """The next h11 event from the server, waiting up to `within_seconds` for bytes."""
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None
            if event is not h11.NEED_DATA:
                return event
            if self.lost:
                if self._eof_fed:
                    raise httpx.RemoteProtocolError("the connection was lost during the reply")
                self._feed_eof()
                continue
            self._wake = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(within_seconds):
                    await self._wake
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for the reply") from None
            finally:
                self._wake = None

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    def _feed_eof(self) -> None:
        if not self._eof_fed:
            self._eof_fed = True
            try:
                self.h11.receive_data(b"")
            except RuntimeError:  # h11 refuses data in a closed state; next_event reports it
                pass

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)


class Http11Transport(httpx.AsyncBaseTransport):
    """httpx transport: keep-alive HTTP/1.1, one write per request. `clock` times idle connections:
    by default real time, whatever clock a simulation runs on, because a server closes an idle
    connection on its own real-time timeout (and a replay at 3,000x would otherwise expire every
    connection between two requests, opening thousands of short-lived sockets)."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        max_connections: int = 10,
        keepalive_expiry_seconds: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self._clock = clock or LiveClock()
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry_seconds
        self._ssl_context = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[Origin, list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        origin = self._origin(request.url)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        await self._take_slot(_seconds(timeouts, "pool"))
        try:
            connection = self._idle_connection(origin) or await self._connect(
                origin, _seconds(timeouts, "connect")
            )
        except BaseException:
            self._slots.release()
            raise
        connection.busy = True
        self._busy.add(connection)
        try:
            response = await self._exchange(connection, request, body, timeouts)
        except BaseException:
            connection.close()
            raise
        finally:
            connection.busy = False
            self._busy.discard(connection)
            self._slots.release()
        self._keep_or_close(connection)
        return response

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        for connection in list(self._busy):
            connection.close()
        self._busy.clear()

    # -- pool -------------------------------------------------------------------------------------

    @staticmethod
    def _origin(url: httpx.URL) -> Origin:
        scheme = url.raw_scheme
        if scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"{url.scheme!r} is not http or https")
        if not url.raw_host:
            raise httpx.UnsupportedProtocol(f"{url} has no host")
        return scheme, url.raw_host, url.port or DEFAULT_PORTS[scheme]

    async def _take_slot(self, within_seconds: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns without suspending
            return
        try:
            async with asyncio.timeout(within_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"all {self._max_connections} connections stayed busy") from None

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        """The most recently used idle connection still fit to carry a request, closing the others
        it passes (lost, unclean or idle longer than the keep-alive expiry)."""
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = self._clock.monotonic()
        while idle:
            connection = idle.pop()
            if connection.reusable() and now - connection.idle_since <= self._keepalive_expiry:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, within_seconds: float | None) -> _Connection:
        scheme, host, port = origin
        context = self._tls_context() if scheme == b"https" else None
        connection = _Connection(origin)
        loop = asyncio.get_running_loop()
        name = host.decode("ascii")
        try:
            async with asyncio.timeout(within_seconds):
                await loop.create_connection(
                    lambda: connection, name, port, ssl=context, server_hostname=name if context else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {name}:{port}") from None
        except OSError as exc:  # refused, unreachable, DNS, TLS verification (ssl.SSLError)
            raise httpx.ConnectError(f"cannot connect to {name}:{port}: {exc}") from None
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()  # verifies, as httpx does by default
        return self._ssl_context

    def _keep_or_close(self, connection: _Connection) -> None:
        if connection.h11.our_state is h11.DONE and connection.h11.their_state is h11.DONE:
            connection.h11.start_next_cycle()
        idle = self._idle.setdefault(connection.origin, [])
        if self._closed or not connection.reusable() or len(idle) >= self._max_connections:
            connection.close()
            return
        connection.idle_since = self._clock.monotonic()
        idle.append(connection)

    # -- one exchange -----------------------------------------------------------------------------

    async def _exchange(
        self, connection: _Connection, request: httpx.Request, body: bytes, timeouts: dict[str, Any]
    ) -> httpx.Response:
        trace = request.extensions.get("trace")
        if trace is not None:
            await trace(HEADERS_STARTED, {"request": request})
        state = connection.h11
        try:
            head = state.send(
                h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw)
            )
            data = state.send(h11.Data(data=body)) if body else b""
            end = state.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from None
        await connection.send((head or b"") + (data or b"") + (end or b""), _seconds(timeouts, "write"))
        if trace is not None:
            await trace(BODY_COMPLETE, {"request": request})
        return await self._response(connection, _seconds(timeouts, "read"))

    @staticmethod
    async def _response(connection: _Connection, within_seconds: float | None) -> httpx.Response:
        while True:
            event = await connection.next_event(within_seconds)
            if isinstance(event, h11.Response):
                break
            if isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            # h11.InformationalResponse (1xx): the final reply follows
        chunks: list[bytes] = []
        while True:
            part = await connection.next_event(within_seconds)
            if isinstance(part, h11.Data):
                chunks.append(bytes(part.data))
            elif isinstance(part, h11.EndOfMessage):
                break
            elif isinstance(part, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("the server closed the connection during the reply")
        return httpx.Response(
            event.status_code,
            headers=event.headers.raw_items(),
            stream=httpx.ByteStream(b"".join(chunks)),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(event.reason)},
        )

"""The one-write HTTP/1.1 transport against a scripted loopback server: keep-alive, framing, expiry,
timeouts, pool limits, TLS verification and httpx's exceptions."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from optbot.broker.angelone.rest import AngelOneRestClient, default_transport
from optbot.broker.http11 import BODY_COMPLETE, HEADERS_STARTED, Http11Transport
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock
from optbot.test_kit.sim import market_hours_start

#: What the scripted server answers one request with: raw bytes, and whether to close afterwards.
Reply = Callable[[bytes], Awaitable[tuple[bytes, bool]]]


def _ok(body: bytes = b'{"status":true}', *headers: str) -> bytes:
    head = "".join(f"{line}\r\n" for line in headers)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


async def _answer_ok(_: bytes) -> tuple[bytes, bool]:
    return _ok(), False


@dataclass
class _Server:
    """A loopback HTTP/1.1 server whose replies the test scripts; it counts connections and keeps
    each request's raw bytes."""

    reply: Reply = _answer_ok
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                answer, close = await self.reply(request)
                writer.write(answer)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def drop_connections(self) -> None:
        for writer in self.writers:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    scripted = _Server()
    listening = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    scripted.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield scripted
        scripted.drop_connections()


@pytest.fixture
def clock() -> SimClock:
    return SimClock(market_hours_start())


def _client(transport: Http11Transport, server: _Server, **timeouts: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}",
        transport=transport,
        timeout=httpx.Timeout(
            timeouts.get("read", 5.0), **{k: v for k, v in timeouts.items() if k != "read"}
        ),
    )


async def test_requests_share_one_kept_alive_connection(server: _Server, clock: SimClock) -> None:
    async with _client(Http11Transport(clock), server) as client:
        first = await client.post("/order", content=b'{"a":1}')
        second = await client.get("/book?x=1")
    assert (first.status_code, first.json(), second.status_code) == (200, {"status": True}, 200)
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /order HTTP/1.1\r\n")
    assert server.requests[0].endswith(b'\r\n\r\n{"a":1}')
    assert server.requests[1].startswith(b"GET /book?x=1 HTTP/1.1\r\n")


async def test_the_whole_request_is_one_write_with_no_turn_of_the_loop(
    server: _Server, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers and body leave in one write, and nothing else runs on the loop between the request
    reaching the transport and its body on the socket (the order path's guarantee)."""
    transport = Http11Transport(clock)
    events: list[str] = []
    writes: list[bytes] = []
    ran_meanwhile: list[str] = []

    async def trace(name: str, _: dict[str, object]) -> None:
        events.append(name)

    async with _client(transport, server) as client:
        await client.get("/warm")  # opens the connection
        connection = transport._idle[(b"http", b"127.0.0.1", server.port)][0]
        assert connection.transport is not None
        real_write = connection.transport.write

        def counted_write(data: bytes) -> None:
            writes.append(data)
            real_write(data)

        monkeypatch.setattr(connection.transport, "write", counted_write)
        asyncio.get_running_loop().call_soon(
            lambda: ran_meanwhile.append(events[-1] if events else "nothing")
        )
        response = await client.post("/order", content=b"x" * 300, extensions={"trace": trace})
    assert response.status_code == 200
    assert len(writes) == 1 and writes[0].startswith(b"POST /order") and writes[0].endswith(b"x" * 300)
    assert events == [HEADERS_STARTED, BODY_COMPLETE]
    assert ran_meanwhile == [BODY_COMPLETE]  # the loop's next callback ran only after the send


async def test_chunked_and_gzip_replies_are_decoded(server: _Server, clock: SimClock) -> None:
    packed = gzip.compress(b'{"data":"hello"}')

    async def chunked(_: bytes) -> tuple[bytes, bool]:
        half = len(packed) // 2
        body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, packed[:half], len(packed) - half, packed[half:])
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        return head + body, False

    server.reply = chunked
    async with _client(Http11Transport(clock), server) as client:
        response = await client.get("/")
    assert response.json() == {"data": "hello"}
    assert response.http_version == "HTTP/1.1" and response.reason_phrase == "OK"


async def test_connection_close_and_server_side_close_open_a_new_connection(
    server: _Server, clock: SimClock
) -> None:
    async def closing(_: bytes) -> tuple[bytes, bool]:
        return _ok(b"{}", "Connection: close"), True

    server.reply = closing
    async with _client(Http11Transport(clock), server) as client:
        await client.get("/a")
        server.reply = _answer_ok
        await client.get("/b")
        assert server.connections == 2
        server.drop_connections()  # the server drops the idle connection
        await asyncio.sleep(0.05)  # the loop sees the EOF
        assert (await client.get("/c")).status_code == 200
    assert server.connections == 3


async def test_an_idle_connection_past_its_expiry_is_not_reused(server: _Server, clock: SimClock) -> None:
    async with _client(Http11Transport(clock, keepalive_expiry_seconds=5.0), server) as client:
        await client.get("/a")
        clock.advance(4.9)
        await client.get("/b")
        assert server.connections == 1
        clock.advance(5.1)
        await client.get("/c")
    assert server.connections == 2


async def test_a_silent_server_is_a_read_timeout_and_its_connection_is_dropped(
    server: _Server, clock: SimClock
) -> None:
    async def silent(_: bytes) -> tuple[bytes, bool]:
        await asyncio.sleep(1.0)
        return _ok(), False

    server.reply = silent
    async with _client(Http11Transport(clock), server, read=0.05) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/slow")
        server.reply = _answer_ok
        assert (await client.get("/fast")).status_code == 200
    assert server.connections == 2


async def test_a_server_that_hangs_up_without_replying_is_a_remote_protocol_error(
    server: _Server, clock: SimClock
) -> None:
    async def hang_up(_: bytes) -> tuple[bytes, bool]:
        return b"", True

    server.reply = hang_up
    async with _client(Http11Transport(clock), server) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/order", content=b"{}")


async def test_a_refused_connection_is_a_connect_error(clock: SimClock) -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    async with httpx.AsyncClient(transport=Http11Transport(clock)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_full_pool_is_a_pool_timeout(server: _Server, clock: SimClock) -> None:
    release = asyncio.Event()

    async def held(_: bytes) -> tuple[bytes, bool]:
        await release.wait()
        return _ok(), False

    server.reply = held
    async with _client(Http11Transport(clock, max_connections=1), server, pool=0.05) as client:
        first = asyncio.create_task(client.get("/held"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await client.get("/waiting")
        release.set()
        assert (await first).status_code == 200


async def test_unsupported_scheme_is_refused(clock: SimClock) -> None:
    async with httpx.AsyncClient(transport=Http11Transport(clock)) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get("ftp://127.0.0.1/")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * 30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_tls_certificates_are_verified(tmp_path: Path, clock: SimClock) -> None:
    """An untrusted certificate is refused (httpx's default context); one the context trusts serves."""
    cert_path, key_path = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    scripted = _Server()
    listening = await asyncio.start_server(scripted.handle, "localhost", 0, ssl=server_context)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        async with httpx.AsyncClient(transport=Http11Transport(clock)) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"https://localhost:{port}/")
        trusting = ssl.create_default_context(cafile=str(cert_path))
        async with httpx.AsyncClient(transport=Http11Transport(clock, ssl_context=trusting)) as client:
            response = await client.get(f"https://localhost:{port}/")
        scripted.drop_connections()
    assert response.json() == {"status": True}


async def test_the_rest_clients_idle_connections_expire_in_real_time_not_the_simulations(
    server: _Server, clock: SimClock
) -> None:
    """A replay's clock may run at 3,000x: the client's connection must not expire between two calls
    that are an hour apart in simulated time but a moment apart in real time (the server's idle
    timeout is a real-time one)."""
    settings = BrokerSettings(client_code="T1", rest_base_url=f"http://127.0.0.1:{server.port}")
    assert isinstance(default_transport(settings), Http11Transport)
    client = AngelOneRestClient(settings, clock, "api-key")
    try:
        assert await client.call("login", {"clientcode": "T1"}) is None
        clock.advance(3600)
        await client.call("login", {"clientcode": "T1"})
    finally:
        await client.aclose()
    assert server.connections == 1 and len(server.requests) == 2


def test_a_proxied_broker_host_keeps_httpxs_own_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = BrokerSettings(client_code="T1", rest_base_url="https://apiconnect.angelone.in")
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(default_transport(settings), Http11Transport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert default_transport(settings) is None  # httpx honours the proxy
    monkeypatch.setenv("NO_PROXY", "apiconnect.angelone.in")
    assert isinstance(default_transport(settings), Http11Transport)

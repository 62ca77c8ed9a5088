"""Async SmartAPI REST client: one pooled httpx client, every header, error mapping, safe retries.

Why the care: a timeout after `placeOrder` left the machine may still have created an order, so
order writes are never retried and any unknown outcome becomes `UnresolvedOrder` for the order
manager to settle. Reads are idempotent and retried with jittered exponential backoff.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from optbot.broker.angelone.endpoints import ENDPOINTS, Endpoint, SendKind
from optbot.broker.angelone.ratelimit import Priority, RateLimiter
from optbot.broker.errors import (
    AuthenticationFailed,
    BrokerError,
    BrokerRejected,
    RateLimited,
    TokenExpired,
    TransientError,
    UnresolvedOrder,
)
from optbot.broker.http11 import Http11Transport
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import Clock
from optbot.core.errors import UserError

log = logging.getLogger("optbot.broker.angelone.rest")

#: Reference §8: codes that mean "log in again".
TOKEN_ERROR_CODES = frozenset({"AG8001", "AG8002", "AG8003", "AB1010", "AB8050", "AB8051", "AB1011"})
#: Reference §8: "something went wrong, try after some time".
TRANSIENT_ERROR_CODES = frozenset({"AB1004", "AB2001"})
#: Login refusals (wrong client code, PIN or TOTP).
LOGIN_ERROR_CODES = frozenset(
    {"AB1000", "AB1001", "AB1002", "AB1007", "AB1031", "AB1032", "AB1050", "AG8004"}
)
RATE_LIMIT_TEXT = "exceeding access rate"
LOOPBACK_NAMES = frozenset({"localhost"})
#: What a read response's stream is replaced with (see `_exchange`).
READ_STREAM = httpx.ByteStream(b"")


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, what: str = "broker.rest_base_url") -> str:
    """TLS for every real host; plain http/ws only to loopback (the local simulator)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise UserError(f"{what}: {url!r} has no host")
    if parts.scheme in ("https", "wss"):
        return url.rstrip("/")
    if parts.scheme in ("http", "ws"):
        if is_loopback_host(host):
            return url.rstrip("/")
        raise UserError(
            f"{what}: {parts.scheme}:// is only allowed for loopback hosts (got {host}); use "
            f"{'https' if parts.scheme == 'http' else 'wss'}://"
        )
    raise UserError(f"{what}: unsupported scheme {parts.scheme!r} in {url!r}")


def uses_proxy(url: str) -> bool:
    """Whether the environment routes `url` through a proxy (HTTPS_PROXY and friends, less NO_PROXY):
    then httpx's own transport, which honours them, carries the requests."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if parts.scheme not in proxies and "all" not in proxies:
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def default_transport(settings: BrokerSettings) -> httpx.AsyncBaseTransport | None:
    """The client's transport: one write per request (see `Http11Transport`; its idle connections
    expire in real time, as the server's do), or httpx's own (None) when the environment sends the
    broker's host through a proxy."""
    if uses_proxy(settings.rest_base_url):
        return None
    return Http11Transport(
        max_connections=settings.http_max_connections,
        keepalive_expiry_seconds=settings.http_keepalive_expiry_seconds,
    )


def mac_address() -> str:
    """X-MACAddress as the SDK derives it: uuid.getnode() as colon-separated hex."""
    node = uuid.getnode()
    return ":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -8, -8))


def _parse_json(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def interpret_response(endpoint: Endpoint, status_code: int, content: bytes, ordertag: str = "") -> Any:
    """Turn one HTTP reply into the envelope's `data`, or raise the mapped broker error."""
    is_order_write = endpoint.kind is SendKind.ORDER_WRITE
    text_head = content[:200].decode("utf-8", "replace")
    if status_code == 403 and (RATE_LIMIT_TEXT in text_head or _parse_json(content) is None):
        raise RateLimited(f"{endpoint.name}: HTTP 403 access rate exceeded")
    if status_code in (401, 403):
        raise TokenExpired(f"{endpoint.name}: HTTP {status_code}")
    if status_code >= 500:
        reason = f"HTTP {status_code}"
        if is_order_write:
            raise UnresolvedOrder(ordertag, reason)
        raise TransientError(f"{endpoint.name}: {reason}")
    body = _parse_json(content)
    if status_code >= 400:
        code = body.get("errorcode") or body.get("errorCode") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        raise BrokerRejected(
            str(code or f"HTTP{status_code}"),
            str(message or f"{endpoint.name} refused the request (HTTP {status_code}, invalid input)"),
        )
    if not isinstance(body, dict):
        reason = "unparsable reply" if body is None else f"unexpected reply type {type(body).__name__}"
        if is_order_write:
            raise UnresolvedOrder(ordertag, reason)
        raise TransientError(f"{endpoint.name}: {reason}")
    return _unwrap_envelope(endpoint, body, ordertag)


def _unwrap_envelope(endpoint: Endpoint, body: dict[str, Any], ordertag: str) -> Any:
    if "status" in body:
        status = body["status"]
        ok = status is True or (isinstance(status, str) and status.lower() == "true")
    elif "success" in body:
        success = body["success"]
        ok = success is True or (isinstance(success, str) and success.lower() == "true")
    else:
        reason = "reply has neither status nor success"
        if endpoint.kind is SendKind.ORDER_WRITE:
            raise UnresolvedOrder(ordertag, reason)
        raise TransientError(f"{endpoint.name}: {reason}")
    if ok:
        return body.get("data")
    code = str(body.get("errorcode") or body.get("errorCode") or "").strip()
    message = str(body.get("message") or "").strip() or "no message"
    if code in TOKEN_ERROR_CODES:
        raise TokenExpired(f"{endpoint.name}: {code} {message}")
    if endpoint.name == "login" and (code in LOGIN_ERROR_CODES or code.startswith("AB")):
        raise AuthenticationFailed(code, message)
    if code in TRANSIENT_ERROR_CODES:
        if endpoint.kind is SendKind.ORDER_WRITE:
            raise UnresolvedOrder(ordertag, f"{code} {message}")
        raise TransientError(f"{endpoint.name}: {code} {message}")
    raise BrokerRejected(code or "UNKNOWN", message)


class AngelOneRestClient:
    """All SmartAPI REST calls go through `call`; one pooled connection set per process."""

    def __init__(
        self,
        settings: BrokerSettings,
        clock: Clock,
        api_key: str,
        *,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        #: Rate windows, retry backoff and latency are transport matters: real time (see Clock.realtime).
        self._transport_clock = clock.realtime()
        self.base_url = check_base_url(settings.rest_base_url)
        self._api_key = api_key
        self._access_token: str | None = None
        self.rate_limiter = rate_limiter or RateLimiter(
            self._transport_clock,
            safety_fraction=settings.rate_limit_safety_fraction,
            guard_seconds=settings.rate_limit_guard_seconds,
        )
        self._rng = rng or random.Random()
        self.counters: Counter[str] = Counter()
        #: (endpoint, seconds on this client's clock, error kind or None) per request, for the metrics.
        self.on_call: Callable[[str, float, str | None], None] | None = None
        #: Called (never awaited) when a secure call is refused as unauthenticated; the auth service
        #: uses it to check and recover the session at once.
        self.on_token_expired: Callable[[str], None] | None = None
        #: The HTTP `Date` header of the last reply (the server's clock, to the second): the startup
        #: health check compares the host clock with it (spec §1.4, §13.8).
        self.last_date_header: str | None = None
        timeout = httpx.Timeout(settings.http_timeout_seconds, connect=settings.http_connect_timeout_seconds)
        limits = httpx.Limits(
            max_connections=settings.http_max_connections,
            max_keepalive_connections=settings.http_max_connections,
            keepalive_expiry=settings.http_keepalive_expiry_seconds,
        )
        # verify is never configurable: TLS is always checked for https hosts.
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            limits=limits,
            transport=transport or default_transport(settings),
            verify=True,
        )
        #: What the client's build_request would put in each request's extensions (its timeouts).
        self._timeout = timeout.as_dict()
        #: Each route's full URL, merged with base_url once (paths with a suffix are merged per call).
        self._urls: dict[str, httpx.URL] = {}
        #: The client's default headers with ours merged in, per authenticated/login kind; rebuilt when
        #: the API key or the session token changes (see `_headers`).
        self._merged_headers: dict[bool, httpx.Headers] = {}
        self._static_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-UserType": "USER",
            "X-SourceID": "WEB",
            "X-ClientLocalIP": settings.client_local_ip or "127.0.0.1",
            "X-ClientPublicIP": settings.client_public_ip or settings.static_ip or "127.0.0.1",
            "X-MACAddress": mac_address(),
        }

    @property
    def api_key(self) -> str:
        return self._api_key

    def set_api_key(self, api_key: str) -> None:
        self._api_key = api_key
        self._merged_headers.clear()

    @property
    def access_token(self) -> str | None:
        return self._access_token

    def set_access_token(self, jwt_token: str | None) -> None:
        """Accepts the raw jwt or `Bearer <jwt>` (what the SDK's generateSession hands out)."""
        if jwt_token and jwt_token.startswith("Bearer "):
            jwt_token = jwt_token[len("Bearer ") :]
        self._access_token = jwt_token or None
        self._merged_headers.clear()

    def headers_for(self, endpoint: Endpoint) -> dict[str, str]:
        headers = dict(self._static_headers)
        headers["X-PrivateKey"] = self._api_key
        if self._access_token and endpoint.name != "login":
            headers["Authorization"] = f"Bearer {self._access_token}"
        return headers

    def _headers(self, endpoint: Endpoint) -> httpx.Headers:
        """`headers_for(endpoint)` merged over the client's defaults, as build_request merges them,
        done once per session token instead of once per request (httpx.Request copies it)."""
        bearer = endpoint.name != "login"
        merged = self._merged_headers.get(bearer)
        if merged is None:
            merged = httpx.Headers(self._http.headers)
            merged.update(self.headers_for(endpoint))
            self._merged_headers[bearer] = merged
        return merged

    def _url(self, path: str, suffix: str) -> httpx.URL:
        """The request URL as the client merges it with base_url; a route's own URL is kept."""
        if suffix:
            return self._http.build_request("GET", f"{path}/{suffix}").url
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self._http.build_request("GET", path).url
        return url

    def build_request(
        self, endpoint: Endpoint, body: dict[str, Any] | None, suffix: str = ""
    ) -> httpx.Request:
        """The request `AsyncClient.build_request` would build (URL, merged headers, cookies, body,
        timeouts) from parts prepared once: building it is most of a request's cost on the client."""
        content = orjson.dumps(body) if endpoint.method == "POST" else None
        return httpx.Request(
            endpoint.method,
            self._url(endpoint.path, suffix),
            headers=self._headers(endpoint),
            cookies=self._http.cookies or None,
            content=content,
            extensions={"timeout": self._timeout},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        endpoint_name: str,
        body: dict[str, Any] | None = None,
        *,
        priority: Priority = Priority.READ,
        path_suffix: str = "",
        ordertag: str = "",
    ) -> Any:
        """Send one request (retrying reads) and return the envelope's `data`."""
        endpoint = ENDPOINTS[endpoint_name]
        if endpoint.authenticated and not self._access_token:
            raise TokenExpired(f"{endpoint.name}: not logged in")
        attempts = 1 + (self._settings.read_retry_attempts if endpoint.kind is SendKind.READ else 0)
        for attempt in range(attempts):
            try:
                return await self._send_once(endpoint, body, priority, path_suffix, ordertag)
            except (TransientError, RateLimited) as exc:
                if attempt + 1 >= attempts:
                    raise
                delay = self._backoff(attempt)
                self.counters[f"{endpoint.name}:retry"] += 1
                log.warning(
                    "retrying %s after %s (attempt %d/%d, backoff %.2fs)",
                    endpoint.name,
                    type(exc).__name__,
                    attempt + 1,
                    attempts,
                    delay,
                )
                await self._transport_clock.sleep(delay)
        raise TransientError(f"{endpoint.name}: retries exhausted")  # loop always returns or raises

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [initial/2, min(max, initial * 2**attempt)]."""
        initial = self._settings.read_retry_initial_delay_seconds
        ceiling = min(self._settings.read_retry_max_delay_seconds, initial * (2**attempt))
        return self._rng.uniform(min(initial / 2, ceiling), ceiling)

    async def _send_once(
        self, endpoint: Endpoint, body: dict[str, Any] | None, priority: Priority, suffix: str, ordertag: str
    ) -> Any:
        await self.rate_limiter.acquire(endpoint.name, priority)
        started = self._transport_clock.monotonic()
        error_kind: str | None = None
        try:
            return await self._exchange(endpoint, body, suffix, ordertag)
        except BrokerError as exc:
            error_kind = "rate_limited" if isinstance(exc, RateLimited) else type(exc).__name__
            raise
        finally:
            if self.on_call is not None:
                self.on_call(endpoint.name, self._transport_clock.monotonic() - started, error_kind)

    async def _exchange(
        self, endpoint: Endpoint, body: dict[str, Any] | None, suffix: str, ordertag: str
    ) -> Any:
        request = self.build_request(endpoint, body, suffix)
        self.counters[f"{endpoint.name}:sent"] += 1
        try:
            response = await self._http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing left the machine: safe for every kind of call.
            raise TransientError(f"{endpoint.name}: cannot connect ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__} after sending"
            if endpoint.kind is SendKind.ORDER_WRITE:
                raise UnresolvedOrder(ordertag, reason) from None
            raise TransientError(f"{endpoint.name}: {reason}") from None
        # httpx binds a response's stream to the response (a reference cycle, so its ~30 objects, the
        # request's included, waited for the garbage collector; their young-generation passes fell inside
        # ~1.6 % of orders' sends). The body is read: the binding is dropped and they are freed now.
        response.stream = READ_STREAM
        self.last_date_header = response.headers.get("date")
        try:
            return interpret_response(endpoint, response.status_code, response.content, ordertag)
        except BrokerError as exc:
            self.counters[f"{endpoint.name}:{type(exc).__name__}"] += 1
            if (
                isinstance(exc, TokenExpired)
                and endpoint.name != "login"
                and self.on_token_expired is not None
            ):
                self.on_token_expired(f"{endpoint.name} refused: token invalid or expired")
            raise

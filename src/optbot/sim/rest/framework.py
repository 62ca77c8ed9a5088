"""How every SmartAPI route is served: API key, token, rate limit, faults, then the handler.

One wrapper per route keeps the order of checks identical everywhere, and the route table
(`Endpoint`) names the fault/rate-limit bucket of each path in one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

from optbot.config.sections.sim import SimSettings
from optbot.core.clock import Clock
from optbot.sim.auth import SessionStore, SimSession, TokenProblem
from optbot.sim.contracts import MarketView
from optbot.sim.exchange import SimExchange
from optbot.sim.faults import FaultInjector, LostReplyMode
from optbot.sim.ratelimit import RateLimiter
from optbot.sim.rest.envelope import (
    business_failure,
    gateway_failure,
    rate_limited,
    server_error,
)

log = logging.getLogger(__name__)

Auth = Literal["none", "api_key", "jwt"]


class BadBody(Exception):
    """The request body is not a JSON object."""


@dataclass
class SimState:
    """Everything a handler may use; one per simulator."""

    clock: Clock
    market: MarketView
    sessions: SessionStore
    exchange: SimExchange
    faults: FaultInjector
    limiter: RateLimiter
    settings: SimSettings
    extras: dict[str, Any] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Call:
    request: web.Request
    body: dict[str, Any]
    session: SimSession | None
    state: SimState

    @property
    def client_code(self) -> str:
        if self.session is None:
            raise RuntimeError("this route has no session")
        return self.session.client_code


Handler = Callable[[Call], Awaitable[web.StreamResponse]]
KeyFunction = Callable[[Call], str]


@dataclass(frozen=True)
class Endpoint:
    name: str  # SmartAPI/SDK name; fault filters use it
    method: str
    paths: tuple[str, ...]
    handler: Handler
    auth: Auth = "jwt"
    bucket: str | None = None  # rate-limit bucket (SimSettings.rate_limits key)
    rate_key: KeyFunction | None = None  # who is limited when there is no session


async def read_body(request: web.Request) -> dict[str, Any]:
    """JSON object body of a POST; GET bodies and query strings are ignored, as the real server does."""
    if request.method != "POST":
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadBody("request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise BadBody("request body must be a JSON object")
    return parsed


def build_handler(
    endpoint: Endpoint, state: SimState
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        api_key = request.headers.get("X-PrivateKey", "")
        if endpoint.auth != "none" and not state.sessions.api_key_valid(api_key):
            return gateway_failure("AG8004")
        session: SimSession | None = None
        if endpoint.auth == "jwt":
            checked = state.sessions.check_jwt(request.headers.get("Authorization"))
            if isinstance(checked, TokenProblem):
                return gateway_failure(str(checked))
            session = checked
        try:
            body = await read_body(request)
        except BadBody as exc:
            return business_failure("AB1007", f"Bad input: {exc}")
        call = Call(request, body, session, state)
        if endpoint.bucket is not None:
            if session is not None:
                who = session.client_code
            elif endpoint.rate_key is not None:
                who = endpoint.rate_key(call)
            else:
                who = api_key
            if not state.limiter.allow(who, endpoint.bucket):
                return rate_limited()
        delay = state.faults.take_slow(endpoint.name)
        if delay > 0:
            await asyncio.sleep(delay)
        if state.faults.take_forbid(endpoint.name):
            return rate_limited()
        failing_status = state.faults.take_server_error(endpoint.name)
        if failing_status is not None:
            return server_error(failing_status)
        response = await endpoint.handler(call)
        lost = state.faults.take_lost_reply(endpoint.name)
        if lost is not None:
            await lose_reply(request, lost, state)
        return response

    return handle


async def lose_reply(request: web.Request, mode: LostReplyMode, state: SimState) -> None:
    """The work is done; the client never hears about it."""
    if mode is LostReplyMode.HANG:
        await state.stopping.wait()
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError("reply deliberately lost by fault injection")


def register(app: web.Application, endpoints: list[Endpoint], state: SimState) -> None:
    for endpoint in endpoints:
        handler = build_handler(endpoint, state)
        for path in endpoint.paths:
            app.router.add_route(endpoint.method, path, handler)

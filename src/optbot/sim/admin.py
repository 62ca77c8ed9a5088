"""The simulator's own control API under `/sim/v1/` (not a SmartAPI path).

A bot in another process follows the replay clock (`GET /sim/v1/clock`), reconciliation tests read
the exchange's books (`GET /sim/v1/state`), and fault campaigns are switched on and off here.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from optbot.core.errors import UserError
from optbot.core.timeutil import iso_utc, to_ist, utc_to_epoch_ms
from optbot.sim.auth import HoldingSeed
from optbot.sim.rest.envelope import json_response
from optbot.sim.rest.framework import SimState

PREFIX = "/sim/v1"
SEGMENTS = ("NSE", "NFO", "BSE", "BFO")


def _error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status=status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise web.HTTPBadRequest(
            text='{"error": "body is not valid JSON"}', content_type="application/json"
        ) from None
    if not isinstance(parsed, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body must be a JSON object"}', content_type="application/json"
        )
    return parsed


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _optional_float(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _endpoints(body: dict[str, Any]) -> list[str] | None:
    value = body.get("endpoints")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError('endpoints must be a list of endpoint names, e.g. ["placeOrder"]')
    return value


def _holding_seed(body: dict[str, Any]) -> HoldingSeed:
    quantity = _optional_int(body, "quantity")
    average_price = _optional_float(body, "average_price")
    if quantity is None or average_price is None:
        raise ValueError("quantity (shares) and average_price (rupees) are required")
    for name in ("exchange", "tradingsymbol", "isin", "symboltoken"):
        if not isinstance(body.get(name, ""), str):
            raise ValueError(f"{name} must be text")
    return HoldingSeed(
        exchange=str(body.get("exchange", "")).upper(),
        tradingsymbol=str(body.get("tradingsymbol", "")),
        quantity=quantity,
        average_price=average_price,
        isin=str(body.get("isin", "")).upper(),
        symboltoken=str(body.get("symboltoken", "")),
    )


def register_admin(app: web.Application, state: SimState) -> None:
    faults = state.faults

    async def clock(_: web.Request) -> web.Response:
        now = state.clock.now_utc()
        return json_response(
            {
                "utc": iso_utc(now),
                "ist": to_ist(now).isoformat(),
                "epoch_ms": utc_to_epoch_ms(now),
                "market_open": {segment: state.market.is_market_open(segment) for segment in SEGMENTS},
                "paused": bool(getattr(state.market, "paused", False)),
                # x real time (`optbot sim serve --speed`); null on wall time or unpaced
                "speed": getattr(state.clock, "speed", None) or None,
            }
        )

    async def set_clock(request: web.Request) -> web.Response:
        """POST {"paused": true|false}: hold or release a replay's clock (a replay market only)."""
        body = await _json_body(request)
        paused = body.get("paused")
        if not isinstance(paused, bool):
            return _error(400, "paused must be true or false")
        market = state.market
        if not hasattr(market, "pause") or not hasattr(market, "resume"):
            return _error(400, "this simulator's market has no replay clock to pause")
        if paused:
            market.pause()
        else:
            market.resume()
        return await clock(request)

    async def exchange_state(request: web.Request) -> web.Response:
        wanted = request.query.get("client_code")
        codes = [account.client_code for account in state.sessions.accounts]
        if wanted is not None:
            if wanted not in codes:
                return _error(404, f"unknown client_code {wanted!r}")
            codes = [wanted]
        return json_response({"accounts": [state.exchange.state(code) for code in codes]})

    async def seed_holding(request: web.Request) -> web.Response:
        """POST {client_code, exchange, tradingsymbol, quantity, average_price[, isin]}: settled shares."""
        body = await _json_body(request)
        client_code = str(body.get("client_code", ""))
        if client_code not in {account.client_code for account in state.sessions.accounts}:
            return _error(404, f"unknown client_code {client_code!r}")
        try:
            holding = state.exchange.seed_holding(client_code, _holding_seed(body))
        except (ValueError, UserError) as exc:
            return _error(400, str(exc))
        quote = state.market.quote(holding.spec.exchange, holding.spec.token)
        return json_response(holding.row(quote.ltp if quote else None, quote.close if quote else None))

    async def show_faults(_: web.Request) -> web.Response:
        return json_response(faults.describe())

    async def clear_faults(_: web.Request) -> web.Response:
        faults.clear()
        return json_response(faults.describe())

    async def set_fault(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        body = await _json_body(request)
        try:
            if kind == "forbid_storm":
                faults.forbid_storm(
                    _optional_int(body, "count"), _optional_float(body, "duration_seconds"), _endpoints(body)
                )
            elif kind == "server_errors":
                faults.server_errors(
                    _optional_int(body, "count"),
                    _optional_int(body, "status") or 503,
                    _optional_float(body, "duration_seconds"),
                    _endpoints(body),
                )
            elif kind == "slow_replies":
                seconds = _optional_float(body, "seconds")
                if seconds is None:
                    raise ValueError("seconds is required")
                faults.slow_replies(
                    seconds,
                    _optional_int(body, "count"),
                    _optional_float(body, "duration_seconds"),
                    _endpoints(body),
                )
            elif kind == "lose_order_replies":
                faults.lose_order_replies(
                    _optional_int(body, "count") or 1, str(body.get("mode") or "drop"), _endpoints(body)
                )
            elif kind == "rms_rejects":
                side = body.get("side")
                faults.rms_rejects(
                    _optional_int(body, "count") or 1, side=None if side is None else str(side).upper()
                )
            elif kind == "feed_stall":
                stalled = body.get("stalled", True)
                if not isinstance(stalled, bool):
                    raise ValueError("stalled must be true or false")
                faults.stall_feed(stalled)
            elif kind == "drop_ws":
                dropped = await faults.drop_ws_connections()
                return json_response({"dropped": dropped, **faults.describe()})
            else:
                return _error(404, f"unknown fault {kind!r}")
        except ValueError as exc:
            return _error(400, str(exc))
        return json_response(faults.describe())

    app.router.add_get(f"{PREFIX}/clock", clock)
    app.router.add_post(f"{PREFIX}/clock", set_clock)
    app.router.add_get(f"{PREFIX}/state", exchange_state)
    app.router.add_post(f"{PREFIX}/holdings", seed_holding)
    app.router.add_get(f"{PREFIX}/faults", show_faults)
    app.router.add_delete(f"{PREFIX}/faults", clear_faults)
    app.router.add_post(f"{PREFIX}/faults/{{kind}}", set_fault)

"""The exact reply shapes of SmartAPI (reference §1 "Response envelopes")."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from optbot.sim.ratelimit import RATE_LIMIT_TEXT

GATEWAY_MESSAGES = {
    "AG8001": "Invalid Token",
    "AG8002": "Token Expired",
    "AG8003": "Token missing",
    "AG8004": "Invalid API Key",
}


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


def ok(data: Any, message: str = "SUCCESS") -> web.Response:
    return json_response({"status": True, "message": message, "errorcode": "", "data": data})


def business_failure(code: str, message: str) -> web.Response:
    return json_response({"status": False, "message": message, "errorcode": code, "data": None})


def gateway_failure(code: str) -> web.Response:
    """The other dialect: `success`, camelCase `errorCode`, data "" (HTTP 200)."""
    return json_response({"success": False, "message": GATEWAY_MESSAGES[code], "errorCode": code, "data": ""})


def rate_limited() -> web.Response:
    return web.Response(status=403, text=RATE_LIMIT_TEXT, content_type="text/plain")


def bad_request_empty() -> web.Response:
    """HTTP 400 with an empty body (recorded for a bad getCandleData interval)."""
    return web.Response(status=400, body=b"")


def server_error(status: int) -> web.Response:
    reasons = {
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    return web.Response(status=status, text=reasons.get(status, "Server Error"), content_type="text/plain")

"""A small client for a running simulator's admin API (`optbot sim clock | state | fault`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from optbot.core.errors import UserError

FAULT_KINDS = (
    "forbid_storm",
    "server_errors",
    "slow_replies",
    "lose_order_replies",
    "rms_rejects",
    "feed_stall",
    "drop_ws",
)
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def check_loopback(base_url: str) -> str:
    """The admin API is only ever reached on loopback; anything else is a typo or a mistake."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise UserError(
            f"--url {base_url!r} must be http://127.0.0.1:PORT (the simulator serves loopback only)"
        )
    return base_url.rstrip("/")


def admin_request(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = check_loopback(base_url) + path
    try:
        reply = httpx.request(method, url, json=body, timeout=10.0)
    except httpx.HTTPError as exc:
        raise UserError(f"cannot reach the simulator at {base_url}: {exc.__class__.__name__}") from None
    try:
        payload = reply.json()
    except ValueError:
        raise UserError(
            f"{url} answered HTTP {reply.status_code} without JSON; is this the simulator?"
        ) from None
    if reply.status_code >= 400:
        message = payload.get("error") if isinstance(payload, dict) else None
        raise UserError(f"the simulator refused {path}: {message or reply.status_code}")
    return payload


def fault_body(
    kind: str,
    count: int | None,
    duration_seconds: float | None,
    seconds: float | None,
    status: int | None,
    mode: str | None,
    endpoints: list[str],
    stalled: bool,
    side: str | None = None,
) -> dict[str, Any]:
    """The admin body for one fault kind, refusing options that kind does not take."""
    if kind not in FAULT_KINDS:
        raise UserError(f"unknown fault {kind!r}; choose one of {', '.join(FAULT_KINDS)}")
    allowed = {
        "forbid_storm": {"count", "duration_seconds", "endpoints"},
        "server_errors": {"count", "duration_seconds", "endpoints", "status"},
        "slow_replies": {"count", "duration_seconds", "endpoints", "seconds"},
        "lose_order_replies": {"count", "endpoints", "mode"},
        "rms_rejects": {"count", "side"},
        "feed_stall": {"stalled"},
        "drop_ws": set(),
    }[kind]
    given: dict[str, Any] = {
        "count": count,
        "duration_seconds": duration_seconds,
        "seconds": seconds,
        "status": status,
        "mode": mode,
        "endpoints": endpoints or None,
        "side": side.upper() if side else None,
    }
    body = {key: value for key, value in given.items() if value is not None}
    unexpected = sorted(set(body) - allowed)
    if unexpected:
        raise UserError(
            f"fault {kind} does not take {', '.join('--' + k.replace('_', '-') for k in unexpected)}"
        )
    if kind == "feed_stall":
        body["stalled"] = stalled
    return body

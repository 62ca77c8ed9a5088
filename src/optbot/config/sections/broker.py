from __future__ import annotations

import ipaddress
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from optbot.config.sections.base import Section


class BrokerSettings(Section):
    """Angel One SmartAPI endpoints and session policy. Secrets are never here (keyring/env only)."""

    client_code: str = Field(default="", description="Angel One client code, e.g. A1234567 (not a secret)")
    rest_base_url: str = "https://apiconnect.angelone.in"
    market_ws_url: str = "wss://smartapisocket.angelone.in/smart-stream"
    order_ws_url: str = "wss://tns.angelone.in/smart-order-update"
    scrip_master_url: str = (
        "https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json"
    )
    static_ip: str = Field(default="", description="Static IP registered with the API key; '' = not checked")
    warn_on_ip_mismatch: bool = Field(
        default=True, description="reference §1: warn at startup when orders would leave from another IP"
    )
    registered_static_ips: list[str] = Field(
        default_factory=list,
        description="reference §1: IPs registered for the API key (with static_ip); [] = not checked",
    )
    public_ip_echo_url: str = Field(
        default="",
        description="URL answering this host's public IP as text or {\"ip\": ...}; '' = never queried",
    )
    public_ip_echo_timeout_seconds: float = Field(
        default=3.0, gt=0, le=30, description="timeout of the public-IP echo request"
    )
    http_timeout_seconds: float = Field(
        default=7.0, gt=0, le=120, description="reference §10: the SDK's 7 s REST timeout (read/write/pool)"
    )
    keyring_service: str = "optbot"
    session_health_interval_minutes: float = Field(default=5.0, gt=0, description="spec §1.3: every 5 min")
    relogin_margin_minutes: float = Field(
        default=15.0, ge=0, description="re-login if the session expires within this many minutes of close"
    )
    feed_stale_seconds: float = Field(
        default=20.0,
        gt=0,
        description="issue 4 / reference §5: no data frame for this long in market hours = stale feed",
    )
    feed_resubscribe_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        description="issue 18: after a stall, resubscribed tokens get this long to send data, then reconnect",
    )
    heartbeat_interval_seconds: float = Field(
        default=10.0, gt=0, description="reference §5: text `ping` every 10 s (spec §13.6 WS heartbeat)"
    )
    reconnect_initial_delay_seconds: float = Field(
        default=1.0, gt=0, description="spec §13.6: first jittered exponential reconnect delay"
    )
    reconnect_max_delay_seconds: float = Field(
        default=30.0, gt=0, description="spec §13.6: cap of the reconnect delay (never gives up)"
    )
    max_ws_connections: int = Field(
        default=3, ge=1, le=3, description="reference §5: 3 concurrent WS connections per client code"
    )
    max_tokens_per_connection: int = Field(
        default=1000, ge=1, le=1000, description="reference §5: 1000 token subscriptions per connection"
    )
    read_retry_attempts: int = Field(
        default=3, ge=0, le=10, description="spec §2.5/§13.6: retries of idempotent reads (orders: never)"
    )
    client_public_ip: str = Field(
        default="",
        description="X-ClientPublicIP header value (reference §1); '' = use static_ip, else 127.0.0.1",
    )
    client_local_ip: str = Field(default="127.0.0.1", description="X-ClientLocalIP header (reference §1)")
    http_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="TCP/TLS connect")
    http_max_connections: int = Field(default=10, ge=1, le=100, description="pooled httpx connections")
    http_keepalive_expiry_seconds: float = Field(
        default=5.0, gt=0, le=300, description="an idle pooled connection is reused this long, then closed"
    )
    read_retry_initial_delay_seconds: float = Field(
        default=0.5, gt=0, description="spec §2.5/§13.6: first backoff for retried reads"
    )
    read_retry_max_delay_seconds: float = Field(
        default=8.0, gt=0, description="spec §2.5/§13.6: cap of the jittered exponential backoff"
    )
    rate_limit_safety_fraction: float = Field(
        default=1.0,
        gt=0,
        le=1.0,
        description="reference §7: fraction of the documented per-endpoint rate the client may use",
    )
    session_expiry_time_ist: time = Field(
        default=time(0, 0), description="reference §1: sessions stay valid until 12 midnight IST"
    )
    market_close_time_ist: time = Field(
        default=time(15, 30),
        description="spec §1.3: session must stay valid until market close (used when no calendar given)",
    )
    market_open_time_ist: time = Field(
        default=time(9, 15), description="spec §1.3: market hours start (feed watchdog, no give-up)"
    )
    heartbeat_timeout_seconds: float = Field(
        default=20.0, gt=0, description="reference §5: JS SDK reconnects when nothing arrives for >20 s"
    )
    rest_fallback_interval_seconds: float = Field(
        default=1.0, gt=0, description="issue 4: REST quote polling cadence while the feed is stale"
    )
    subscribe_batch_size: int = Field(
        default=50, ge=1, le=1000, description="tokens per subscribe message (reference §5 batching)"
    )
    order_socket_ping_seconds: float = Field(
        default=10.0, gt=0, description="reference §6: text ping every 10 s on the order-update socket"
    )
    rate_limit_guard_seconds: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="reference §7: extra width added to each rate window to absorb network jitter",
    )
    ws_open_timeout_seconds: float = Field(default=10.0, gt=0, description="WS handshake timeout")
    keyring_backend: Literal["auto", "os", "cryptfile"] = Field(
        default="auto",
        description=(
            "spec §1.3/§13.10: 'auto' uses the OS keyring when a desktop session bus exists, else the "
            "encrypted-file keyring; a plaintext backend is never used"
        ),
    )
    keyring_file: Path = Field(
        default=Path("secrets/keyring.cfg"),
        description="encrypted keyring file for headless hosts (relative paths are under paths.data_root)",
    )

    @field_validator("registered_static_ips")
    @classmethod
    def _ip_addresses(cls, value: list[str]) -> list[str]:
        normalised = []
        for text in value:
            try:
                normalised.append(str(ipaddress.ip_address(text.strip())))
            except ValueError:
                raise ValueError(f"{text!r} is not an IPv4 or IPv6 address") from None
        return normalised

    @field_validator("public_ip_echo_url")
    @classmethod
    def _echo_url(cls, value: str) -> str:
        text = value.strip()
        if text and not text.startswith(("https://", "http://")):
            raise ValueError(f"{text!r} must be an http:// or https:// URL, or '' to never query one")
        return text

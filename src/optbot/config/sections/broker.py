from __future__ import annotations

from pydantic import Field

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
    warn_on_ip_mismatch: bool = True
    http_timeout_seconds: float = Field(default=7.0, gt=0, le=120)
    keyring_service: str = "optbot"
    session_health_interval_minutes: float = Field(default=5.0, gt=0, description="spec §1.3: every 5 min")
    relogin_margin_minutes: float = Field(
        default=15.0, ge=0, description="re-login if the session expires within this many minutes of close"
    )
    feed_stale_seconds: float = Field(default=20.0, gt=0, description="no frame for this long = stale feed")
    heartbeat_interval_seconds: float = Field(default=10.0, gt=0)
    reconnect_initial_delay_seconds: float = Field(default=1.0, gt=0)
    reconnect_max_delay_seconds: float = Field(default=30.0, gt=0)
    max_ws_connections: int = Field(default=3, ge=1, le=3)
    max_tokens_per_connection: int = Field(default=1000, ge=1, le=1000)
    read_retry_attempts: int = Field(default=3, ge=0, le=10)

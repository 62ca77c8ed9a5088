"""The production Angel One SmartAPI client behind `optbot.broker.base.Broker` (reference: smartapi.md)."""

from __future__ import annotations

from optbot.broker.angelone.auth import AuthService, AuthState, SessionStatus, totp_code
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.factory import AngelOneStack, build_stack, open_secret_store
from optbot.broker.angelone.feed import (
    MarketFeed,
    Subscription,
    SubscriptionLimitExceeded,
    SubscriptionManager,
)
from optbot.broker.angelone.feed_codec import FeedDecodeError, FeedDecoder, FeedPacket, decode_packet
from optbot.broker.angelone.ipcheck import static_ip_warning, warn_if_ip_mismatch
from optbot.broker.angelone.mapping import (
    CautionaryScrip,
    EdisStatus,
    EdisVerification,
    GttRule,
    Holding,
    HoldingsSummary,
    InvalidOrderRequest,
    MarketMover,
    OpenInterestPoint,
    OptionGreek,
    Profile,
    PutCallRatio,
    ScripMatch,
)
from optbot.broker.angelone.order_socket import OrderUpdateSocket, parse_order_message
from optbot.broker.angelone.ratelimit import Priority, RateLimiter
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.angelone.session import SessionTokens
from optbot.broker.angelone.static_ip import (
    StaticIpCheck,
    StaticIpVerdict,
    check_static_ip,
    check_static_ip_async,
)
from optbot.broker.angelone.status_map import map_broker_status, map_order_row_status
from optbot.broker.angelone.wsbase import FeedCredentials

__all__ = [
    "AngelOneBroker",
    "AngelOneRestClient",
    "AngelOneStack",
    "AuthService",
    "AuthState",
    "CautionaryScrip",
    "EdisStatus",
    "EdisVerification",
    "FeedCredentials",
    "FeedDecodeError",
    "FeedDecoder",
    "FeedPacket",
    "GttRule",
    "Holding",
    "HoldingsSummary",
    "InvalidOrderRequest",
    "MarketFeed",
    "MarketMover",
    "OpenInterestPoint",
    "OptionGreek",
    "OrderUpdateSocket",
    "Priority",
    "Profile",
    "PutCallRatio",
    "RateLimiter",
    "ScripMatch",
    "SecretStore",
    "SessionStatus",
    "SessionTokens",
    "StaticIpCheck",
    "StaticIpVerdict",
    "Subscription",
    "SubscriptionLimitExceeded",
    "SubscriptionManager",
    "build_stack",
    "check_static_ip",
    "check_static_ip_async",
    "decode_packet",
    "map_broker_status",
    "map_order_row_status",
    "open_secret_store",
    "parse_order_message",
    "static_ip_warning",
    "totp_code",
    "warn_if_ip_mismatch",
]

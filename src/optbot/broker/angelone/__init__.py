"""The production Angel One SmartAPI client behind `optbot.broker.base.Broker` (reference: smartapi.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from optbot.core.lazy import lazy_exports

# Re-exports load on first use, so importing one of this package's modules (its CLI, say) does not
# import the rest.
if TYPE_CHECKING:
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
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "auth": (
                "AuthService",
                "AuthState",
                "SessionStatus",
                "totp_code",
            ),
            "broker": ("AngelOneBroker",),
            "factory": (
                "AngelOneStack",
                "build_stack",
                "open_secret_store",
            ),
            "feed": (
                "MarketFeed",
                "Subscription",
                "SubscriptionLimitExceeded",
                "SubscriptionManager",
            ),
            "feed_codec": (
                "FeedDecodeError",
                "FeedDecoder",
                "FeedPacket",
                "decode_packet",
            ),
            "ipcheck": (
                "static_ip_warning",
                "warn_if_ip_mismatch",
            ),
            "mapping": (
                "CautionaryScrip",
                "EdisStatus",
                "EdisVerification",
                "GttRule",
                "Holding",
                "HoldingsSummary",
                "InvalidOrderRequest",
                "MarketMover",
                "OpenInterestPoint",
                "OptionGreek",
                "Profile",
                "PutCallRatio",
                "ScripMatch",
            ),
            "order_socket": (
                "OrderUpdateSocket",
                "parse_order_message",
            ),
            "ratelimit": (
                "Priority",
                "RateLimiter",
            ),
            "rest": ("AngelOneRestClient",),
            "secrets": ("SecretStore",),
            "session": ("SessionTokens",),
            "static_ip": (
                "StaticIpCheck",
                "StaticIpVerdict",
                "check_static_ip",
                "check_static_ip_async",
            ),
            "status_map": (
                "map_broker_status",
                "map_order_row_status",
            ),
            "wsbase": ("FeedCredentials",),
        },
    )

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

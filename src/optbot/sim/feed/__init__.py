"""The simulator's WebSockets: WS 2.0 market data and the order-update socket."""

from optbot.sim.feed.codec import (
    LTP_PACKET_BYTES,
    QUOTE_PACKET_BYTES,
    SNAP_QUOTE_PACKET_BYTES,
    ExchangeType,
    FrameError,
    SubscriptionMode,
    WireDepthLevel,
    WireTick,
    decode_frame,
    encode_quote,
    encode_tick,
    wire_tick_from_quote,
)
from optbot.sim.feed.market_socket import (
    MARKET_FEED_HUB,
    MARKET_FEED_PATH,
    MarketFeedHub,
    register_market_feed,
)
from optbot.sim.feed.order_socket import (
    ORDER_UPDATE_HUB,
    ORDER_UPDATE_PATH,
    OrderUpdateHub,
    order_update_message,
    register_order_socket,
)

__all__ = [
    "LTP_PACKET_BYTES",
    "MARKET_FEED_HUB",
    "MARKET_FEED_PATH",
    "ORDER_UPDATE_HUB",
    "ORDER_UPDATE_PATH",
    "QUOTE_PACKET_BYTES",
    "SNAP_QUOTE_PACKET_BYTES",
    "ExchangeType",
    "FrameError",
    "MarketFeedHub",
    "OrderUpdateHub",
    "SubscriptionMode",
    "WireDepthLevel",
    "WireTick",
    "decode_frame",
    "encode_quote",
    "encode_tick",
    "order_update_message",
    "register_market_feed",
    "register_order_socket",
    "wire_tick_from_quote",
]

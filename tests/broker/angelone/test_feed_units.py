"""Subscription manager limits, subscribe message batching, order-update parsing, static-IP check."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.broker.angelone.feed import (
    Subscription,
    SubscriptionLimitExceeded,
    SubscriptionManager,
    subscription_messages,
)
from optbot.broker.angelone.ipcheck import static_ip_warning
from optbot.broker.angelone.order_socket import OrderMessageError, parse_order_message
from optbot.config.sections.broker import BrokerSettings
from optbot.core.enums import OrderStatus
from optbot.test_kit.broker import order_row

NOW = datetime(2026, 11, 18, 5, 0, tzinfo=UTC)


def test_manager_fills_connections_in_order_and_refuses_overflow() -> None:
    manager = SubscriptionManager(max_connections=3, max_per_connection=1000)
    subs = [Subscription(2, str(i), 2) for i in range(2500)]
    placed = manager.add(subs + subs[:10])
    assert {index: len(items) for index, items in placed.items()} == {0: 1000, 1: 1000, 2: 500}
    assert manager.add(subs[:100]) == {}
    with pytest.raises(SubscriptionLimitExceeded, match="3 connections x 1000"):
        manager.add(Subscription(2, f"x{i}", 2) for i in range(501))
    assert len(manager) == 2500  # all-or-nothing
    removed = manager.remove(subs[:1000] + [Subscription(1, "nope", 1)])
    assert list(removed) == [0] and manager.for_connection(0) == []
    assert manager.add([Subscription(1, "new", 1)]) == {0: [Subscription(1, "new", 1)]}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(st.sampled_from([1, 2, 3]), st.integers(1, 400), st.sampled_from([1, 2, 3])), max_size=300
    )
)
def test_manager_never_exceeds_per_connection_cap(items: list[tuple[int, int, int]]) -> None:
    manager = SubscriptionManager(max_connections=3, max_per_connection=50)
    for exchange_type, token, mode in items:
        try:
            manager.add([Subscription(exchange_type, str(token), mode)])
        except SubscriptionLimitExceeded:
            assert len(manager) == 150
    assert all(len(manager.for_connection(i)) <= 50 for i in range(3))
    assert len(manager) == len({(e, str(t), m) for e, t, m in items}) or len(manager) == 150


def test_messages_batch_by_mode_and_exchange() -> None:
    subs = [Subscription(1, str(i), 3) for i in range(120)] + [Subscription(2, "9", 1)]
    messages = [orjson.loads(m) for m in subscription_messages(subs, 1, 50)]
    assert [m["params"]["mode"] for m in messages] == [1, 3, 3, 3]
    assert all(m["action"] == 1 and len(m["correlationID"]) <= 10 for m in messages)
    tokens = [t for m in messages[1:] for group in m["params"]["tokenList"] for t in group["tokens"]]
    assert len(tokens) == 120 and len(set(tokens)) == 120
    assert messages[0]["params"]["tokenList"] == [{"exchangeType": 2, "tokens": ["9"]}]


def test_order_messages() -> None:
    greeting = {
        "user-id": "T1",
        "status-code": "200",
        "order-status": "AB00",
        "error-message": "",
        "orderData": {},
    }
    assert parse_order_message(greeting, NOW) is None
    partial = {"order-status": "AB01", "orderData": order_row(filledshares="25", averageprice=194.0)}
    update = parse_order_message(partial, NOW)
    assert (
        update is not None and update.status is OrderStatus.PARTIALLY_FILLED and update.filled_quantity == 25
    )
    rejected = {
        "order-status": "AB03",
        "error-message": "",
        "orderData": order_row(status="rejected", text="Insufficient Funds"),
    }
    update = parse_order_message(rejected, NOW)
    assert (
        update is not None
        and update.status is OrderStatus.REJECTED
        and update.message == "Insufficient Funds"
    )
    for bad, match in [
        ([], "not a JSON object"),
        ({"order-status": "AB05"}, "no orderData"),
        ({"order-status": "AB05", "orderData": {"status": "complete"}}, "no orderid"),
        ({"order-status": "AB77", "orderData": order_row(status="weird")}, "unknown"),
        ({"order-status": "AB05", "orderData": order_row(quantity="lots")}, "quantity"),
    ]:
        with pytest.raises(OrderMessageError, match=match):
            parse_order_message(bad, NOW)


def test_static_ip_check() -> None:
    base = BrokerSettings(static_ip="203.0.113.7")
    assert static_ip_warning(BrokerSettings(), lambda h, p: "10.0.0.2") is None  # not configured
    assert static_ip_warning(base, lambda h, p: "203.0.113.7") is None
    assert "registered for static IP 203.0.113.7" in (
        static_ip_warning(base, lambda h, p: "49.36.10.20") or ""
    )
    assert "behind NAT" in (static_ip_warning(base, lambda h, p: "192.168.1.5") or "")
    nat_ok = base.model_copy(update={"client_public_ip": "203.0.113.7"})
    assert static_ip_warning(nat_ok, lambda h, p: "192.168.1.5") is None
    nat_bad = base.model_copy(update={"client_public_ip": "198.51.100.9"})
    assert "will reject" in (static_ip_warning(nat_bad, lambda h, p: "192.168.1.5") or "")
    assert "could not determine" in (static_ip_warning(base, lambda h, p: None) or "")
    assert (
        static_ip_warning(base.model_copy(update={"warn_on_ip_mismatch": False}), lambda h, p: "1.1.1.1")
        is None
    )

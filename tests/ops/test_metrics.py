from __future__ import annotations

from datetime import UTC, datetime

import httpx

from optbot.core.enums import Exchange, OrderStatus, RiskState
from optbot.core.events import FeedHealth, OrderUpdate, PositionChanged, RiskStateChanged, Tick
from optbot.ops.metrics import Metrics, MetricsServer

NOW = datetime(2026, 8, 7, 4, 0, tzinfo=UTC)


def test_events_update_metrics() -> None:
    metrics = Metrics()
    metrics.observe(Tick(NOW, "99926000", Exchange.NSE, "Nifty 50", 24500.0))
    metrics.observe(OrderUpdate(NOW, "1", OrderStatus.REJECTED, "rejected"))
    metrics.observe(RiskStateChanged(NOW, RiskState.ACTIVE, RiskState.HALTED, "daily loss limit"))
    metrics.observe(FeedHealth(NOW, connected=False, stale_seconds=42.0, reconnects=3))
    metrics.observe(PositionChanged(NOW, "1", "X", 75, 100.0, realised_pnl=500.0, unrealised_pnl=-200.0))
    metrics.observe(PositionChanged(NOW, "1", "X", 75, 100.0, realised_pnl=500.0, unrealised_pnl=-800.0))
    metrics.observe_api_call("placeOrder", 0.02, error_kind="rate_limited")
    metrics.observe_margin(used=70_000, available=30_000)
    text = metrics.render().decode()
    assert 'optbot_ticks_total{source="ws"} 1.0' in text
    assert "optbot_order_rejects_total 1.0" in text
    assert 'optbot_risk_state{optbot_risk_state="HALTED"} 1.0' in text
    assert "optbot_feed_stale_seconds 42.0" in text
    assert "optbot_unrealised_pnl_rupees -800.0" in text
    assert "optbot_drawdown_rupees 600.0" in text
    assert 'optbot_rate_limit_hits_total{endpoint="placeOrder"} 1.0' in text
    assert "optbot_margin_used_pct 70.0" in text
    assert "optbot_memory_rss_bytes" in text


def test_prometheus_scrape_over_loopback() -> None:
    metrics = Metrics()
    metrics.observe(Tick(NOW, "99926000", Exchange.NSE, "Nifty 50", 24500.0, source="rest_fallback"))
    with MetricsServer(metrics, "127.0.0.1", 0) as server:
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    assert response.status_code == 200
    assert 'optbot_ticks_total{source="rest_fallback"} 1.0' in response.text


def test_reconnects_follow_the_feed_running_total() -> None:
    metrics = Metrics()
    for total in (0, 3, 3, 5):
        metrics.observe(FeedHealth(NOW, connected=True, stale_seconds=0.0, reconnects=total))
    assert "optbot_ws_reconnects_total 5.0" in metrics.render().decode()


def test_rest_client_counters_become_error_and_rate_limit_metrics() -> None:
    metrics = Metrics()
    counters = {
        "placeOrder:sent": 9,
        "placeOrder:RateLimited": 2,
        "ltpData:TransientError": 1,
        "ltpData:retry": 4,
    }
    metrics.observe_client_counters(counters)
    counters["placeOrder:RateLimited"] = 3
    metrics.observe_client_counters(counters)
    text = metrics.render().decode()
    assert 'optbot_rate_limit_hits_total{endpoint="placeOrder"} 3.0' in text
    assert 'optbot_api_errors_total{endpoint="placeOrder",kind="rate_limited"} 3.0' in text
    assert 'optbot_api_errors_total{endpoint="ltpData",kind="TransientError"} 1.0' in text
    assert "retry" not in text and 'kind="sent"' not in text


def test_dropped_feed_frames_are_counted_by_reason() -> None:
    from collections import Counter

    metrics = Metrics()
    skipped: Counter[str] = Counter({"crossed_quote": 2, "negative_volume": 1})
    metrics.observe_dropped_frames(skipped)
    skipped["crossed_quote"] += 3
    metrics.observe_dropped_frames(skipped)  # only the increase is added
    metrics.observe_dropped_frames(skipped)
    text = metrics.render().decode()
    assert 'optbot_feed_frames_dropped_total{reason="crossed_quote"} 5.0' in text
    assert 'optbot_feed_frames_dropped_total{reason="negative_volume"} 1.0' in text


def test_reconnect_circuit_openings_are_counted_and_the_open_state_shown() -> None:
    metrics = Metrics()
    metrics.observe_circuit(True, any_open=True)
    text = metrics.render().decode()
    assert "optbot_feed_circuit_opens_total 1.0" in text and "optbot_feed_circuit_open 1.0" in text
    metrics.observe_circuit(False, any_open=False)
    metrics.observe_circuit(True, any_open=True)
    metrics.observe_circuit(False, any_open=False)
    text = metrics.render().decode()
    assert "optbot_feed_circuit_opens_total 2.0" in text and "optbot_feed_circuit_open 0.0" in text

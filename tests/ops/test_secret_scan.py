"""Spec §11.11 / §13.10: a session run with known secret values leaves none of them in any file it
wrote (logs, reports, state DB, keyring file, kill flag), in the metrics or in the dashboard."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from optbot.broker.angelone.secrets import SecretStore, encrypted_file_backend
from optbot.broker.angelone.session import SessionTokens
from optbot.config import load_settings
from optbot.engine.replay import InProcessReplay
from optbot.log import clear_secrets, configure_logging, shutdown_logging
from optbot.ops.notifications import AppriseSender
from optbot.ops.wiring import attach_operations, dashboard_auth_from_env
from optbot.test_kit.ops import JsonReceiver, ScriptedAtmCall, find_secrets, scan_tree

DAY = date(2025, 9, 8)
API_KEY = "ak7Qw2Zt9LmXc4Rv"
PIN = "8361"
TOTP_SECRET = "JBSWY3DPEHPK3PXPQ7ZR2WNA"
JWT = "eyJhbGciOiJIUzUxMiJ9.eyJ1c2VybmFtZSI6IlRFU1QxMjMifQ.c2lnbmF0dXJlLXRlc3Qtb25seQ"
REFRESH_TOKEN = "rf-7d1e9c44b0a24f6f8a31"
FEED_TOKEN = "fd-0a9b8c7d6e5f4a3b2c1d"
VIEWER_TOKEN = "viewer-tok-4b9d2e7f1a6c"
OPERATOR_TOKEN = "operator-tok-8e3f5a1c9d2b"
HOOK_PASSWORD = "hookpass-5c2e8f1d7a3b"
HOOK_PATH_TOKEN = "pathtok6f1c3e9a2d7b5e4c"
DEAD_HOOK_PASSWORD = "deadpass-1b7e3c9f5a2d"
KEYRING_PASSWORD = "keyring-pw-3e8c1f6a9d2b"

SECRETS = {
    "api key": API_KEY,
    "PIN": PIN,
    "TOTP secret": TOTP_SECRET,
    "jwt": JWT,
    "refresh token": REFRESH_TOKEN,
    "feed token": FEED_TOKEN,
    "dashboard viewer token": VIEWER_TOKEN,
    "dashboard operator token": OPERATOR_TOKEN,
    "notify URL password": HOOK_PASSWORD,
    "notify URL path token": HOOK_PATH_TOKEN,
    "failing notify URL password": DEAD_HOOK_PASSWORD,
    "keyring password": KEYRING_PASSWORD,
}


def leaks(data: bytes) -> list[str]:
    return find_secrets(data, SECRETS)


@pytest.fixture
def logging_isolated() -> Iterator[None]:
    yield
    shutdown_logging()
    clear_secrets()


async def test_no_secret_reaches_any_file_metrics_or_dashboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logging_isolated: None
) -> None:
    root = tmp_path / "data"
    receiver = JsonReceiver()
    port = await receiver.start()
    with socket.socket() as probe:  # a loopback port nobody listens on: a failing target
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    environ = {
        "OPTBOT_SECRET_API_KEY": API_KEY,
        "OPTBOT_SECRET_PIN": PIN,
        "OPTBOT_SECRET_TOTP_SECRET": TOTP_SECRET,
        "OPTBOT_SECRET_DASHBOARD_VIEWER_TOKEN": VIEWER_TOKEN,
        "OPTBOT_SECRET_DASHBOARD_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "OPTBOT_SECRET_NOTIFY_URLS": (
            f"json://optbot:{HOOK_PASSWORD}@127.0.0.1:{port}/{HOOK_PATH_TOKEN},"
            f"json://optbot:{DEAD_HOOK_PASSWORD}@127.0.0.1:{dead_port}/x"
        ),
        "OPTBOT_KEYRING_PASSWORD": KEYRING_PASSWORD,
    }
    for key, secret in environ.items():
        monkeypatch.setenv(key, secret)
    settings = load_settings(
        None,
        {
            "paths": {"data_root": str(root)},
            "replay": {"tick_seconds": 10.0},
            "universe": {"underlyings": ["NIFTY"]},
            "logging": {"console": False, "level": "DEBUG"},
            "metrics": {"port": 0},
            "dashboard": {"port": 0},
            "notifications": {"retry_attempts": 0, "delivery_timeout_seconds": 2.0},
        },
    )
    replay = InProcessReplay(
        settings,
        root / "state" / "optbot.sqlite",
        DAY,
        strategies=[ScriptedAtmCall(settings)],
        underlyings=["NIFTY"],
    )
    log_file = configure_logging(settings, replay.clock)
    assert log_file is not None

    # The credentials path a live session takes: secrets read through the store (environment first),
    # session tokens saved to the encrypted keyring file under the data root.
    store = SecretStore(encrypted_file_backend(root / "keyring" / "optbot.cfg", KEYRING_PASSWORD))
    assert [store.require(name) for name in ("api_key", "pin", "totp_secret")] == [API_KEY, PIN, TOTP_SECRET]
    issued = datetime(2025, 9, 8, 3, 0, tzinfo=UTC)
    store.save_tokens(
        SessionTokens("T123", issued, issued + timedelta(hours=20), JWT, REFRESH_TOKEN, FEED_TOKEN)
    )
    # A careless log line and a failure carrying a token must still come out masked.
    logging.getLogger("optbot.test").warning("login response for %s: jwt=%s", API_KEY, JWT)
    try:
        raise RuntimeError(f"feed refused token {FEED_TOKEN}")
    except RuntimeError:
        logging.getLogger("optbot.test").exception("socket failed")

    ops = attach_operations(replay.engine, settings, replay.clock)
    await ops.start(serve_metrics=True, serve_dashboard=True, auth=dashboard_auth_from_env())
    try:
        await replay.engine.start(DAY)
        replay.warm_up()
        await replay.run_day(DAY)
        async with httpx.AsyncClient(base_url=ops.dashboard_url, timeout=10) as client:
            page = await client.get("/", params={"token": VIEWER_TOKEN})
            snapshot = await client.get("/api/snapshot", headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
            killed = await client.post(
                "/api/kill-switch",
                json={"reason": "secret scan", "confirm": True},
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            )
            metrics = await client.get(f"http://127.0.0.1:{ops.metrics_port}/metrics")
        assert page.status_code == snapshot.status_code == killed.status_code == metrics.status_code == 200
        files = ops.write_daily_report(DAY)
        await receiver.wait_for(lambda item: "Kill switch engaged" in str(item["title"]))
    finally:
        await ops.stop(drain_seconds=5)
        replay.close()
        await receiver.stop()
        shutdown_logging()

    assert ops.notifier.stats.delivered >= 3
    assert isinstance(ops.notifier.sender, AppriseSender)
    assert ops.notifier.sender.target_failures == {"target 2 (json://)": ops.notifier.stats.delivered}
    assert receiver.paths and all(path == f"/{HOOK_PATH_TOKEN}" for path in receiver.paths)
    for name, body in (
        ("dashboard page", page.content),
        ("dashboard snapshot", snapshot.content),
        ("kill-switch reply", killed.content),
        ("metrics scrape", metrics.content),
    ):
        assert leaks(body) == [], f"{name} leaks {leaks(body)}"

    written = sorted(path for path in root.rglob("*") if path.is_file())
    names = {path.name for path in written}
    assert log_file in written and log_file.stat().st_size > 10_000
    assert {"optbot.sqlite", "optbot.cfg", files.html_path.name, files.json_path.name} <= names, names
    assert scan_tree(root, SECRETS) == {}
    control = scan_tree(root, {"control": "optbot daily report 2025-09-08"})  # the scan does read files
    assert set(control) == {"reports/daily-2025-09-08.html", "reports/daily-2025-09-08.json"}
    assert find_secrets(f"x {PIN}.".encode(), SECRETS) == ["PIN"] and find_secrets(b"a18361b", SECRETS) == []
    log_text = log_file.read_text()
    assert "login response for ***: jwt=***" in log_text and "socket failed" in log_text
    # (tests/test_log.py checks traceback rendering itself; here it only matters that nothing leaked)

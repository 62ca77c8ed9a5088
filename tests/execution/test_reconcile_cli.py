"""`optbot reconcile` end to end: log in to the simulator (loopback) with the configured broker stack and
file-backed secrets, reconcile live, print the diff, exit 1 on a mismatch; `--ack` then clears the halt."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from optbot.broker.angelone.factory import open_secret_store
from optbot.cli.main import app
from optbot.config.settings import load_settings
from optbot.core.clock import LiveClock
from optbot.core.enums import Exchange
from optbot.engine.core import TradingEngine
from optbot.persistence.db import state_db_path
from optbot.persistence.records import PositionRecord
from optbot.persistence.store import Store
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT, StaticMarket

PASSWORD = "reconcile-cli-keyring-password"
Invoke = Callable[..., Result]


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Simulator] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        clock = LiveClock()
        simulator = Simulator(StaticMarket(clock), clock, [TEST_ACCOUNT])
        loop.run_until_complete(simulator.start())
        holder["sim"] = simulator
        started.set()
        loop.run_forever()
        loop.run_until_complete(simulator.stop())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield holder["sim"].base_url
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def config(tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "optbot.toml"
    path.write_text(
        f'[paths]\ndata_root = "{tmp_path / "data"}"\n'
        f'[broker]\nclient_code = "{TEST_ACCOUNT.client_code}"\nrest_base_url = "{sim_url}"\n'
        'keyring_backend = "cryptfile"\n'
    )
    monkeypatch.setenv("OPTBOT_KEYRING_PASSWORD", PASSWORD)
    for name in ("API_KEY", "PIN", "TOTP_SECRET"):
        monkeypatch.delenv(f"OPTBOT_SECRET_{name}", raising=False)
    settings = load_settings(path)
    secrets = open_secret_store(settings)
    secrets.set("api_key", TEST_ACCOUNT.api_key)
    secrets.set("pin", TEST_ACCOUNT.pin)
    secrets.set("totp_secret", TEST_ACCOUNT.totp_secret)
    Store.open(state_db_path(settings), LiveClock()).close()
    return path


@pytest.fixture
def invoke(config: Path) -> Invoke:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, ["--config", str(config), "reconcile", *args])

    return run


def _book_local_position(config: Path) -> None:
    """A position optbot believes it holds but the broker does not: a real mismatch."""
    settings = load_settings(config)
    clock = LiveClock()
    store = Store.open(state_db_path(settings), clock)
    store.save_position(
        PositionRecord(
            Exchange.NFO,
            "58784",
            "NIFTY28OCT2524400CE",
            75,
            100.0,
            0.0,
            0.0,
            75,
            0,
            7500.0,
            0.0,
            clock.now_utc(),
        )
    )
    store.close()


def test_live_reconciliation_clean_then_mismatch_then_ack(invoke: Invoke, config: Path) -> None:
    clean = invoke("--kind", "startup")
    assert clean.exit_code == 0, clean.output
    assert "CLEAN" in clean.output and TEST_ACCOUNT.pin not in clean.output

    _book_local_position(config)
    mismatch = invoke("--kind", "eod")
    assert mismatch.exit_code == 1, mismatch.output
    assert "MISMATCH" in mismatch.output
    assert "position" in mismatch.output and "NFO:58784" in mismatch.output
    assert "optbot reconcile --ack" in mismatch.output

    as_json = invoke("--json")
    assert as_json.exit_code == 1
    document = json.loads(as_json.output)
    assert document["kind"] == "periodic" and not document["clean"]
    assert {"kind": "position", "key": "NFO:58784", "local": "75", "broker": "0"} in document["discrepancies"]
    assert document["earlier_unacknowledged"] == 1 and document["funds"] is not None

    offline = invoke("--offline")
    assert offline.exit_code == 1 and "local 75 | broker 0" in offline.output
    acked = invoke("--ack", "--by", "alice")
    assert acked.exit_code == 0 and "acknowledged 2" in acked.output

    settings = load_settings(config)
    store = Store.open(state_db_path(settings), LiveClock())
    try:
        assert store.unacknowledged_mismatches() == []
        assert [row["kind"] for row in store.audit_rows()].count("reconciliation") == 3
        assert store.verify_chain().ok
    finally:
        store.close()


def test_bad_kind_and_missing_state_database_exit_2(invoke: Invoke, config: Path) -> None:
    bad = invoke("--kind", "hourly")
    assert bad.exit_code == 2 and "--kind must be one of startup, periodic, eod" in bad.output
    state_db_path(load_settings(config)).unlink()
    missing = invoke()
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_refused_login_exits_2_without_echoing_secrets(invoke: Invoke, config: Path) -> None:
    open_secret_store(load_settings(config)).set("pin", "0000")
    result = invoke()
    assert result.exit_code == 2, result.output
    assert "refused the login" in result.output and "0000" not in result.output
    assert "Traceback" not in result.output


def test_startup_kind_recovers_an_order_that_never_reached_the_broker(invoke: Invoke, config: Path) -> None:
    from datetime import timedelta

    from optbot.core.enums import IntentPurpose, OrderStatus, OrderType, ProductType, Side, Variety
    from optbot.persistence.records import IntentRecord, OrderRecord

    settings = load_settings(config)
    store = Store.open(state_db_path(settings), LiveClock())
    sent_at = LiveClock().now_utc() - timedelta(hours=1)
    common = {"exchange": Exchange.NFO, "token": "58784", "symbol": "NIFTY28OCT2524400CE", "side": Side.BUY}
    store.insert_intent(
        IntentRecord(
            intent_id="lost",
            content_hash="h",
            strategy="s",
            quantity=75,
            purpose=IntentPurpose.ENTRY,
            order_type=OrderType.LIMIT,
            product=ProductType.INTRADAY,
            limit_price=100.0,
            trigger_price=None,
            created_utc=sent_at,
            **common,
        ),
        [
            OrderRecord(
                ordertag="lost-0",
                intent_id="lost",
                child_index=0,
                quantity=75,
                order_type=OrderType.LIMIT,
                product=ProductType.INTRADAY,
                variety=Variety.NORMAL,
                price=100.0,
                trigger_price=0.0,
                purpose=IntentPurpose.ENTRY,
                status=OrderStatus.PENDING_SUBMIT,
                created_utc=sent_at,
                updated_utc=sent_at,
                **common,
            )
        ],
    )
    store.close()
    periodic = invoke("--kind", "periodic")  # compares only: the order stays as it was
    assert periodic.exit_code == 0, periodic.output
    store = Store.open(state_db_path(settings), LiveClock())
    assert store.get_order("lost-0").status is OrderStatus.PENDING_SUBMIT  # type: ignore[union-attr]
    store.close()
    startup = invoke("--kind", "startup")
    assert startup.exit_code == 0, startup.output
    store = Store.open(state_db_path(settings), LiveClock())
    try:
        order = store.get_order("lost-0")
        assert order is not None and order.status is OrderStatus.REJECTED
        assert "not in the broker's order book" in order.message
    finally:
        store.close()


def _running_bot_status(config: Path, **status: object) -> None:
    """A bot running on this data root, as its `status.json` says (this test's own live pid)."""
    settings = load_settings(config)
    document = {"pid": os.getpid(), "running": True, "mode": "live", "clock_follows": None, **status}
    (state_db_path(settings).parent / "status.json").write_text(json.dumps(document))


def test_a_running_bot_on_another_day_is_refused_nothing_recorded(invoke: Invoke, config: Path) -> None:
    """Beside a bot trading a replayed day, a wall-clock reconciliation would compare the wrong day's
    fills, P&L and funds and record a mismatch that halts trading: refused before anything is read."""
    _running_bot_status(config, clock_ist="2020-11-18T13:52:50+05:30")
    result = invoke()
    assert result.exit_code == 2, result.output
    assert "trades 2020-11-18" in result.output and "--follow-sim" in result.output
    store = Store.open(state_db_path(load_settings(config)), LiveClock())
    try:
        assert store.latest_reconciliation() is None and store.unacknowledged_mismatches() == []
    finally:
        store.close()


def test_the_running_bots_simulator_clock_is_followed(invoke: Invoke, config: Path, sim_url: str) -> None:
    today = LiveClock().now_ist()  # this simulator's clock is wall time
    _running_bot_status(config, clock_ist=today.isoformat(), clock_follows=sim_url)
    result = invoke()
    assert result.exit_code == 0, result.output
    assert f"trading day {today.date()}; clock follows {sim_url} (the running bot's, pid {os.getpid()})" in (
        result.output
    )
    as_json = json.loads(invoke("--json").output)
    assert as_json["clock_follows"] == sim_url and as_json["trading_day"] == today.date().isoformat()


def test_follow_sim_without_a_simulator_there_exits_2(invoke: Invoke) -> None:
    with socket.socket() as bound:  # a port held but not listening: the connection is refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        result = invoke("--follow-sim", url)
    assert result.exit_code == 2, result.output
    assert f"--follow-sim {url}: no simulator clock answers there" in result.output
    assert "Traceback" not in result.output


def _record_paper_mismatch(config: Path) -> Path:
    """What a paper session's reconciliation leaves in its own journal when its books and its paper
    broker's differ: an unacknowledged mismatch that blocks the next paper start's entries."""
    settings = load_settings(config)
    path = state_db_path(settings, paper=True)
    store = Store.open(path, LiveClock())
    try:
        store.record_reconciliation("periodic", False, ["position NFO:58784: local 75 | broker 0"])
    finally:
        store.close()
    return path


def test_paper_mode_shows_and_acknowledges_the_paper_journal_only(invoke: Invoke, config: Path) -> None:
    paper_path = _record_paper_mismatch(config)
    assert paper_path.name == "optbot-paper.sqlite"
    live_path = state_db_path(load_settings(config))
    live_before = live_path.read_bytes()

    live = invoke("--offline")
    assert live.exit_code == 0, live.output
    assert "live journal: no reconciliation has run yet" in live.output
    assert "--mode paper --offline" in live.output and "1 unacknowledged" in live.output

    shown = invoke("--mode", "paper", "--offline")
    assert shown.exit_code == 1, shown.output
    assert "state/optbot-paper.sqlite" in shown.output and "local 75 | broker 0" in shown.output
    assert "optbot reconcile --mode paper --ack" in shown.output

    acked = invoke("--mode", "paper", "--ack", "--by", "bob")
    assert acked.exit_code == 0 and "acknowledged 1" in acked.output
    again = invoke("--mode", "paper", "--offline")
    assert again.exit_code == 0 and "paper journal: last reconciliation" in again.output

    store = Store.open(paper_path, LiveClock())
    try:
        assert store.unacknowledged_mismatches() == []
        assert store.latest_reconciliation().acknowledged_by == "bob"  # type: ignore[union-attr]
    finally:
        store.close()
    assert live_path.read_bytes() == live_before  # the live journal was never written


def test_paper_broker_reconciliation_is_refused_in_one_line(invoke: Invoke, config: Path) -> None:
    paper_path = _record_paper_mismatch(config)
    result = invoke("--mode", "paper")
    assert result.exit_code == 2, result.output
    assert "reconciled by the running paper session" in result.output
    assert len(result.output.strip().splitlines()) == 1
    store = Store.open(paper_path, LiveClock())
    try:
        assert len(store.unacknowledged_mismatches()) == 1  # nothing recorded or acknowledged
    finally:
        store.close()


def test_bad_mode_and_missing_paper_journal_exit_2(invoke: Invoke) -> None:
    bad = invoke("--mode", "backtest", "--offline")
    assert bad.exit_code == 2
    assert bad.output.strip().endswith("--mode must be one of live, paper (got 'backtest')")
    assert len(bad.output.strip().splitlines()) == 1
    missing = invoke("--mode", "paper", "--ack")
    assert (
        missing.exit_code == 2
        and "optbot-paper.sqlite" in missing.output
        and "does not exist" in missing.output
    )


@contextmanager
def _started_paper_engine(tmp_path: Path) -> Iterator[TradingEngine]:
    """A paper engine started on the paper journal, as `optbot run --mode paper` builds it: its
    startup reconciliation reads that journal's unacknowledged mismatches, and any blocks entries."""
    from datetime import date, time

    from optbot.config import Settings
    from optbot.core.clock import SimClock
    from optbot.core.timeutil import ist_datetime
    from optbot.engine.builder import Venue, VenueSpec, build_engine
    from optbot.test_kit.execution import drive
    from optbot.test_kit.instruments import build_master

    day = date(2026, 8, 7)
    clock = SimClock(ist_datetime(day, time(10, 0)))
    settings = Settings(paths={"data_root": tmp_path / "data"}, universe={"underlyings": ["NIFTY"]})
    store = Store.open(state_db_path(settings, paper=True), clock)
    try:
        engine = build_engine(
            settings, clock, store, build_master(as_of=day), VenueSpec(Venue.PAPER), strategies=[]
        ).engine
        asyncio.run(drive(clock, engine.start(day)))
        yield engine
    finally:
        store.close()


def _paper_session_start_block(tmp_path: Path) -> str | None:
    with _started_paper_engine(tmp_path) as engine:
        return engine.trading_blocked


def test_a_paper_mismatch_blocks_the_paper_start_until_acknowledged_here(
    invoke: Invoke, config: Path, tmp_path: Path
) -> None:
    _record_paper_mismatch(config)
    blocked = _paper_session_start_block(tmp_path)
    assert blocked is not None and "earlier mismatch not acknowledged" in blocked
    assert invoke("--mode", "paper", "--ack").exit_code == 0
    assert _paper_session_start_block(tmp_path) is None


def test_a_running_paper_session_lets_entries_through_once_its_mismatch_is_acknowledged(
    invoke: Invoke, config: Path, tmp_path: Path
) -> None:
    """The operator acknowledges from another shell while the session runs: the session's next health
    check lifts the startup block without a restart; until then, and before the ack, it stays."""
    _record_paper_mismatch(config)
    with _started_paper_engine(tmp_path) as engine:
        assert engine.trading_blocked is not None
        assert engine.acknowledge_command() == "optbot reconcile --mode paper --ack"
        assert not engine.lift_acknowledged_block()  # not acknowledged yet
        assert invoke("--mode", "paper", "--ack").exit_code == 0
        assert engine.lift_acknowledged_block()
        assert engine.trading_blocked is None
        assert not engine.lift_acknowledged_block()  # nothing left to lift

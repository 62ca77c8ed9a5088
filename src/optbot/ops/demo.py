"""`optbot demo`: a whole trading day through the real live path, against the local SmartAPI simulator.

The simulator replays a real sample NIFTY session (from `data/sample/`) on a shared `SimClock` at
high speed. The bot then does exactly what it does live: TOTP login, instrument master download,
history sync, ADX categories, health checks, startup reconciliation, socket subscription, bars,
signals, risk decisions, orders through the REST client, fills from the order-update socket, the
calendar's flatten and cancel deadlines, EOD reconciliation and reports. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets as token_source
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

from optbot.analytics.synthetic import model_for
from optbot.broker.angelone.factory import build_stack
from optbot.broker.angelone.secrets import SecretStore, encrypted_file_backend
from optbot.calendar import NseCalendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.timeutil import ist_datetime, to_ist
from optbot.engine.core import TradingEngine
from optbot.ops.run_mode import DEMO_MODE
from optbot.ops.session import SessionRunner, Stage, StageFailed
from optbot.portfolio.trades import closed_trades
from optbot.sim.auth import demo_account
from optbot.sim.market.replay import ReplayMarket
from optbot.sim.server import Simulator

log = logging.getLogger("optbot.demo")

#: A trending sample session on which the default strategy trades (ADX category 1, breakout at 13:55).
DEFAULT_DEMO_DAY = date(2020, 11, 18)
DEMO_START = time(9, 5)
PREPARE_STEP_SECONDS = 0.5
DEMO_TICK_SECONDS = 10.0
DEMO_MARKER = ".optbot-demo"


@dataclass
class DemoSummary:
    day: date
    stages: list[Stage]
    engine: TradingEngine | None
    out_dir: Path
    report_files: list[Path] = field(default_factory=list)
    feed_ticks: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[Stage]:
        return [stage for stage in self.stages if not stage.passed and stage.critical]

    def as_dict(self) -> dict[str, Any]:
        """The summary; computed once while the engine's store is open, then kept."""
        if self.data:
            return self.data
        engine = self.engine
        trades = closed_trades(engine.store.fills()) if engine is not None else []
        fills = engine.store.fills() if engine is not None else []
        return {
            "day": self.day.isoformat(),
            "stages": [{"name": s.name, "passed": s.passed, "detail": s.detail} for s in self.stages],
            "orders": len(engine.store.all_orders()) if engine is not None else 0,
            "fills": len(fills),
            "trades": [
                {
                    "symbol": trade.symbol,
                    "quantity": trade.quantity,
                    "entry_price": trade.entry_price,
                    "exit_price": trade.exit_price,
                    "gross_pnl": round(trade.gross_pnl, 2),
                    "net_pnl": round(trade.net_pnl, 2),
                }
                for trade in trades
            ],
            "charges": round(sum(fill.charges for fill in fills), 2),
            "net_pnl": round(engine.portfolio.realised_total_net(), 2) if engine is not None else 0.0,
            "risk_events": [
                f"{change.previous.value} -> {change.current.value}: {change.reason}"
                for change in (engine.risk.state_changes if engine is not None else [])
            ],
            "feed_ticks": self.feed_ticks,
            "journal": [entry.line() for entry in (engine.journal if engine is not None else [])],
            "options_note": (
                "option prices are synthetic (the calibrated model from the replayed index and VIX)"
            ),
        }


def demo_clock(day: date) -> SimClock:
    """The replay's clock, starting before the pre-open so the bot can prepare."""
    return SimClock(ist_datetime(day, DEMO_START))


def prepare_output(out_dir: Path) -> None:
    """A fresh demo directory; refuses to wipe a directory that is not a previous demo's."""
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / DEMO_MARKER).exists():
            raise StageFailed(
                f"{out_dir} is not empty and was not made by `optbot demo`; choose another --out"
            )
        import shutil

        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DEMO_MARKER).write_text("made by optbot demo\n", encoding="utf-8")


#: The demo's stall window (a whole day): see `demo_settings`.
DEMO_FEED_STALE_SECONDS = 86_400.0
#: The demo's startup wait for the market socket, in its simulated seconds: while the bot prepares,
#: the clock moves PREPARE_STEP_SECONDS every 2 ms or more, so the live default (10 s) would be 40 ms
#: of real time for a handshake; 600 s is at least 2.4 s of real time.
DEMO_SOCKET_WAIT_SECONDS = 600.0


def demo_settings(base: Settings, out_dir: Path, sim: Simulator, data_dir: Path) -> Settings:
    account = demo_account()
    update: dict[str, Any] = {
        "paths": base.paths.model_copy(update={"data_root": out_dir}),
        "broker": base.broker.model_copy(
            update={
                "client_code": account.client_code,
                "rest_base_url": sim.base_url,
                "market_ws_url": sim.market_ws_url,
                "order_ws_url": sim.order_ws_url,
                "scrip_master_url": f"{sim.base_url}/OpenAPI_File/files/OpenAPIScripMaster.json",
                "keyring_backend": "cryptfile",
                # One simulated clock drives both sides at up to 3000x: a few real milliseconds of
                # socket scheduling would read as minutes of silence, so the demo does not judge stalls.
                "feed_stale_seconds": DEMO_FEED_STALE_SECONDS,
            }
        ),
        "universe": base.universe.model_copy(update={"underlyings": ["NIFTY"]}),
        "replay": base.replay.model_copy(update={"data_dir": data_dir}),
        "execution": base.execution.model_copy(update={"reprice_policy": "reprice", "max_reprices": 2}),
        "engine": base.engine.model_copy(update={"startup_socket_wait_seconds": DEMO_SOCKET_WAIT_SECONDS}),
    }
    return base.model_copy(update=update)


def store_demo_secrets(settings: Settings, out_dir: Path) -> SecretStore:
    """The simulator's throwaway account, kept the way a real account is: in the encrypted keyring."""
    account = demo_account()
    backend = encrypted_file_backend(out_dir / "demo-keyring.cfg", token_source.token_urlsafe(24))
    store = SecretStore(backend, settings.broker.keyring_service)
    store.set("api_key", account.api_key)
    store.set("pin", account.pin)
    store.set("totp_secret", account.totp_secret)
    return store


async def _pump(clock: SimClock, until_event: asyncio.Event) -> None:
    """Before the open nothing ticks: move simulated time along while the bot prepares."""
    while not until_event.is_set():
        await asyncio.sleep(0.002)
        try:
            clock.advance(PREPARE_STEP_SECONDS)
        except Exception:
            log.exception("a timer failed while the demo moved simulated time")
            raise


async def run_demo(
    base: Settings,
    out_dir: Path,
    calendar: NseCalendar,
    *,
    day: date = DEFAULT_DEMO_DAY,
    speed: float = 3000.0,
    data_dir: Path,
    on_stage: Callable[[Stage], None] | None = None,
    clock: SimClock | None = None,
) -> DemoSummary:
    """`clock`: the simulated clock to run on (the CLI passes the one its log lines are stamped with);
    by default one starting at DEMO_START on `day`."""
    prepare_output(out_dir)
    clock = clock if clock is not None else demo_clock(day)
    market = ReplayMarket(
        clock,
        base.replay.model_copy(update={"data_dir": data_dir, "tick_seconds": 5.0}),
        calendar,
        option_model=model_for(base.analytics.calibration_file, calendar),
    )
    sim = Simulator(market, clock, [demo_account()], settings=base.sim)
    await sim.start()
    settings = demo_settings(base, out_dir, sim, data_dir)
    secrets = store_demo_secrets(settings, out_dir)
    stack = build_stack(settings, clock, secrets)
    runner = SessionRunner(
        settings,
        clock,
        stack,
        calendar,
        paper=False,
        on_stage=on_stage,
        serve_operations=False,
        mode=DEMO_MODE,
    )
    summary = DemoSummary(day, runner.outcome.stages, None, out_dir)
    prepared = asyncio.Event()
    pump = asyncio.create_task(_pump(clock, prepared))
    try:
        engine = await runner.prepare()
        await runner.start_market()
        prepared.set()
        await pump
        schedule = runner.schedule
        assert schedule is not None and schedule.session is not None
        end = schedule.post_market_end or schedule.session.close_utc
        clock.speed = speed
        # up to the open in steps, as a live morning passes: the socket connected while the bot
        # prepared, and one jump to the open would read as ten minutes without a heartbeat
        await clock.run_until(schedule.session.open_utc, max_step=timedelta(seconds=5))
        await market.run(schedule.session.open_utc, schedule.session.close_utc)
        await clock.run_until(end, max_step=timedelta(seconds=5))
        summary.engine = engine
        clock.speed = None
        finishing = asyncio.Event()
        pump = asyncio.create_task(_pump(clock, finishing))  # EOD calls still wait on rate limits
        await runner.finish()
        finishing.set()
        summary.feed_ticks = runner.outcome.feed_ticks
        summary.report_files = [*runner.outcome.report_files, *write_demo_report(summary)]
    except StageFailed:
        summary.engine = runner.engine
    finally:
        prepared.set()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        with contextlib.suppress(Exception):
            await runner.finish()
        runner.close()
        await stack.aclose()
        await sim.stop()
    return summary


def write_demo_report(summary: DemoSummary) -> list[Path]:
    reports = summary.out_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    data = summary.data = summary.as_dict()
    json_path = reports / f"demo-{summary.day.isoformat()}.json"
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    journal_path = reports / f"journal-{summary.day.isoformat()}.txt"
    journal_path.write_text("\n".join(data["journal"]) + "\n", encoding="utf-8")
    return [json_path, journal_path]


def describe_time(summary: DemoSummary) -> str:
    if summary.engine is None:
        return ""
    return f"{to_ist(summary.engine.clock.now_utc()):%Y-%m-%d %H:%M} IST"

"""The soak campaigns against the real processes: `optbot sim serve` replaying sample sessions faster than
real time and `optbot run --mode live --confirm-live --follow-sim` trading them over loopback, with the
faults `optbot sim fault` injects and SIGKILLs a user's systemd would answer with a restart.

After every run the simulator's books (what the broker did) are compared with the bot's store: a tag
sent twice is a duplicate order, a broker fill the bot never booked is a lost fill, a reconciliation
that came out unclean and was never explained is a break, and a position open at the broker after the
day is a failure to recover.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from optbot.core.clock import LiveClock
from optbot.core.enums import OrderStatus
from optbot.core.timeutil import IST
from optbot.sim.admin_client import admin_request
from optbot.test_kit.live_run import (
    SimProcess,
    base_env,
    read_status,
    start_bot,
    start_simulator,
    stop_process,
    wait_until,
)
from tests.soak.figures import CampaignRow, record_campaign

CLIENT_CODE = "S1234567"
#: Replay speed (x real time) of the campaigns; a full session from 09:00 to 16:05 takes ~2 minutes.
SPEED = float(os.environ.get("OPTBOT_SOAK_SPEED", "250"))
#: Feed and session-recovery timing for the campaigns: a stall is a 2 s silence, a resubscribe gets 1 s
#: before a reconnect, and a session check that fails may re-login at once (the runbook's cap is tested
#: elsewhere; a soak needs every burst to heal).
SETTINGS = {
    "BROKER__FEED_STALE_SECONDS": "2",
    "BROKER__FEED_RESUBSCRIBE_WAIT_SECONDS": "1",
    "BROKER__RECONNECT_INITIAL_DELAY_SECONDS": "0.2",
    "BROKER__RECONNECT_MAX_DELAY_SECONDS": "1",
    "BROKER__REST_FALLBACK_INTERVAL_SECONDS": "0.5",
    "ENGINE__SESSION_RECOVERY_MIN_GAP_MINUTES": "0",
    "ENGINE__HEALTH_CHECK_INTERVAL_MINUTES": "2",
    # Timeouts are real seconds and a replay runs 250 x faster: a 10 s timeout would be 40 replayed
    # minutes. The client gives up after 3 s, and a slow reply takes 4 s: lost, then found (defect 4).
    "BROKER__HTTP_TIMEOUT_SECONDS": "3",
    # Likewise the wait before an order whose reply was lost is settled "never reached the broker":
    # 30 real seconds are two replayed hours, so an exit that met a 503 at 14:10 was retried only
    # after the close. 8 s (33 replayed minutes) still outlasts the slow reply (4 s).
    "EXECUTION__UNRESOLVED_NOT_FOUND_GRACE_SECONDS": "8",
    "SIM__REPLAY_START_TIME_IST": "09:00",
    "SIM__REPLAY_END_TIME_IST": "16:05",
    "MODE": "live",  # the config's switch; --confirm-live is the command line's
    # The campaigns need orders to fault: at 500,000 the sizing's premium-outlay cap (5% x the VIX
    # band, x0.5 above VIX 18) leaves an ATM NIFTY option of the sample sessions (~150-170 a unit,
    # 75 a lot) at 0 lots on most entries. Twice the capital trades them; the order path is the same.
    "BACKTEST__INITIAL_CAPITAL": "1000000",
}
#: How long a stalled feed stays silent (real seconds: several stale windows).
STALL_SECONDS = 4.0
#: Real seconds a fault or a restart may take to heal before the campaign calls it a failure.
RECOVERY_LIMIT_SECONDS = 90.0


@dataclass(frozen=True, slots=True)
class FaultClass:
    """One fault of the issue, as `optbot sim fault KIND ...` sends it."""

    name: str
    body: dict[str, Any] = field(default_factory=dict)


FAULT_CLASSES = (
    FaultClass("feed_stall", {"stalled": True}),
    FaultClass("drop_ws"),
    FaultClass("forbid_storm", {"count": 25}),
    FaultClass("server_errors", {"count": 25, "status": 503}),
    FaultClass("slow_replies", {"seconds": 4, "count": 1, "endpoints": ["placeOrder"]}),
)


@dataclass(frozen=True, slots=True)
class Books:
    """The broker's books against the bot's store after a run."""

    orders_at_broker: int
    duplicate_orders: int
    broker_fills: int
    lost_fills: int
    phantom_fills: int
    breaks: tuple[str, ...]
    open_at_broker: int
    open_in_store: int
    orders_unresolved: int

    def problems(self) -> list[str]:
        found = []
        if self.duplicate_orders:
            found.append(f"{self.duplicate_orders} duplicate order(s)")
        if self.lost_fills or self.phantom_fills:
            found.append(f"{self.lost_fills} lost / {self.phantom_fills} phantom fill(s)")
        if self.breaks:
            found.append(f"reconciliation breaks: {list(self.breaks)[:3]}")
        if self.open_at_broker or self.open_in_store:
            found.append(f"not flat: {self.open_at_broker} at the broker, {self.open_in_store} in the store")
        if self.orders_unresolved:
            found.append(f"{self.orders_unresolved} order(s) left unresolved")
        return found


def read_books(sim: SimProcess, root: Path, day: str) -> Books:
    """The broker's books of the replay's current session `day` (a broker's order and trade books are
    the day's) against the bot's store for that day."""
    state = admin_request(sim.base_url, "GET", f"/sim/v1/state?client_code={CLIENT_CODE}")["accounts"][0]
    tags = [str(row["ordertag"]) for row in state["orders"]]
    broker_fills = {(str(row["orderid"]), str(row["fillid"])) for row in state["trades"]}
    open_at_broker = sum(1 for row in state["positions"] if int(float(row["netqty"])) != 0)
    database = sqlite3.connect(f"file:{root / 'state' / 'optbot.sqlite'}?mode=ro", uri=True)
    try:
        local_fills = {
            (str(order), str(fill))
            for order, fill in database.execute(
                "SELECT broker_order_id, fill_id FROM fills WHERE trade_date = ?", (day,)
            )
        }
        breaks = tuple(
            str(diff)
            for (diff,) in database.execute(
                "SELECT diff FROM reconciliations WHERE clean = 0 AND acknowledged_utc IS NULL"
            )
        )
        open_in_store = database.execute("SELECT COUNT(*) FROM positions WHERE net_quantity != 0").fetchone()[
            0
        ]
        statuses = [status for (status,) in database.execute("SELECT status FROM orders")]
    finally:
        database.close()
    return Books(
        orders_at_broker=len(tags),
        duplicate_orders=len(tags) - len(set(tags)),
        broker_fills=len(broker_fills),
        lost_fills=len(broker_fills - local_fills),
        phantom_fills=len(local_fills - broker_fills),
        breaks=breaks,
        open_at_broker=open_at_broker,
        open_in_store=int(open_in_store),
        orders_unresolved=sum(1 for status in statuses if not OrderStatus(status).is_terminal),
    )


class LiveBot:
    """The bot as a user runs it, restarted after a SIGKILL as `Restart=always` would."""

    def __init__(self, sim: SimProcess, env: dict[str, str], root: Path, logs: Path, sessions: int | None):
        self.sim = sim
        self.env = env
        self.root = root
        self.logs = logs
        self.sessions = sessions
        self.starts = 0
        self.process: subprocess.Popen[str] | None = None
        self.clock = LiveClock()

    def start(self) -> None:
        self.starts += 1
        arguments = ["--mode", "live", "--confirm-live", "--follow-sim", self.sim.base_url]
        if self.sessions is not None:
            arguments += ["--sessions", str(self.sessions)]
        self.process = start_bot(self.env, self.log(), *arguments)

    def log(self, start: int | None = None) -> Path:
        return self.logs / f"bot-{start or self.starts}.log"

    def output(self) -> str:
        return "".join(self.log(number).read_text() for number in range(1, self.starts + 1))

    def status(self) -> dict[str, Any]:
        return read_status(self.root)

    def engine(self) -> dict[str, Any]:
        return dict(self.status().get("engine") or {})

    def feed(self) -> dict[str, Any]:
        return dict(self.status().get("feed") or {})

    def exposed(self) -> bool:
        """An order in flight or a position open: the moment a fault or a kill should hit."""
        engine = self.engine()
        return bool(engine.get("orders_in_flight") or engine.get("open_positions"))

    def healthy(self) -> bool:
        """Trading again: the session's market loop runs, nothing blocks or pauses entries, data flows."""
        return not self.unhealthy()

    def unhealthy(self) -> list[str]:
        """Why the bot is not trading normally (empty when it is)."""
        if self.process is None or self.process.poll() is not None:
            return ["the bot is not running"]
        status = self.status()
        if status.get("pid") != self.process.pid:
            return ["no status from the running bot yet"]
        engine = dict(status.get("engine") or {})
        feed = dict(status.get("feed") or {})
        stages = {stage["name"]: stage["passed"] for stage in status.get("stages", [])}
        reasons = []
        if stages.get("operations") is not True:
            reasons.append(f"session not trading yet (stages {sorted(stages)})")
        if engine.get("trading_blocked"):
            reasons.append(f"trading blocked: {engine['trading_blocked']}")
        if engine.get("entries_paused") != {}:
            reasons.append(f"entries paused: {engine.get('entries_paused')}")
        if feed.get("receiving") is not True:
            reasons.append(f"feed not receiving: {feed}")
        return reasons

    def explain(self) -> str:
        """For a failed wait: why the bot is not healthy, its clock, and the tail of its output."""
        status = self.status()
        return (
            f"{self.unhealthy()} at {status.get('clock_ist')} ({status.get('phase')}); output: "
            + (self.output()[-1500:])
        )

    def kill9(self) -> None:
        assert self.process is not None and self.process.poll() is None, self.output()[-3000:]
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace_seconds=60)


@dataclass(frozen=True, slots=True)
class Injection:
    fault: str
    requests_hit: int  # REST requests the fault answered (1 for a stall or a drop)
    recovery_seconds: float  # real seconds from the injection until the bot traded normally again


def inject(sim: SimProcess, bot: LiveBot, fault: FaultClass, not_after: datetime) -> Injection:
    """Inject one fault class; a REST fault that meets no request before `not_after` (replay time:
    no order was sent) is cleared and counts as not injected."""
    clock = LiveClock()
    started = clock.monotonic()
    before = sum(sim.fault_state()["injected"].values())
    outages = int(bot.feed().get("outages") or 0)
    sim.fault(fault.name, **fault.body)
    hit = 1
    if fault.name == "feed_stall":
        wait_until(lambda: bool(bot.engine().get("entries_paused")), 30, "entries paused on a silent feed")
        wait_until(lambda: clock.monotonic() - started >= STALL_SECONDS, STALL_SECONDS + 1, "the stall")
        sim.fault("feed_stall", stalled=False)
    elif fault.name == "drop_ws":
        wait_until(lambda: int(bot.feed().get("outages") or 0) > outages, 30, "the dropped socket noticed")
    else:
        key = fault.name
        wait_until(
            lambda: sim.fault_state()[key] is None or sim.clock_utc() >= not_after,
            RECOVERY_LIMIT_SECONDS * 3,
            f"{key} consumed",
        )
        if sim.fault_state()[key] is not None:
            admin_request(sim.base_url, "DELETE", "/sim/v1/faults")
        hit = sum(sim.fault_state()["injected"].values()) - before
    wait_until(bot.healthy, RECOVERY_LIMIT_SECONDS, f"recovery from {fault.name}", explain=bot.explain)
    return Injection(fault.name, hit, clock.monotonic() - started)


def restart_after_kill(bot: LiveBot) -> float:
    """SIGKILL the bot and start it again at once (systemd's `Restart=always`); real seconds until it
    trades normally again."""
    clock = LiveClock()
    started = clock.monotonic()
    bot.kill9()
    bot.start()
    wait_until(bot.healthy, RECOVERY_LIMIT_SECONDS, "recovery after SIGKILL", explain=bot.explain)
    return clock.monotonic() - started


def replay_time(day: str, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime.combine(date.fromisoformat(day), time(int(hours), int(minutes)), tzinfo=IST)


def wait_for_exposure(sim: SimProcess, bot: LiveBot, not_after: datetime) -> bool:
    """Wait until the bot has an order in flight or a position open, or the replay reaches `not_after`;
    True when exposed."""
    wait_until(
        lambda: bot.exposed() or sim.clock_utc() >= not_after,
        RECOVERY_LIMIT_SECONDS * 4,
        f"exposure or {not_after:%H:%M}",
        poll=0.05,
        explain=bot.explain,
    )
    return bot.exposed()


@dataclass
class CampaignTally:
    """What one campaign did and found, for `make soak`'s figures table."""

    name: str
    runs: int = 0
    faults: int = 0
    kills: int = 0
    exposed: int = 0  # faults and kills that hit an order in flight or an open position
    duplicates: int = 0
    lost_fills: int = 0
    breaks: int = 0
    unrecovered: int = 0  # runs that ended not flat or with an order unresolved
    recoveries: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add_books(self, books: Books, label: str) -> None:
        self.duplicates += books.duplicate_orders
        self.lost_fills += books.lost_fills + books.phantom_fills
        self.breaks += len(books.breaks)
        if books.open_at_broker or books.open_in_store or books.orders_unresolved:
            self.unrecovered += 1
        self.problems += [f"{label}: {problem}" for problem in books.problems()]


def campaign_env(root: Path) -> dict[str, str]:
    return base_env(root, **SETTINGS)


def start_replay(
    tmp: Path, days: Sequence[str], end_ist: str = "16:05"
) -> tuple[SimProcess, dict[str, str], Path]:
    """`optbot sim serve` replaying `days` back to back from 09:00 to `end_ist` each. With several
    days the replay must run past the post-market (16:00) long enough for the bot's EOD: the broker
    logs every session out at its day change, and a replay jumps to the next morning at once."""
    root = tmp / "root"
    env = {**campaign_env(root), "OPTBOT__SIM__REPLAY_END_TIME_IST": end_ist}
    return start_simulator(env, tmp / "sim.log", speed=SPEED, day=list(days)), env, root


def record_tally(tally: CampaignTally, note: str = "") -> bool:
    """Record the campaign's row for `make soak`'s table; True when every target was met."""
    clean = not (tally.duplicates or tally.lost_fills or tally.breaks or tally.unrecovered or tally.problems)
    met = clean and tally.faults + tally.kills > 0  # a fault that met no request tested nothing
    record_campaign(
        CampaignRow(
            campaign=tally.name,
            runs=tally.runs,
            faults=tally.faults + tally.kills,
            duplicates=tally.duplicates,
            lost_fills=tally.lost_fills,
            breaks=tally.breaks,
            recoveries=tuple(tally.recoveries),
            met=met,
            note=note,
        )
    )
    return met

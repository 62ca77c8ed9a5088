"""`optbot demo` (and the startup checks it begins with, each a clear PASS/FAIL line)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from optbot.calendar import Segment
from optbot.cli.common import console, data_root_option, settings_from, state
from optbot.core.bundled import SAMPLE_STORE
from optbot.core.clock import Clock, LiveClock, SimClock
from optbot.core.enums import RunMode
from optbot.core.errors import UserError
from optbot.core.timeutil import parse_iso

if TYPE_CHECKING:
    from optbot.calendar import NseCalendar
    from optbot.config import Settings
    from optbot.ops.demo import DemoSummary
    from optbot.ops.session import Stage

# The settings model, the engine, the simulator and the supervisor are imported inside the commands
# that run them, so each command's --help and a bad argument answer without loading them.


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    warning: bool = False


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_data_root(settings: Settings) -> CheckResult:
    root = settings.paths.data_root
    existing = _nearest_existing(root)
    writable = os.access(existing, os.W_OK)
    state_text = "exists" if root.exists() else f"will be created under {existing}"
    return CheckResult(
        "data root", writable, f"{root} ({state_text}; {'writable' if writable else 'NOT writable'})"
    )


def check_calendar(calendar: NseCalendar, clock: Clock, warning_days: int) -> CheckResult:
    """Passes while the calendar answers for today; past its known range, with a provisional warning."""
    today = clock.now_ist().date()
    known = f"overrides v{calendar.version}, known range {calendar.first_date}..{calendar.last_date}"
    if calendar.synced is not None:
        known += f" (NSE list synced {calendar.synced.fetched_on})"
    if not calendar.covers(today):
        detail = f"{known}; today {today} is OUTSIDE it and the provisional range: run `optbot calendar sync`"
        return CheckResult("calendar", False, detail)
    if calendar.is_provisional(today):
        detail = (
            f"{known}; today {today} is PROVISIONAL: weekdays are assumed sessions with the last known "
            "hours, confirmed on the day by the broker; run `optbot calendar sync` for NSE's holiday list"
        )
        return CheckResult("calendar", True, detail, warning=True)
    left = calendar.days_of_coverage_left(today)
    detail = f"{known}; today {today} is covered"
    warn = left < warning_days
    if warn:
        detail += (
            f"; only {left} days of coverage left: run `optbot calendar sync` "
            "(or add next year's holidays to calendar.overrides_file)"
        )
    return CheckResult("calendar", True, detail, warning=warn)


def trading_day_decision(calendar: NseCalendar, clock: Clock) -> CheckResult:
    """Today's trading-day decision and the operating mode it implies (spec §1.1, §8.2)."""
    now = clock.now_ist()
    today = now.date()
    session = calendar.session(today, Segment.FO)
    if session is None:
        reason = calendar.holiday_name(today) or ("weekend" if today.weekday() >= 5 else "no session")
        try:
            following = f"next trading day {calendar.next_trading_day(today)}"
        except UserError:
            following = "next trading day beyond the calendar's range"
        detail = f"{today} is not a trading day ({reason}); {following}: data-management mode"
        return CheckResult("trading day", True, detail)
    kind = f" special session: {session.name}" if session.special else ""
    kind += " (provisional: past the calendar's known range)" if session.provisional else ""
    times = (
        f"pre-open {session.pre_open:%H:%M}, open {session.open:%H:%M}, close {session.close:%H:%M} IST{kind}"
    )
    if now >= session.post_close:
        mode = "session over: data-management mode"
    elif now >= session.pre_open:
        mode = "market hours: trading mode"
    else:
        mode = "before the session: pre-market checks, then trading mode"
    return CheckResult("trading day", True, f"{today} is an F&O trading day ({times}); {mode}")


def run_checks(clock: Clock, config_path: Path | None) -> list[CheckResult]:
    from optbot.config import ConfigError, effective_mode, load_settings
    from optbot.config.checks import registered_problems
    from optbot.ops.calendar_sync import calendar_from_settings
    from optbot.strategy.registry import strategy_problems  # noqa: F401 - registers its settings check

    results: list[CheckResult] = []
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        results.append(CheckResult("config", False, "; ".join(exc.problems)))
        return results
    source = str(config_path) if config_path else "defaults (no --config / $OPTBOT_CONFIG)"
    mode = effective_mode(settings, confirm_live=False)
    problems = registered_problems(settings)  # what `run` would refuse, refused here the same way
    if problems:
        results.append(CheckResult("config", False, "; ".join(problems)))
        return results
    results.append(CheckResult("config", True, f"loaded from {source}; mode {settings.mode} -> runs {mode}"))
    results.append(check_data_root(settings))
    try:
        calendar = calendar_from_settings(settings)
    except UserError as exc:
        results.append(CheckResult("calendar", False, str(exc)))
        return results
    calendar_result = check_calendar(calendar, clock, settings.calendar.coverage_warning_days)
    results.append(calendar_result)
    if calendar_result.passed:
        results.append(trading_day_decision(calendar, clock))
    return results


def _mark(passed: bool, warning: bool = False) -> str:
    return "[red]FAIL[/red]" if not passed else "[yellow]WARN[/yellow]" if warning else "[green]PASS[/green]"


def demo_command(
    ctx: typer.Context,
    out: Path = typer.Option(Path("optbot-demo"), "--out", help="where the demo writes its data and reports"),
    day: str | None = typer.Option(None, "--day", help="sample session to replay (YYYY-MM-DD)"),
    speed: float | None = typer.Option(
        None, "--speed", min=1.0, help="replay speed (x real time; default engine.demo_speed)"
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        callback=data_root_option,
        help="data root to replay (default: the project's data/sample/store)",
    ),
) -> None:
    """A whole trading day through the live path against the local SmartAPI simulator (no account needed)."""
    requested_day = _parse_day(day) if day else None
    given_data_dir = _given_data_root(data) if data is not None else None
    from optbot.config import load_settings
    from optbot.log import configure_logging, shutdown_logging
    from optbot.ops.calendar_sync import calendar_from_settings
    from optbot.ops.demo import DEFAULT_DEMO_DAY, demo_clock, prepare_output, run_demo
    from optbot.ops.session import StageFailed

    replay_day = requested_day or DEFAULT_DEMO_DAY
    cli_state = state(ctx)
    config_path = cli_state.resolved_config_path()
    clock = LiveClock()
    console.print(f"optbot demo — startup checks at {clock.now_ist():%Y-%m-%d %H:%M:%S} IST", highlight=False)
    checks = run_checks(clock, config_path)
    for result in checks:
        console.print(
            f"{_mark(result.passed, result.warning)} {result.name}: {result.detail}",
            highlight=False,
            soft_wrap=True,
        )
    if not all(result.passed for result in checks):
        raise typer.Exit(1)
    settings = load_settings(config_path)
    data_dir = given_data_dir or _sample_dir(settings.replay.data_dir)
    out_dir = out.resolve()
    calendar = calendar_from_settings(settings)
    require_trading_day(calendar, replay_day)
    quiet = settings.model_copy(
        update={
            "logging": settings.logging.model_copy(update={"console": False}),
            "paths": settings.paths.model_copy(update={"data_root": out_dir}),
        }
    )
    replay_speed = demo_replay_speed(speed, settings)
    console.print(
        f"replaying the NIFTY session of {replay_day} through the SmartAPI simulator "
        f"on 127.0.0.1 {describe_speed(replay_speed)}",
        highlight=False,
    )

    started = clock.monotonic()

    def show(stage: Stage) -> None:
        console.print(f"[dim]{clock.monotonic() - started:5.1f}s[/dim] ", end="")
        console.print(
            f"{_mark(stage.passed, not stage.critical and not stage.passed)} {stage.name}: {stage.detail}",
            highlight=False,
            soft_wrap=True,
        )

    try:
        prepare_output(out_dir)
    except StageFailed as exc:
        raise UserError(str(exc)) from None
    replay_clock = demo_clock(replay_day)  # the log follows simulated time, as the engine does
    log_path = configure_logging(quiet, replay_clock, log_dir=out_dir / "logs")
    try:
        summary = asyncio.run(
            run_demo(
                quiet,
                out_dir,
                calendar,
                day=replay_day,
                speed=replay_speed,
                data_dir=data_dir,
                on_stage=show,
                clock=replay_clock,
            )
        )
    finally:
        shutdown_logging()
    _print_summary(summary, log_path)
    console.print(f"demo finished in {clock.monotonic() - started:.0f} s", highlight=False)
    if summary.failed or summary.engine is None or not summary.report_files:
        raise typer.Exit(1)


def demo_replay_speed(cli_speed: float | None, settings: Settings) -> float:
    """`--speed` when given, else `engine.demo_speed` (0 = unpaced: as fast as the machine allows)."""
    return cli_speed if cli_speed is not None else settings.engine.demo_speed


def describe_speed(speed: float) -> str:
    return f"at {speed:g}x" if speed > 0 else "as fast as the machine allows"


def require_trading_day(calendar: NseCalendar, day: date) -> None:
    """The demo replays one F&O session: a weekend or holiday is refused in one line (exit 2)."""
    if calendar.session(day, Segment.FO) is not None:
        return
    reason = calendar.holiday_name(day) or ("a weekend" if day.weekday() >= 5 else "no F&O session")
    following = calendar.next_trading_day(day)
    raise UserError(f"--day {day} is not a trading day ({reason}); the next trading day is {following}")


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--day: not a date (YYYY-MM-DD): {text!r}") from None


def _given_data_root(given: Path) -> Path:
    """`--data`, checked before anything runs: a folder that is not a data root is refused, not
    swapped for the bundled sample as an unset `replay.data_dir` is."""
    if (given / "timeframes").is_dir():
        return given.resolve()
    raise UserError(
        f"--data {given}: not a data root (it should hold timeframes/<SYMBOL>/<tf>.json, "
        "e.g. data/sample/store)"
    )


def _sample_dir(configured: Path) -> Path:
    """The data root to replay: as configured, else the project's own data/sample/store."""
    if (configured / "timeframes").is_dir():
        return configured.resolve()
    if (SAMPLE_STORE / "timeframes").is_dir():
        return SAMPLE_STORE
    raise UserError(
        f"no data root at {configured} (it should hold timeframes/<SYMBOL>/<tf>.json; "
        "set replay.data_dir or pass --data)"
    )


def _print_summary(summary: DemoSummary, log_path: Path | None) -> None:
    data = summary.as_dict()
    console.rule("demo summary")
    console.print(
        f"orders {data['orders']}, fills {data['fills']}, closed trades {len(data['trades'])}, "
        f"charges {data['charges']:,.2f}, net P&L after charges {data['net_pnl']:,.2f}",
        highlight=False,
    )
    for trade in data["trades"]:
        console.print(
            f"  trade {trade['symbol']} x{trade['quantity']}: "
            f"{trade['entry_price']:.2f} -> {trade['exit_price']:.2f}, "
            f"net {trade['net_pnl']:,.2f}",
            highlight=False,
        )
    for event in data["risk_events"]:
        console.print(f"  risk: {event}", highlight=False, soft_wrap=True)
    console.print(
        f"socket ticks received: {data['feed_ticks']}; {data['options_note']}",
        highlight=False,
        soft_wrap=True,
    )
    for path in summary.report_files:
        console.print(f"report: {path}", highlight=False, soft_wrap=True)
    if log_path is not None:
        console.print(f"structured log: {log_path}", highlight=False, soft_wrap=True)
    if summary.failed:
        console.print(f"[red]failed stages: {', '.join(stage.name for stage in summary.failed)}[/red]")


def check_command(
    ctx: typer.Context,
    at: str | None = typer.Option(None, "--at", help="evaluate at this ISO time (with offset), not now"),
) -> None:
    """Startup checks: config, data root, calendar coverage and today's trading-day decision."""
    if at is not None:
        try:
            clock: Clock = SimClock(parse_iso(at))
        except ValueError:
            raise UserError(f"--at: not an ISO date-time with a UTC offset: {at!r}") from None
    else:
        clock = LiveClock()
    cli_state = state(ctx)
    config_path = cli_state.resolved_config_path()
    now: datetime = clock.now_ist()
    console.print(f"optbot startup checks at {now:%Y-%m-%d %H:%M:%S} IST", highlight=False)
    results = run_checks(clock, config_path)
    for result in results:
        mark = (
            "[red]FAIL[/red]"
            if not result.passed
            else "[yellow]WARN[/yellow]"
            if result.warning
            else "[green]PASS[/green]"
        )
        console.print(f"{mark} {result.name}: {result.detail}", highlight=False, soft_wrap=True)
    log_path = _log_results(results, clock, config_path)
    if log_path is not None:
        console.print(f"structured log: {log_path}", highlight=False, soft_wrap=True)
    if not all(result.passed for result in results):
        raise typer.Exit(1)


def _log_results(results: list[CheckResult], clock: Clock, config_path: Path | None) -> Path | None:
    """Write each check to the JSON log (when config loads and the data root is writable)."""
    from optbot.config import load_settings
    from optbot.core.ids import new_trace_id
    from optbot.log import bind_trace, configure_logging, get_logger, shutdown_logging

    if not results or not results[0].passed or not any(r.name == "data root" and r.passed for r in results):
        return None
    settings = load_settings(config_path)
    quiet = settings.model_copy(update={"logging": settings.logging.model_copy(update={"console": False})})
    log_path = configure_logging(quiet, clock)
    try:
        log = get_logger("optbot.demo")
        with bind_trace(new_trace_id()):
            for result in results:
                status = "fail" if not result.passed else "warn" if result.warning else "pass"
                log.info("startup_check", check=result.name, status=status, detail=result.detail)
    finally:
        shutdown_logging()
    return log_path


def run_command(
    ctx: typer.Context,
    mode: str | None = typer.Option(
        None, "--mode", help="paper or live (live also needs mode=live in config)"
    ),
    confirm_live: bool = typer.Option(False, "--confirm-live", help="required to trade real money"),
    follow_sim: str | None = typer.Option(
        None, "--follow-sim", help="simulator base URL whose replay clock the bot follows (optbot sim serve)"
    ),
    sessions: int | None = typer.Option(None, "--sessions", min=1, help="stop after this many sessions"),
) -> None:
    """Run the bot: the daily lifecycle in paper or live mode until Ctrl-C / SIGTERM."""
    from optbot.config import effective_mode, load_settings
    from optbot.ops.calendar_sync import calendar_from_settings
    from optbot.ops.listen import ensure_ports_free

    config_path = state(ctx).resolved_config_path()
    configured = load_settings(config_path).mode
    settings = _settings_for_run(config_path, mode)
    check_live_switches(configured, mode, confirm_live)
    run_mode = effective_mode(settings, confirm_live)
    if run_mode is RunMode.BACKTEST:
        raise UserError("mode backtest is run with `optbot backtest --from D --to D`")
    calendar = calendar_from_settings(settings)
    ensure_ports_free(settings)  # never trade on without the dashboard's kill switch or /metrics
    exit_code = asyncio.run(_run_bot(settings, run_mode, calendar, follow_sim, sessions))
    raise typer.Exit(exit_code)


def check_live_switches(configured: RunMode, requested: str | None, confirm_live: bool) -> None:
    """Live trading needs both switches (README "Going live"): `mode = "live"` in the config and
    `--confirm-live`. `--mode live` asks for live but is not the config's switch; any disagreement
    refuses to start rather than trading in a mode the user did not choose twice."""
    if requested == "live" and configured is not RunMode.LIVE:
        raise UserError(
            f'--mode live needs mode = "live" in the config file (it is "{configured.value}"): '
            "both switches must agree; refusing to start"
        )
    wants_live = requested == "live" or (requested is None and configured is RunMode.LIVE)
    if wants_live and not confirm_live:
        raise UserError('mode = "live" in the config but --confirm-live was not given: refusing to start')
    if confirm_live and not wants_live:
        raise UserError(
            f"--confirm-live given but this run is {requested or configured.value} (config mode "
            f'"{configured.value}"): live needs mode = "live" in the config too; refusing to start'
        )


def _settings_for_run(config_path: Path | None, mode: str | None) -> Settings:
    from optbot.config import load_settings
    from optbot.config.checks import registered_problems
    from optbot.strategy.registry import strategy_problems  # noqa: F401 - registers its settings check

    overrides: dict[str, object] = {}
    if mode is not None:
        if mode not in ("paper", "live"):
            raise UserError(f"--mode must be paper or live, not {mode!r}")
        overrides["mode"] = mode
    settings = load_settings(config_path, overrides or None)
    problems = registered_problems(settings)  # refused now, not at the next session's start
    if problems:
        raise UserError("; ".join(problems))
    return settings


def _data_management_tasks(
    settings: Settings,
) -> tuple[Callable[[date], Awaitable[list[tuple[str, str]]]], ...]:
    """The research suite's scheduled walk-forwards (§1.5), when `[[research.studies]]` configures any."""
    if not settings.research.studies:
        return ()
    from optbot.research.scheduled import run_scheduled_studies  # Optuna and Plotly only when used

    async def research_studies(today: date) -> list[tuple[str, str]]:
        lines: list[tuple[str, str]] = []
        await asyncio.to_thread(run_scheduled_studies, settings, today, lambda t, m: lines.append((t, m)))
        return lines

    return (research_studies,)


async def _run_bot(
    settings: Settings, run_mode: RunMode, calendar: NseCalendar, follow_sim: str | None, sessions: int | None
) -> int:
    from optbot.engine.follow import session_clock
    from optbot.log import configure_logging, shutdown_logging
    from optbot.ops.supervisor import BotSupervisor

    async with session_clock(follow_sim) as clock:
        log_path = configure_logging(settings, clock)
        try:
            supervisor = BotSupervisor(
                settings,
                clock,
                calendar,
                run_mode,
                on_stage=_show_stage,
                totp_clock=LiveClock(),
                data_management_tasks=_data_management_tasks(settings),
            )
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, supervisor.request_stop)
            console.print(
                f"optbot {run_mode.value} mode; "
                f"clock {'follows ' + str(follow_sim) if follow_sim else 'is wall time'}; "
                f"log {log_path}",
                highlight=False,
                soft_wrap=True,
            )
            return await supervisor.run(max_sessions=sessions)
        finally:
            shutdown_logging()


def _show_stage(stage: Stage) -> None:
    console.print(
        f"{_mark(stage.passed, not stage.critical and not stage.passed)} {stage.name}: {stage.detail}",
        highlight=False,
        soft_wrap=True,
    )


def status_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="print the raw status document"),
) -> None:
    """What the running bot is doing: mode, session phase, feed, positions, risk state."""
    from optbot.ops.supervisor import process_alive, status_path

    settings = settings_from(ctx)
    path = status_path(settings)
    if not path.exists():
        raise UserError(
            f"no status at {path}: the bot has not run with this data root ({settings.paths.data_root})"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"status file {path} is unreadable: {exc}") from None
    if as_json:
        console.print_json(data=data)
        return
    engine = data.get("engine") or {}
    feed = data.get("feed") or {}
    running = data.get("running") and process_alive(int(data.get("pid", 0)))
    console.print(
        f"bot {'running' if running else 'NOT running'} (pid {data.get('pid')}), mode {data.get('mode')}, "
        f"clock {data.get('clock_ist')}, phase {data.get('phase')}",
        highlight=False,
        soft_wrap=True,
    )
    if engine:
        console.print(
            f"risk {engine.get('risk_state')}; trading blocked: {_blocked_text(engine)}; "
            f"VIX {engine.get('vix')}; underlyings {_underlyings_text(engine.get('underlyings'))}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"feed {'connected' if feed.get('connected') else 'DISCONNECTED'}, "
            f"last tick {feed.get('last_tick_ist')}; open positions {engine.get('open_positions')}, "
            f"orders in flight {engine.get('orders_in_flight')}, "
            f"realised {engine.get('realised_net')}, unrealised {engine.get('unrealised')}",
            highlight=False,
            soft_wrap=True,
        )
        remedy = _reconciliation_remedy(str(data.get("mode") or ""), engine)
        if remedy:
            console.print(remedy, highlight=False, soft_wrap=True)
    if data.get("last_error"):
        console.print(f"[red]last error: {data['last_error']}[/red]", soft_wrap=True)


def _reconciliation_remedy(mode: str, engine: dict[str, Any]) -> str:
    """How to see and acknowledge the mismatch that blocks entries, in the session's own journal: a
    paper session's is in the paper journal, which `optbot reconcile` reads only with `--mode paper`."""
    if "reconciliation mismatch" not in str(engine.get("trading_blocked") or ""):
        return ""
    flag = " --mode paper" if mode.startswith("paper") else ""
    return (
        f"to see the mismatch: `optbot reconcile{flag} --offline`; after fixing the books, "
        f"`optbot reconcile{flag} --ack` and restart the bot"
    )


def _blocked_text(engine: dict[str, Any]) -> str:
    """Why new orders are refused: the engine's own block, else a HALTED risk state (the kill
    switch or a risk limit), which the engine's block field leaves empty, else the conditions that
    pause new entries only (feed down, a reject spike, a stale master); `no` only when none holds."""
    if engine.get("trading_blocked"):
        return str(engine["trading_blocked"])
    if engine.get("risk_state") == "HALTED":
        return "risk HALTED (`optbot risk status` says why; `optbot risk resume --ack` lifts it)"
    paused = engine.get("entries_paused")
    if isinstance(paused, dict) and paused:
        reasons = "; ".join(f"{source}: {reason}" for source, reason in sorted(paused.items()))
        return f"new entries paused, exits still go ({reasons})"
    return "no"


def _underlyings_text(underlyings: object) -> str:
    """`NIFTY 12,823.50, BANKNIFTY 29,073.67` rather than a Python dict."""
    if not isinstance(underlyings, dict) or not underlyings:
        return "none yet"
    return ", ".join(
        f"{name} {price:,.2f}" if isinstance(price, int | float) else f"{name} {price}"
        for name, price in underlyings.items()
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
    app.command("check")(check_command)
    app.command("run")(run_command)
    app.command("status")(status_command)

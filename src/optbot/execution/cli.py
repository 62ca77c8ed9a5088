"""CLI: `optbot charges`, `optbot reconcile [--mode M] [--kind K | --offline | --ack]`, `optbot report`."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, cast, get_args

import typer

from optbot.cli.common import console, fail, settings_from
from optbot.core.clock import Clock, LiveClock
from optbot.core.enums import Exchange
from optbot.core.errors import UserError
from optbot.core.timeutil import ist_date

if TYPE_CHECKING:
    from optbot.charges import RateCard
    from optbot.config.settings import Settings
    from optbot.execution.reconciliation import ReconcileKind, ReconciliationReport
    from optbot.persistence.store import Store

# The charges, the state store, reconciliation and the broker stack are imported inside the commands,
# so `--help` and a bad argument of charges, reconcile and report answer without loading them.

report_app = typer.Typer(help="Reports from the state database.", no_args_is_help=True)

#: `optbot reconcile --mode`: whose journal is read, the live account's or a paper session's (the
#: same names `optbot run --mode` takes)
RECONCILE_MODES = ("live", "paper")


def _parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{flag} must be a date like 2025-01-31 (got {text!r})") from None


def _open_store(settings: Settings, clock: Clock | None = None, *, paper: bool = False) -> Store:
    """The journal of a mode (live by default), which must exist already: a command never creates one."""
    from optbot.persistence.db import DatabaseError, open_database, state_db_path
    from optbot.persistence.store import Store

    try:
        return Store(open_database(state_db_path(settings, paper=paper), create=False), clock or LiveClock())
    except DatabaseError as exc:
        fail(str(exc))


def _rate_card(settings: Settings) -> RateCard:
    from optbot.charges import RateCard

    return RateCard.load(settings.execution.charges_rate_card_file)


def charges(
    ctx: typer.Context,
    exchange: str = typer.Option("NSE", "--exchange", help="NSE (NFO options) or BSE (BFO options)"),
    qty: int = typer.Option(..., "--qty", help="quantity in units (lots × lot size)"),
    buy_price: float = typer.Option(..., "--buy-price", help="buy premium per unit, rupees"),
    sell_price: float = typer.Option(..., "--sell-price", help="sell premium per unit, rupees"),
    trade_date: str = typer.Option(..., "--date", help="trade date YYYY-MM-DD (rates are dated)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Every charge of an option round trip, the net P&L and the breakeven prices."""
    settings = settings_from(ctx)
    try:
        _charges(settings, exchange, qty, buy_price, sell_price, trade_date, as_json)
    except UserError as exc:
        fail(str(exc))


def _charges(
    settings: Settings,
    exchange: str,
    qty: int,
    buy_price: float,
    sell_price: float,
    trade_date: str,
    as_json: bool,
) -> None:
    try:
        venue = Exchange(exchange.upper())
    except ValueError:
        raise UserError(f"--exchange must be NSE or BSE (got {exchange!r})") from None
    if venue not in (Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO):
        raise UserError(f"--exchange must be NSE or BSE (got {exchange!r})")
    day = _parse_day(trade_date, "--date")
    from optbot.charges import round_trip

    trip = round_trip(
        _rate_card(settings),
        venue,
        qty,
        buy_price,
        sell_price,
        day,
        rounding=settings.execution.charges_rounding,
    )
    components = {
        name: {
            "buy": round(buy_amount, 4),
            "sell": round(sell_amount, 4),
            "total": round(buy_amount + sell_amount, 4),
        }
        for (name, buy_amount), (_, sell_amount) in zip(
            trip.buy.components(), trip.sell.components(), strict=True
        )
    }
    document = {
        "exchange": venue.value,
        "date": day.isoformat(),
        "quantity": qty,
        "buy_price": buy_price,
        "sell_price": sell_price,
        "turnover": round(trip.buy.turnover + trip.sell.turnover, 2),
        "components": components,
        "total_charges": round(trip.charges.total, 2),
        "gross_pnl": round(trip.gross_pnl, 2),
        "net_pnl": round(trip.net_pnl, 2),
        "breakeven_sell_price_for_long": round(trip.breakeven_sell_price, 4),
        "breakeven_buy_price_for_short": round(trip.breakeven_buy_price, 4),
    }
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    console.print(f"{venue.value} options, {qty} units, buy {buy_price:.2f} / sell {sell_price:.2f} on {day}")
    console.print(f"{'component':<14}{'buy':>12}{'sell':>12}{'total':>12}")
    for name, values in components.items():
        console.print(f"{name:<14}{values['buy']:>12.2f}{values['sell']:>12.2f}{values['total']:>12.2f}")
    console.print(f"{'total charges':<38}{trip.charges.total:>12.2f}")
    console.print(f"{'gross P&L':<38}{trip.gross_pnl:>12.2f}")
    console.print(f"{'net P&L':<38}{trip.net_pnl:>12.2f}")
    console.print(
        f"breakeven: sell at {trip.breakeven_sell_price:.2f} (long) / "
        f"buy back at {trip.breakeven_buy_price:.2f} (short)"
    )


def reconcile(
    ctx: typer.Context,
    ack: bool = typer.Option(False, "--ack", help="acknowledge recorded mismatches and allow trading again"),
    mode: str = typer.Option(
        "live",
        "--mode",
        help="whose journal: live (state/optbot.sqlite, reconciled with the broker account) or paper "
        "(state/optbot-paper.sqlite, whose books the paper session reconciles itself; --offline and --ack "
        "only)",
    ),
    operator: str = typer.Option("operator", "--by", help="who acknowledges (kept in the audit trail)"),
    kind: str = typer.Option(
        "periodic",
        "--kind",
        help="startup: also recover in-flight orders and pull missing fills (run only while the engine is "
        "stopped); periodic / eod: compare the books without changing orders or fills",
    ),
    offline: bool = typer.Option(
        False, "--offline", help="do not contact the broker: show the stored unacknowledged mismatches"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the live reconciliation as JSON"),
    follow_sim: str | None = typer.Option(
        None,
        "--follow-sim",
        help="simulator base URL whose replay clock the reconciliation follows, as `optbot run --follow-sim` "
        "does: the day's fills, P&L and funds are compared as of the replayed day. Default: the simulator "
        "the running bot's clock follows (from its status), else wall time",
    ),
) -> None:
    """Log in and reconcile with the broker now (exit 1 on any mismatch); --ack acknowledges mismatches."""
    if mode not in RECONCILE_MODES:
        fail(f"--mode must be one of {', '.join(RECONCILE_MODES)} (got {mode!r})")
    settings = settings_from(ctx)
    paper = mode == "paper"
    if ack or offline:
        _stored_reconciliations(settings, ack, operator, paper=paper)
        return
    if paper:
        fail(
            "paper books are reconciled by the running paper session against its own paper broker (at "
            "start, periodically and at the end of day); `optbot reconcile --mode paper --offline` shows "
            "the mismatches it recorded and `--ack` acknowledges them"
        )
    from optbot.execution.reconciliation import ReconcileKind

    kinds: tuple[str, ...] = get_args(ReconcileKind)
    if kind not in kinds:
        fail(f"--kind must be one of {', '.join(kinds)} (got {kind!r})")
    report = run_live_reconciliation(settings, cast(ReconcileKind, kind), follow_sim)
    if as_json:
        typer.echo(json.dumps(reconciliation_json(report), indent=2))
    else:
        _print_reconciliation(report)
    if not report.clean:
        raise typer.Exit(1)


def _stored_reconciliations(settings: Settings, ack: bool, operator: str, *, paper: bool) -> None:
    """Show (and with `ack` acknowledge) the mismatches recorded in one mode's journal. A mismatch
    left unacknowledged there blocks new entries from that mode's next session start, so each
    journal is read and acknowledged on its own: a paper mismatch never lifts or blocks live trading."""
    store = _open_store(settings, paper=paper)
    journal = "paper journal" if paper else "live journal"
    again = "optbot reconcile --mode paper --ack" if paper else "optbot reconcile --ack"
    try:
        pending = store.unacknowledged_mismatches()
        if not pending:
            latest = store.latest_reconciliation()
            if latest is None:
                console.print(f"{journal}: no reconciliation has run yet")
            else:
                console.print(
                    f"{journal}: last reconciliation ({latest.kind}, {latest.ts_utc.isoformat()}) "
                    "is clean or acknowledged"
                )
            if not paper:
                _mention_paper_mismatches(settings)
            return
        console.print(f"{journal} ({store_name(settings, paper=paper)}):", highlight=False)
        for record in pending:
            console.print(
                f"[red]mismatch[/red] #{record.reconciliation_id} {record.kind} "
                f"at {record.ts_utc.isoformat()}"
            )
            for line in record.diff:
                console.print(f"  - {line}", highlight=False, soft_wrap=True)
        if ack:
            count = store.acknowledge_mismatches(operator)
            console.print(
                f"acknowledged {count} reconciliation(s) as {operator}; the next session start is no "
                "longer blocked by them; a running session lets new entries through again at its next health "
                "check (every engine.health_check_interval_minutes in market hours)",
                soft_wrap=True,
            )
        else:
            console.print(f"trading stays halted; after fixing, run `{again}`")
            raise typer.Exit(1)
    finally:
        store.close()


def store_name(settings: Settings, *, paper: bool) -> str:
    """A mode's journal as the operator finds it under the data root (`state/optbot-paper.sqlite`)."""
    from optbot.persistence.db import state_db_path

    path = state_db_path(settings, paper=paper)
    return f"{path.parent.name}/{path.name}"


def _mention_paper_mismatches(settings: Settings) -> None:
    """An operator checking the live journal after a paper session halted is pointed at the paper
    journal, whose mismatches `--mode paper` shows; a missing paper journal says nothing."""
    from optbot.persistence.db import state_db_path

    if not state_db_path(settings, paper=True).exists():
        return
    store = _open_store(settings, paper=True)
    try:
        count = len(store.unacknowledged_mismatches())
    finally:
        store.close()
    if count:
        console.print(
            f"the paper journal ({store_name(settings, paper=True)}) has {count} unacknowledged "
            "mismatch(es): `optbot reconcile --mode paper --offline` shows them",
            highlight=False,
            soft_wrap=True,
        )


def run_live_reconciliation(
    settings: Settings, kind: ReconcileKind, follow_sim: str | None = None
) -> LiveReconciliation:
    """Log in with the configured broker stack and secrets, then run one Reconciler pass on the
    session's clock (`follow_sim`, else the running bot's followed simulator, else wall time)."""
    from optbot.broker.errors import (
        AuthenticationFailed,
        BrokerError,
        RateLimited,
        TokenExpired,
        TransientError,
    )

    try:
        return asyncio.run(_live_reconciliation(settings, kind, follow_sim))
    except AuthenticationFailed as exc:
        fail(
            f"Angel One refused the login ({exc.code}: {exc.message}); check broker.client_code and the "
            "stored PIN / TOTP secret (optbot auth set-secret)"
        )
    except TokenExpired:
        fail("the broker session is not valid; run `optbot auth login`")
    except (RateLimited, TransientError) as exc:
        fail(f"Angel One could not be reached or refused for now ({type(exc).__name__}: {exc})", code=1)
    except BrokerError as exc:
        fail(f"Angel One error: {exc}", code=1)
    except UserError as exc:
        fail(str(exc))


@dataclass(frozen=True, slots=True)
class LiveReconciliation:
    report: ReconciliationReport
    earlier_unacknowledged: int
    #: the trading day compared (the session clock's IST date) and the simulator followed, if any
    trading_day: date
    clock_follows: str | None = None
    #: the running bot's pid when the clock followed is the one its status names
    followed_for_pid: int | None = None
    #: the running bot's mode (paper / live), None when no bot runs on this data root
    running_mode: str | None = None
    #: the two journals as named under the data root (`state/optbot.sqlite`, `state/optbot-paper.sqlite`)
    live_journal: str = ""
    paper_journal: str = ""

    @property
    def clean(self) -> bool:
        return self.report.clean


async def _live_reconciliation(
    settings: Settings, kind: ReconcileKind, follow_sim: str | None
) -> LiveReconciliation:
    # the broker stack (HTTP clients, the socket feed) and the order manager load only here, so the
    # other commands of this module and every --help answer without them
    from optbot.broker.angelone.factory import build_stack, open_secret_store
    from optbot.engine.follow import session_clock
    from optbot.execution.order_manager import OrderManager
    from optbot.execution.reconciliation import Reconciler
    from optbot.ops.supervisor import running_session_status

    running = running_session_status(settings)
    session_follows = str(running.get("clock_follows") or "") if running is not None else ""
    followed = follow_sim or session_follows or None
    async with session_clock(followed) as clock:
        trading_day = _the_running_sessions_day(clock, running, followed)
        secrets = open_secret_store(settings, _prompt_keyring_password)
        # the broker checks a TOTP code against real time, whatever clock the session runs on
        stack = build_stack(settings, clock, secrets, totp_clock=LiveClock())
        store = _open_store(settings, clock)
        try:
            if await stack.auth.restore() is None:
                await stack.auth.login()
            earlier = len(store.unacknowledged_mismatches())
            manager = None
            if kind == "startup":  # recovery writes order state: only while the engine is stopped
                manager = OrderManager(
                    stack.broker, store, clock, settings, _no_instruments, rate_card=_rate_card(settings)
                )
            reconciler = Reconciler(stack.broker, store, clock, settings, order_manager=manager)
            report = await reconciler.run(kind)
        finally:
            store.close()
            await stack.aclose()
    pid = int(running["pid"]) if running is not None and followed and followed == session_follows else None
    mode = str(running.get("mode")) if running is not None else None
    return LiveReconciliation(
        report,
        earlier,
        trading_day,
        followed,
        pid,
        mode,
        store_name(settings, paper=False),
        store_name(settings, paper=True),
    )


def _the_running_sessions_day(clock: Clock, running: dict[str, Any] | None, followed: str | None) -> date:
    """The IST date this reconciliation compares, checked against the running bot's: reconciled on
    another day (the wall clock's beside a replayed session, or another simulator's), the day's fills,
    P&L and funds would differ from the broker's and be recorded as a mismatch that halts trading
    until `--ack`. Refused before anything is read or recorded."""
    today = ist_date(clock.now_utc())
    session_clock_text = str(running.get("clock_ist") or "") if running is not None else ""
    if not session_clock_text:
        return today
    try:
        session_day = date.fromisoformat(session_clock_text[:10])
    except ValueError:
        return today
    if session_day != today:
        assert running is not None
        ours = f"follows {followed}" if followed else "is wall time"
        raise UserError(
            f"the running bot (pid {running.get('pid')}) trades {session_day} but this reconciliation's "
            f"clock {ours} and reads {today}: its fills, P&L and funds would be compared as of the wrong "
            "day and recorded as a mismatch; reconcile on the session's clock with --follow-sim URL "
            "(the simulator the bot follows)"
        )
    return today


def _no_instruments(exchange: Exchange, token: str) -> None:
    """Reconciliation reads the broker's books only; it never validates or sends an order."""
    return None


def _prompt_keyring_password() -> str:
    if not sys.stdin.isatty():
        return ""
    return str(typer.prompt("Keyring password", hide_input=True))


def reconciliation_json(live: LiveReconciliation) -> dict[str, Any]:
    report = live.report
    funds = report.funds
    return {
        "reconciliation_id": report.reconciliation_id,
        "kind": report.kind,
        "clean": report.clean,
        "discrepancies": [
            {"kind": item.kind, "key": item.key, "local": item.local, "broker": item.broker}
            for item in report.discrepancies
        ],
        "funds": None
        if funds is None
        else {
            "net": funds.net,
            "available_cash": funds.available_cash,
            "utilised_margin": funds.utilised_margin,
            "realised_m2m": funds.realised_m2m,
            "unrealised_m2m": funds.unrealised_m2m,
        },
        "earlier_unacknowledged": live.earlier_unacknowledged,
        "trading_day": live.trading_day.isoformat(),
        "clock_follows": live.clock_follows,
    }


def _print_reconciliation(live: LiveReconciliation) -> None:
    report = live.report
    console.print(_clock_line(live), highlight=False, soft_wrap=True)
    if live.running_mode == "paper":
        console.print(
            f"the running bot trades paper: its books ({live.paper_journal}) are reconciled by the bot "
            f"itself against its paper broker (`optbot reconcile --mode paper --offline` shows its "
            f"mismatches); this compares the live books ({live.live_journal}) with the broker account",
            highlight=False,
            soft_wrap=True,
        )
    heading = f"reconciliation #{report.reconciliation_id} ({report.kind}) with the broker:"
    if report.clean:
        console.print(f"{heading} [green]CLEAN[/green], local books match the broker's", soft_wrap=True)
    else:
        count = len(report.discrepancies)
        console.print(f"{heading} [red]{count} MISMATCH(ES)[/red]", soft_wrap=True)
        rows = [("what", "key", "local", "broker")] + [
            (item.kind, item.key, item.local, item.broker) for item in report.discrepancies
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        for row in rows:
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            console.print(f"  {line}  {row[3]}", highlight=False, soft_wrap=True, markup=False)
        console.print("trading halts until a person fixes this and runs `optbot reconcile --ack`")
    if live.earlier_unacknowledged:
        console.print(
            f"{live.earlier_unacknowledged} earlier mismatch(es) are still unacknowledged: trading stays "
            "halted until `optbot reconcile --ack`",
            soft_wrap=True,
        )


def _clock_line(live: LiveReconciliation) -> str:
    """Which day was compared and on whose clock, so a replayed session's reconciliation says so."""
    if live.clock_follows is None:
        return f"trading day {live.trading_day}; clock is wall time"
    whose = f" (the running bot's, pid {live.followed_for_pid})" if live.followed_for_pid else ""
    return f"trading day {live.trading_day}; clock follows {live.clock_follows}{whose}"


@report_app.command("pnl")
def report_pnl(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="first trade date YYYY-MM-DD"),
    end: str = typer.Option(..., "--to", help="last trade date YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """Per-trade P&L net of charges, F&O turnover, STT paid; daily/monthly CSV + JSON in reports/."""
    settings = settings_from(ctx)
    try:
        first = _parse_day(start, "--from")
        last = _parse_day(end, "--to")
        if last < first:
            raise UserError(f"--to ({last}) is before --from ({first})")
        card = _rate_card(settings)
    except UserError as exc:
        fail(str(exc))
    from optbot.execution.reports import build_pnl_report, report_json, write_pnl_report

    store = _open_store(settings)
    try:
        report = build_pnl_report(store.fills(), first, last, card, settings.execution.charges_rounding)
    finally:
        store.close()
    paths = write_pnl_report(report, settings.paths.resolve(settings.paths.reports_dir))
    if as_json:
        typer.echo(json.dumps(report_json(report), indent=2))
        return
    console.print(
        f"{len(report.trades)} trades {first}..{last}: gross {report.gross_pnl:.2f}, charges "
        f"{report.total_charges:.2f}, net {report.net_pnl:.2f}; STT {report.stt_paid:.2f}; "
        f"turnover (premium) {report.premium_turnover:.2f}, (tax) {report.tax_turnover:.2f}"
    )
    for path in paths:
        console.print(f"wrote {path}")


@report_app.command("statement")
def report_statement(
    ctx: typer.Context,
    day: str = typer.Option("", "--date", help="trade date YYYY-MM-DD (default: today in IST)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """End-of-day statement in contract-note style from the recorded fills."""
    settings = settings_from(ctx)
    try:
        target = _parse_day(day, "--date") if day else ist_date(LiveClock().now_utc())
        card = _rate_card(settings)
    except UserError as exc:
        fail(str(exc))
    from optbot.execution.statement import contract_note, contract_note_json, render_contract_note

    store = _open_store(settings)
    try:
        note = contract_note(store.fills(), card, settings.execution.charges_rounding, target)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(contract_note_json(note), indent=2))
    else:
        typer.echo(render_contract_note(note))


def register(app: typer.Typer) -> None:
    app.command("charges")(charges)
    app.command("reconcile")(reconcile)
    app.add_typer(report_app, name="report")

"""`optbot risk kill-switch | status | resume --ack`: the file-based kill switch a running engine obeys."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from optbot.cli.common import console, fail, settings_from
from optbot.core.clock import LiveClock
from optbot.core.timeutil import to_ist
from optbot.risk.killswitch import (
    RESUME_ACK_FILE_NAME,
    clear_kill_flag,
    read_kill_flag,
    read_resume_ack,
    write_kill_flag,
    write_resume_ack,
)

if TYPE_CHECKING:
    from optbot.config import Settings

risk_app = typer.Typer(help="Risk engine controls: kill switch, status, resume.", no_args_is_help=True)


def _state_dir(settings: Settings) -> Path:
    return settings.paths.resolve(settings.paths.state_dir)


@risk_app.command("kill-switch")
def kill_switch(
    ctx: typer.Context,
    reason: str = typer.Option(..., "--reason", "-r", help="Why trading must stop (kept in the flag file)"),
) -> None:
    """Halt all trading: engines cancel open orders, flatten positions and refuse new risk."""
    settings = settings_from(ctx)
    if not reason.strip():
        fail("--reason must not be empty")
    path = _state_dir(settings) / settings.risk.kill_file_name
    try:
        flag = write_kill_flag(path, reason, LiveClock().now_utc())
    except OSError as exc:
        fail(f"cannot write kill flag {path}: {exc.strerror}")
    console.print(f"[red]KILL SWITCH ON[/red] {flag.reason} (flag {path})")


@risk_app.command("status")
def status(ctx: typer.Context) -> None:
    """Show whether the kill switch is on and when trading was last acknowledged to resume."""
    settings = settings_from(ctx)
    state_dir = _state_dir(settings)
    flag = read_kill_flag(state_dir / settings.risk.kill_file_name)
    ack = read_resume_ack(state_dir / RESUME_ACK_FILE_NAME)
    if flag is None:
        console.print("kill switch: [green]off[/green]")
    else:
        when = to_ist(flag.ts_utc).isoformat() if flag.ts_utc.tzinfo else "unknown time"
        console.print(f"kill switch: [red]ON[/red] since {when}: {flag.reason}")
    console.print(f"last resume acknowledgement: {to_ist(ack).isoformat() if ack else 'never'}")
    r = settings.risk
    console.print(
        f"limits: {r.max_concurrent_positions} positions, daily loss {r.daily_loss_limit_pct:g}%, "
        f"drawdown {r.max_daily_drawdown_pct:g}%, {r.consecutive_loss_limit} consecutive losses, "
        f"margin {r.max_margin_utilisation_pct:g}%, VIX halt > {r.vix_extreme:g}"
    )


@risk_app.command("resume")
def resume(
    ctx: typer.Context,
    ack: bool = typer.Option(False, "--ack", help="Confirm you have checked why trading was halted"),
) -> None:
    """Lift the kill switch and the consecutive-loss lockout; engines resume at reduced size."""
    if not ack:
        fail("resuming trading needs --ack (confirm you checked why it was halted)")
    settings = settings_from(ctx)
    state_dir = _state_dir(settings)
    now = LiveClock().now_utc()
    try:
        removed = clear_kill_flag(state_dir / settings.risk.kill_file_name)
        write_resume_ack(state_dir / RESUME_ACK_FILE_NAME, now)
    except OSError as exc:
        fail(f"cannot update {state_dir}: {exc.strerror}")
    r = settings.risk
    console.print(
        ("kill switch removed; " if removed else "kill switch was not on; ")
        + f"resume acknowledged. Sizes restart at {r.resume_initial_pct:g}% and step up "
        f"{r.resume_step_pct:g}% every {r.resume_step_minutes:g} min."
    )


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")

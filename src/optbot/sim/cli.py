"""`optbot sim serve`: run the SmartAPI simulator standalone on loopback until Ctrl-C."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from pathlib import Path

import typer

from optbot.cli.common import console, fail, settings_from
from optbot.config import Settings
from optbot.core.clock import LiveClock, SimClock
from optbot.core.errors import UserError
from optbot.core.timeutil import IST
from optbot.sim.accounts import load_accounts
from optbot.sim.auth import SimAccount, demo_account

sim_app = typer.Typer(help="The local Angel One SmartAPI simulator.", no_args_is_help=True)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--date {text!r} is not a date (expected YYYY-MM-DD)") from None


def _ist_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def banner(base_url: str, market_ws_url: str, order_ws_url: str, accounts: list[SimAccount]) -> list[str]:
    """What a person needs to point a SmartAPI script at the simulator (throwaway sim-only secrets)."""
    lines = [
        f"SmartAPI simulator  REST {base_url}",
        f"  market feed (WS V2)   {market_ws_url}",
        f"  order updates (WS)    {order_ws_url}",
        f"  scrip master          {base_url}/OpenAPI_File/files/OpenAPIScripMaster.json",
        f"  admin                 {base_url}/sim/v1/clock | /sim/v1/state | /sim/v1/faults",
        "Simulator-only accounts (throwaway values, valid nowhere else):",
    ]
    for account in accounts:
        lines.append(
            f"  client code {account.client_code}  PIN {account.pin}  TOTP secret {account.totp_secret}  "
            f"API key {account.api_key}"
        )
    lines.append("Option prices, depth and OI are synthetic (Black-76 on the replayed index, VIX smile).")
    lines.append("Point the SDK with SmartConnect(api_key, root=REST URL). Ctrl-C stops.")
    return lines


async def serve_until_cancelled(
    settings: Settings, host: str, port: int, speed: float, dates: list[date], accounts: list[SimAccount]
) -> None:
    try:
        from optbot.sim.market import ReplayMarket
    except ImportError as exc:
        raise UserError(f"the replay market is not available in this build: {exc}") from None
    from optbot.sim.server import Simulator

    sim_settings = settings.sim
    start_time = _ist_time(sim_settings.replay_start_time_ist)
    end_time = _ist_time(sim_settings.replay_end_time_ist)
    clock = SimClock(datetime.combine(dates[0], start_time, tzinfo=IST), speed=speed or None)
    market = ReplayMarket(clock, settings.replay)
    simulator = Simulator(
        market,
        clock,
        accounts,
        host=host,
        port=port,
        settings=sim_settings,
        totp_clock=LiveClock(),  # authenticator apps and pyotp scripts run on wall time
    )
    try:
        await simulator.start()
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    try:
        for line in banner(simulator.base_url, simulator.market_ws_url, simulator.order_ws_url, accounts):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        for day in dates:
            start = datetime.combine(day, start_time, tzinfo=IST)
            end = datetime.combine(day, end_time, tzinfo=IST)
            console.print(f"replaying {day.isoformat()} (speed {speed or 'max'})", highlight=False)
            await market.run(start, end)
        console.print("replay finished; the clock is paused and the server keeps serving. Ctrl-C stops.")
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


def register(app: typer.Typer) -> None:
    @sim_app.command("serve")
    def serve(
        ctx: typer.Context,
        host: str | None = typer.Option(None, "--host", help="Listen address (loopback only)"),
        port: int | None = typer.Option(None, "--port", help="TCP port; 0 picks a free one"),
        speed: float | None = typer.Option(
            None, "--speed", help="0 = as fast as possible, N = N x real time"
        ),
        dates: list[str] = typer.Option([], "--date", help="Session(s) to replay, YYYY-MM-DD (repeatable)"),
        accounts_file: Path | None = typer.Option(None, "--accounts", help="JSON array of accounts"),
    ) -> None:
        """Serve SmartAPI REST + WS V2 + order updates on loopback, replaying historical sessions."""
        settings = settings_from(ctx)
        chosen_host = host or settings.sim.host
        if chosen_host not in LOOPBACK_HOSTS:
            fail(f"--host {chosen_host!r} is not a loopback address; the simulator only serves 127.0.0.1")
        chosen_port = settings.sim.port if port is None else port
        if not 0 <= chosen_port <= 65535:
            fail(f"--port {chosen_port} is out of range 0-65535")
        chosen_speed = settings.sim.speed if speed is None else speed
        if chosen_speed < 0:
            fail(f"--speed {chosen_speed} must be >= 0")
        try:
            replay_dates = sorted({_parse_date(text) for text in dates}) or list(settings.sim.replay_dates)
            accounts = load_accounts(accounts_file) if accounts_file is not None else [demo_account()]
            asyncio.run(
                serve_until_cancelled(
                    settings, chosen_host, chosen_port, chosen_speed, replay_dates, accounts
                )
            )
        except UserError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            console.print("simulator stopped")

    app.add_typer(sim_app, name="sim")

"""`optbot sim serve`: run the SmartAPI simulator standalone on loopback until Ctrl-C."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from pathlib import Path
from urllib.parse import quote

import typer

from optbot.cli.common import console, fail, settings_from
from optbot.config import Settings
from optbot.core.clock import LiveClock, SimClock
from optbot.core.errors import UserError
from optbot.core.timeutil import IST
from optbot.sim.accounts import load_accounts
from optbot.sim.admin_client import FAULT_KINDS, admin_request, fault_body
from optbot.sim.auth import SimAccount, demo_account

sim_app = typer.Typer(help="The local Angel One SmartAPI simulator.", no_args_is_help=True)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
URL_HELP = "The simulator's base URL (default: http://[sim] host:port from the config)"


def _admin_url(ctx: typer.Context, url: str | None) -> str:
    if url:
        return url
    settings = settings_from(ctx)
    return f"http://{settings.sim.host}:{settings.sim.port}"


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
    lines.append(
        "Option prices, depth and OI are synthetic (the calibrated model on the replayed index and VIX)."
    )
    lines.append("Point the SDK with SmartConnect(api_key, root=REST URL). Ctrl-C stops.")
    return lines


async def serve_until_cancelled(
    settings: Settings, host: str, port: int, speed: float, dates: list[date], accounts: list[SimAccount]
) -> None:
    try:
        from optbot.analytics.synthetic import model_for
        from optbot.calendar import get_calendar
        from optbot.sim.market import ReplayMarket
    except ImportError as exc:
        raise UserError(f"the replay market is not available in this build: {exc}") from None
    from optbot.sim.server import Simulator

    sim_settings = settings.sim
    start_time = _ist_time(sim_settings.replay_start_time_ist)
    end_time = _ist_time(sim_settings.replay_end_time_ist)
    clock = SimClock(datetime.combine(dates[0], start_time, tzinfo=IST), speed=speed or None)
    calendar = get_calendar()
    market = ReplayMarket(
        clock,
        settings.replay,
        calendar,
        option_model=model_for(settings.analytics.calibration_file, calendar),
    )
    simulator = Simulator(
        market,
        clock,
        accounts,
        host=host,
        port=port,
        settings=sim_settings,
        totp_clock=LiveClock(),  # authenticator apps and pyotp scripts run on wall time
        rate_limit_clock=LiveClock(),  # Angel One's limits are per real second, whatever the replay speed
    )
    try:
        await simulator.start()
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    try:
        for line in banner(simulator.base_url, simulator.market_ws_url, simulator.order_ws_url, accounts):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        if sim_settings.start_paused:
            market.pause()
            console.print(
                f'replay clock paused: POST {simulator.base_url}/sim/v1/clock {{"paused": false}} starts it',
                highlight=False,
                markup=False,
            )
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

    @sim_app.command("clock")
    def clock(ctx: typer.Context, url: str | None = typer.Option(None, "--url", help=URL_HELP)) -> None:
        """Show a running simulator's replay clock (what a bot in another process should follow)."""
        try:
            console.print_json(data=admin_request(_admin_url(ctx, url), "GET", "/sim/v1/clock"))
        except UserError as exc:
            fail(str(exc))

    @sim_app.command("state")
    def state(
        ctx: typer.Context,
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        client_code: str | None = typer.Option(None, "--client-code", help="Only this account"),
    ) -> None:
        """Print the exchange's orders, trades, positions and funds as JSON (for reconciliation)."""
        path = "/sim/v1/state" + (f"?client_code={quote(client_code)}" if client_code else "")
        try:
            console.print_json(data=admin_request(_admin_url(ctx, url), "GET", path))
        except UserError as exc:
            fail(str(exc))

    @sim_app.command("fault")
    def fault(
        ctx: typer.Context,
        kind: str = typer.Argument(..., help=f"One of {', '.join(FAULT_KINDS)}, or 'clear'"),
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        count: int | None = typer.Option(None, "--count", min=1, help="Affect this many requests"),
        duration: float | None = typer.Option(None, "--duration", min=0.001, help="Sim-clock seconds"),
        seconds: float | None = typer.Option(None, "--seconds", min=0.001, help="slow_replies: delay"),
        status: int | None = typer.Option(None, "--status", min=500, max=599, help="server_errors: 5xx"),
        mode: str | None = typer.Option(None, "--mode", help="lose_order_replies: drop | hang"),
        endpoints: list[str] = typer.Option([], "--endpoint", help="Limit to these endpoints (repeatable)"),
        stalled: bool = typer.Option(True, "--stalled/--resumed", help="feed_stall: stall or resume"),
        side: str | None = typer.Option(
            None, "--side", help="rms_rejects: only orders of this side (BUY/SELL)"
        ),
    ) -> None:
        """Switch a fault on in a running simulator (or 'clear' them all) and show the fault state."""
        try:
            base = _admin_url(ctx, url)
            if kind == "clear":
                payload = admin_request(base, "DELETE", "/sim/v1/faults")
            else:
                body = fault_body(kind, count, duration, seconds, status, mode, endpoints, stalled, side)
                payload = admin_request(base, "POST", f"/sim/v1/faults/{kind}", body)
            console.print_json(data=payload)
        except UserError as exc:
            fail(str(exc))

    app.add_typer(sim_app, name="sim")

"""`optbot auth login | status | logout | set-secret NAME | set-token` — secrets are never echoed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from optbot.broker.angelone.auth import AuthState, SessionStatus
from optbot.broker.angelone.factory import AngelOneStack, build_stack, open_secret_store
from optbot.broker.angelone.ipcheck import warn_if_ip_mismatch
from optbot.broker.angelone.secrets import SECRET_NAMES
from optbot.broker.angelone.static_ip import StaticIpVerdict, check_static_ip, check_static_ip_async
from optbot.broker.errors import AuthenticationFailed, BrokerError, RateLimited, TokenExpired, TransientError
from optbot.cli.common import console, fail, settings_from
from optbot.config.settings import Settings
from optbot.core.clock import LiveClock
from optbot.core.errors import UserError
from optbot.core.timeutil import to_ist

auth_app = typer.Typer(help="Angel One session: login, status, logout, secrets.", no_args_is_help=True)
ResultT = TypeVar("ResultT")


def _prompt_keyring_password() -> str:
    if not sys.stdin.isatty():
        return ""
    return str(typer.prompt("Keyring password", hide_input=True))


def _run(ctx: typer.Context, action: Callable[[AngelOneStack], Awaitable[ResultT]]) -> ResultT:
    settings = settings_from(ctx)

    async def main() -> ResultT:
        stack = _stack(settings)
        try:
            return await action(stack)
        finally:
            await stack.aclose()

    try:
        return asyncio.run(main())
    except AuthenticationFailed as exc:
        fail(
            f"Angel One refused the login ({exc.code}: {exc.message}). Check broker.client_code, the PIN "
            "(optbot auth set-secret pin) and the TOTP secret (optbot auth set-secret totp_secret)."
        )
    except TokenExpired:
        fail("the broker session is not valid; run `optbot auth login`")
    except RateLimited:
        fail("Angel One rate limit hit (HTTP 403); wait a second and try again", code=1)
    except TransientError as exc:
        fail(f"Angel One could not be reached or failed: {exc}", code=1)
    except BrokerError as exc:
        fail(f"Angel One error: {exc}", code=1)
    except UserError as exc:
        fail(str(exc))


def _stack(settings: Settings) -> AngelOneStack:
    secrets = open_secret_store(settings, _prompt_keyring_password)
    return build_stack(settings, LiveClock(), secrets)


def _describe(status: SessionStatus) -> None:
    if status.state is AuthState.LOGGED_OUT or status.expires_at is None:
        console.print(f"session: [red]none[/red] ({status.detail or 'not logged in'})")
        return
    console.print(f"client: {status.client_code}")
    console.print(f"session valid until: {to_ist(status.expires_at):%Y-%m-%d %H:%M} IST")
    if status.close_time is None:
        console.print("today is not a trading day")
    elif status.valid_until_close:
        console.print(f"[green]valid through today's close[/green] ({to_ist(status.close_time):%H:%M} IST)")
    else:
        console.print(
            f"[yellow]does NOT cover today's close[/yellow] ({to_ist(status.close_time):%H:%M} IST): re-login"
        )


@auth_app.command("login")
def login_command(ctx: typer.Context) -> None:
    """Log in with client code, PIN and TOTP from the keyring; store the tokens in the keyring."""

    async def action(stack: AngelOneStack) -> SessionStatus:
        broker_settings = settings_from(ctx).broker
        warning = warn_if_ip_mismatch(broker_settings)
        if warning:
            console.print(f"[yellow]warning[/yellow] {warning}")
        if broker_settings.registered_static_ips:
            check = await check_static_ip_async(broker_settings)
            if not check.passed:
                console.print(f"[yellow]warning[/yellow] {check.line()}")
        await stack.auth.login()
        await stack.broker.profile()
        return stack.auth.status()

    status = _run(ctx, action)
    console.print("[green]logged in[/green]")
    _describe(status)


@auth_app.command("status")
def status_command(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="Also prove the session with getProfile"),
) -> None:
    """Show whether the stored session is valid until today's close."""

    async def action(stack: AngelOneStack) -> SessionStatus:
        if check and await stack.auth.restore() is None:
            stack.auth.tokens = None
            stack.secrets.clear_tokens()
        return stack.auth.status()

    _describe(_run(ctx, action))
    _describe_static_ip(ctx)


def _describe_static_ip(ctx: typer.Context) -> None:
    check = check_static_ip(settings_from(ctx).broker)
    colour = {StaticIpVerdict.PASS: "green", StaticIpVerdict.FAIL: "red"}.get(check.verdict, "yellow")
    console.print(f"static IP: [{colour}]{check.verdict.value.upper()}[/{colour}] {check.message}")


@auth_app.command("logout")
def logout_command(ctx: typer.Context) -> None:
    """End the session at the broker and delete the stored tokens."""

    async def action(stack: AngelOneStack) -> None:
        await stack.auth.logout()

    _run(ctx, action)
    console.print("logged out; stored tokens deleted")


@auth_app.command("set-secret")
def set_secret_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=f"one of: {', '.join(SECRET_NAMES)}"),
    from_stdin: bool = typer.Option(False, "--stdin", help="Read the value from standard input"),
) -> None:
    """Store a secret in the keyring (the value is never shown)."""
    if name not in SECRET_NAMES:
        fail(f"unknown secret {name!r}; choose one of: {', '.join(SECRET_NAMES)}")
    settings = settings_from(ctx)
    if from_stdin:
        value = sys.stdin.readline().strip()
    else:
        value = str(typer.prompt(f"{name}", hide_input=True, confirmation_prompt=True))
    try:
        open_secret_store(settings, _prompt_keyring_password).set(name, value)
    except UserError as exc:
        fail(str(exc))
    console.print(f"secret {name} stored in the keyring")


@auth_app.command("set-token")
def set_token_command(ctx: typer.Context) -> None:
    """Manual fallback: paste the jwt and feed tokens from the publisher login (never echoed)."""
    jwt_token = str(typer.prompt("jwt token", hide_input=True))
    feed_token = str(typer.prompt("feed token", hide_input=True))
    refresh_token = str(
        typer.prompt("refresh token (optional)", hide_input=True, default="", show_default=False)
    )

    async def action(stack: AngelOneStack) -> SessionStatus:
        stack.auth.set_manual_tokens(jwt_token, feed_token, refresh_token)
        try:
            await stack.broker.profile()
        except TokenExpired:
            stack.secrets.clear_tokens()
            raise
        return stack.auth.status()

    status = _run(ctx, action)
    console.print("[green]tokens stored and accepted by the broker[/green]")
    _describe(status)


def register(app: typer.Typer) -> None:
    app.add_typer(auth_app, name="auth")

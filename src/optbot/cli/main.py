"""Entry point. Each package contributes its commands through `optbot.<pkg>.cli.register(app)`,
imported only when one of its commands runs."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

# Typer (0.26 on) runs on its own copy of click and exports only BadParameter of its exceptions.
from typer._click.exceptions import BadParameter, MissingParameter, NoArgsIsHelpError, UsageError
from typer.core import TyperCommand, TyperGroup

from optbot import __version__
from optbot.core.errors import ConfigError, UserError

# optbot.cli.common loads the settings model (pydantic); it is imported when a command runs, so
# `optbot --help` shows the command list without it.


@dataclass(frozen=True, slots=True)
class ListedCommand:
    """One top-level command as `optbot --help` lists it, and the CLI modules whose `register(app)`
    define it (a group may get subcommands from more than one package)."""

    name: str
    modules: tuple[str, ...]
    help: str


#: Every top-level command, in `optbot --help` order. Listing them needs no import of the commands'
#: packages (numpy, pandas, pyarrow, scipy, ... load only when a command runs), so `--help` and a
#: mistyped command answer at once. tests/cli/test_main.py checks this table against the commands.
COMMANDS: tuple[ListedCommand, ...] = (
    ListedCommand(
        "chain",
        ("optbot.instruments.cli",),
        "Print the listed option chain with the ATM strike marked (LTP, OI, IV, Greeks when known).",
    ),
    ListedCommand(
        "indicators",
        ("optbot.indicators.cli",),
        "Compute an indicator over an OHLC CSV and print `date,value[,...]` rows after the warm-up.",
    ),
    ListedCommand(
        "greeks",
        ("optbot.analytics.cli",),
        "Price and every Greek of one option, as JSON (theta per year and per calendar day, vega per\n"
        "unit of vol and per vol point, rho per unit of rate).",
    ),
    ListedCommand(
        "iv",
        ("optbot.analytics.cli",),
        "Implied volatility of one option price as JSON; when there is none, `implied_volatility` is\n"
        "null and `reason` says why (below intrinsic, above the upper bound, no time value, expired...).",
    ),
    ListedCommand(
        "price",
        ("optbot.analytics.cli",),
        "What a backtest quotes for one contract at one moment where no real option bar exists: the\n"
        "model's inputs (spot, forward, time to expiry, IV from VIX + smile), value, bid/ask and Greeks,\n"
        "and the real bar of that minute beside it when the data has one.",
    ),
    ListedCommand(
        "charges",
        ("optbot.execution.cli",),
        "Every charge of an option round trip, the net P&L and the breakeven prices.",
    ),
    ListedCommand(
        "reconcile",
        ("optbot.execution.cli",),
        "Log in and reconcile with the broker now (exit 1 on any mismatch); --ack acknowledges mismatches.",
    ),
    ListedCommand(
        "backtest",
        ("optbot.backtest.cli",),
        "Backtest on the live engine over the bars of a data root; writes a JSON + HTML report.",
    ),
    ListedCommand(
        "demo",
        ("optbot.engine.cli",),
        "A whole trading day through the live path against the local SmartAPI simulator (no account needed).",
    ),
    ListedCommand(
        "check",
        ("optbot.engine.cli",),
        "Startup checks: config, data root, calendar coverage and today's trading-day decision.",
    ),
    ListedCommand(
        "run",
        ("optbot.engine.cli",),
        "Run the bot: the daily lifecycle in paper or live mode until Ctrl-C / SIGTERM.",
    ),
    ListedCommand(
        "status",
        ("optbot.engine.cli",),
        "What the running bot is doing: mode, session phase, feed, positions, risk state.",
    ),
    ListedCommand("config", ("optbot.config.cli",), "Validate and inspect optbot configuration."),
    ListedCommand("calendar", ("optbot.calendar.cli",), "NSE trading days, sessions and expiries."),
    ListedCommand(
        "auth", ("optbot.broker.angelone.cli",), "Angel One session: login, status, logout, secrets."
    ),
    ListedCommand("sim", ("optbot.sim.cli",), "The local Angel One SmartAPI simulator."),
    ListedCommand("instruments", ("optbot.instruments.cli",), "Instrument master: refresh, search, show."),
    ListedCommand(
        "data",
        ("optbot.data.cli", "optbot.analytics.cli_calibrate"),  # analytics adds `data calibrate`
        "Market data: import, download, gaps, quality, backups.",
    ),
    ListedCommand(
        "strategy",
        ("optbot.strategy.cli",),
        "Strategies: registry and daily ADX categorisation.",
    ),
    ListedCommand("risk", ("optbot.risk.cli",), "Risk engine controls: kill switch, status, resume."),
    ListedCommand("report", ("optbot.execution.cli",), "Reports from the state database."),
    ListedCommand("audit", ("optbot.persistence.cli",), "The tamper-evident audit trail."),
    ListedCommand("notify", ("optbot.ops.cli",), "Notifications (Apprise)."),
    ListedCommand(
        "research",
        ("optbot.research.cli",),
        "Optimisation, walk-forward, cross-validation, Monte Carlo, stress and bias checks, tearsheets.",
    ),
)
LISTED = {command.name: command for command in COMMANDS}

#: Modules whose import registers a settings check (`optbot.config.checks`): `config validate` must
#: refuse what `optbot run` would, e.g. an unknown strategy name.
SETTINGS_CHECK_PROVIDERS = ("optbot.strategy.registry",)


class _Listing(TyperCommand):
    """A top-level command's name and help, standing in for it in listings until it is run."""


class _Registered:
    """The commands of the CLI modules imported so far (each module's `register` runs once)."""

    def __init__(self) -> None:
        self.app = typer.Typer()
        self.modules: set[str] = set()

    def command(self, name: str) -> Any:
        """The click command typer builds for `name` (typer's own click types are not public)."""
        for module_name in LISTED[name].modules:
            if module_name not in self.modules:
                importlib.import_module(module_name).register(self.app)
                self.modules.add(module_name)
        checks = sys.modules.get("optbot.config.checks")
        if checks is not None:  # the command validates settings: every package's checks must be in
            for provider in SETTINGS_CHECK_PROVIDERS:
                checks.add_check_provider(provider)
        return typer.main.get_group(self.app).commands[name]


REGISTERED = _Registered()


def usage_error_line(error: UsageError) -> str:
    """What a usage error says, on one line: the parameter's names, what was wrong with its value and
    the value (`--workers: Input should be greater than or equal to 1, got '0'`), as the commands' own
    checks word it (`--from: not an ISO date ...`); a missing or unknown option or command keeps
    click's wording (`Missing option '--to'.`, `No such command 'calendr'. Did you mean ...`)."""
    text = error.format_message()
    if isinstance(error, BadParameter) and not isinstance(error, MissingParameter):
        given = _given_text(error)
        # pydantic words a validator's ValueError "Value error, <its message>"
        message = error.message.removeprefix("Value error, ") if given is not None else error.message
        if error.param_hint is not None:
            hints = [error.param_hint] if isinstance(error.param_hint, str) else list(error.param_hint)
            text = f"{' / '.join(hints)}: {message}"
        elif error.param is not None:
            names = error.param.get_error_hint().replace("'", "")  # click quotes each name
            text = f"{names}: {message}"
        if given is not None and repr(given) not in text:
            text += f", got {given!r}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _given_text(error: BadParameter) -> str | None:
    """The text given on the command line for a value typer refused, when the refusal kept it: typer
    converts values with pydantic and raises BadParameter from its ValidationError, whose errors
    carry the input; a command's own BadParameter has no such cause."""
    errors = getattr(error.__cause__, "errors", None)
    details = errors() if callable(errors) else None
    given = details[0].get("input") if details else None
    return given if isinstance(given, str) else None


@contextmanager
def usage_errors_on_one_line() -> Iterator[None]:
    """A usage error (bad value, unknown or missing option, unknown command, extra argument) exits 2
    after the one `error ...` line every refused command prints, not typer's usage block and boxed
    panel. No arguments at all still shows the help, as `no_args_is_help` means."""
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except UsageError as error:
        from optbot.cli.common import print_error_line

        print_error_line(usage_error_line(error))
        raise typer.Exit(error.exit_code) from None


class LazyCommandGroup(TyperGroup):
    """`optbot` itself: lists `COMMANDS` as they are and imports a command's CLI modules only when
    that command is resolved to run (its own `--help` included). Its arguments are parsed and its
    subcommands resolved, parsed and run inside `usage_errors_on_one_line`, so every command's usage
    errors come out as one line, through `optbot` and through a test's `CliRunner` alike."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for listed in COMMANDS:
            self.add_command(_Listing(listed.name, help=listed.help))

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with usage_errors_on_one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with usage_errors_on_one_line():
            return super().invoke(ctx)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name is not None and isinstance(command, _Listing):
            command = REGISTERED.command(name)
        return name, command, rest


app = typer.Typer(
    name="optbot",
    help="Automated NSE index-options trading on Angel One SmartAPI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyCommandGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"optbot {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML config file (or $OPTBOT_CONFIG)"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show version"),
) -> None:
    from optbot.cli.common import CliState

    ctx.obj = CliState(config_path=config)


def run() -> None:
    try:
        app()
    except ConfigError as exc:
        from optbot.cli.common import print_config_problems

        print_config_problems(exc)
        sys.exit(2)
    except UserError as exc:
        from optbot.cli.common import print_error_line

        print_error_line(str(exc))
        sys.exit(2)


if __name__ == "__main__":
    run()

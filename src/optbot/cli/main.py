"""Entry point. Each package contributes its commands through `optbot.<pkg>.cli.register(app)`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from optbot import __version__
from optbot.cli.common import CliState, error_console
from optbot.config import ConfigError
from optbot.core.errors import UserError

app = typer.Typer(
    name="optbot",
    help="Automated NSE index-options trading on Angel One SmartAPI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Packages whose `cli.register(app)` adds commands. A package without a cli module adds none.
COMMAND_PACKAGES = (
    "optbot.config",
    "optbot.calendar",
    "optbot.broker.angelone",
    "optbot.sim",
    "optbot.instruments",
    "optbot.data",
    "optbot.indicators",
    "optbot.analytics",
    "optbot.strategy",
    "optbot.risk",
    "optbot.execution",
    "optbot.portfolio",
    "optbot.persistence",
    "optbot.backtest",
    "optbot.engine",
    "optbot.ops",
    "optbot.research",
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
    ctx.obj = CliState(config_path=config)


def _register_all() -> None:
    for package in COMMAND_PACKAGES:
        module_name = f"{package}.cli"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name in (module_name, package):
                continue
            raise
        module.register(app)


_register_all()


def run() -> None:
    try:
        app()
    except ConfigError as exc:
        for problem in exc.problems:
            error_console.print(f"[red]config error[/red] {problem}", highlight=False)
        sys.exit(2)
    except UserError as exc:
        error_console.print(f"[red]error[/red] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    run()

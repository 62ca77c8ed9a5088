"""The instruments and data commands on an app of their own, for the tests of those commands.

It lives with the tests, not in `optbot.test_kit`: no package of optbot imports a CLI module."""

from __future__ import annotations

import typer

from optbot.cli.common import CliState
from optbot.data.cli import register as register_data
from optbot.instruments.cli import register as register_instruments


def data_cli_app() -> typer.Typer:
    """An `optbot`-like app with only the instruments and data commands (isolated from other packages)."""
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = CliState()

    register_instruments(app)
    register_data(app)
    return app

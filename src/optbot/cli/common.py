"""Shared CLI plumbing: the global --config option, settings loading, and user-error exits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from optbot.core.bundled import resolve_data_path
from optbot.core.errors import ConfigError, UserError

if TYPE_CHECKING:
    from optbot.config import Settings

console = Console()
error_console = Console(stderr=True, soft_wrap=True)

CONFIG_ENV = "OPTBOT_CONFIG"


@dataclass
class CliState:
    config_path: Path | None = None
    _settings: Settings | None = None

    def resolved_config_path(self) -> Path | None:
        """`--config`, else $OPTBOT_CONFIG, else None (defaults)."""
        if self.config_path is None and os.environ.get(CONFIG_ENV):
            return Path(os.environ[CONFIG_ENV])
        return self.config_path

    def settings(self) -> Settings:
        if self._settings is None:
            # Imported here: the settings model (pydantic) loads only for commands that read settings,
            # so `--help` and a bad argument are answered without it.
            from optbot.config import load_settings

            self._settings = load_settings(self.resolved_config_path())
        return self._settings


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def settings_from(ctx: typer.Context) -> Settings:
    """Load settings for a command, turning config problems into a clean exit 2."""
    try:
        return state(ctx).settings()
    except ConfigError as exc:
        fail_config(exc)


def print_error_line(message: str, label: str = "error") -> None:
    """The one line a refused command prints on stderr: `error <what was wrong>`. The message is
    printed as given: a path or value quoted in it may hold `[...]`, which Rich would take as markup
    and drop."""
    error_console.print(f"[red]{label}[/red] {escape(message)}", highlight=False)


def print_config_problems(exc: ConfigError) -> None:
    """One `config error <key>: <problem>` line per problem of a refused configuration."""
    for problem in exc.problems:
        print_error_line(problem, label="config error")


def fail_config(exc: ConfigError) -> NoReturn:
    print_config_problems(exc)
    raise typer.Exit(2)


def fail(message: str, code: int = 2) -> NoReturn:
    print_error_line(message)
    raise typer.Exit(code)


__all__ = [
    "CliState",
    "UserError",
    "console",
    "data_root_option",
    "error_console",
    "fail",
    "fail_config",
    "print_config_problems",
    "print_error_line",
    "settings_from",
    "state",
]


def data_root_option(path: Path | None) -> Path | None:
    """A `--data PATH` option (typer callback) read the same way by every command that replays
    data: relative to the current directory when it exists there, else the project folder's
    (`--data data/sample/store` names the bundled sample from anywhere); None stays None."""
    return resolve_data_path(path) if path is not None else None


def parse_date_option(flag: str, text: str) -> date:
    """An ISO date given on the command line; anything else is one clear line naming the flag."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{flag}: not an ISO date (YYYY-MM-DD): {text!r}") from None

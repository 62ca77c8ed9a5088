"""Errors that are the user's to fix: the CLI prints them plainly and exits 2, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from a person (a file, a flag, a value). The message names what was wrong."""


class ConfigError(Exception):
    """A user's configuration is invalid. `problems` holds one `section.key: reason` per error.
    (Here rather than in optbot.config so the CLI can catch it without loading the settings model.)"""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ParameterError(UserError):
    """A parameter value (a search trial's, an override's) that a setting or a strategy file refuses.

    A search treats it as an infeasible combination (the trial is pruned), never as a crash."""

"""docs/runbooks.md is read in an incident, when a wrong command costs the most: every `optbot ...`
command it names must exist with the options it gives, and every alert it quotes must be one optbot
sends."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from optbot.cli.main import REGISTERED

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks.md"
SOURCES = ROOT / "src" / "optbot"

#: `optbot ...` inside backticks, up to the closing backtick.
COMMAND = re.compile(r"`(optbot [^`]+)`")
#: A quoted alert title: `alert "Title"`, `alerts "A" and "B"`.
ALERT = re.compile(r'alerts? "([^"]+)"(?: and "([^"]+)")?')


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The click command the leading words name, and the words left for it."""
    command = REGISTERED.command(words[0])
    rest = words[1:]
    while rest and rest[0] in getattr(command, "commands", {}):
        command = command.commands[rest[0]]
        rest = rest[1:]
    return command, rest


def _named_commands() -> list[str]:
    return [match.group(1) for match in COMMAND.finditer(RUNBOOKS.read_text(encoding="utf-8"))]


def test_every_command_the_runbooks_name_exists_with_its_options() -> None:
    problems: list[str] = []
    named = _named_commands()
    assert len(named) > 20
    for text in named:
        words = shlex.split(text.replace("…", "").replace("...", ""))[1:]
        if not words:
            continue
        try:
            command, rest = _resolve(words)
        except KeyError:
            problems.append(f"{text}: no command {words[0]!r}")
            continue
        if getattr(command, "commands", None) and rest and not rest[0].startswith("-"):
            problems.append(f"{text}: no subcommand {rest[0]!r}")
            continue
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for word in rest:
            flag = word.split("=", 1)[0]
            if flag.startswith("-") and flag not in options:
                problems.append(f"{text}: {command.name} has no option {flag}")
    assert problems == []


def test_every_alert_the_runbooks_quote_is_sent_by_optbot() -> None:
    source = "\n".join(path.read_text(encoding="utf-8") for path in SOURCES.rglob("*.py"))
    quoted = [
        title
        for match in ALERT.finditer(RUNBOOKS.read_text(encoding="utf-8"))
        for title in match.groups()
        if title
    ]
    assert len(quoted) > 5
    # a title built with an f-string ("Risk state {state}") matches on its literal start
    prefixes = {prefix for prefix in re.findall(r'f"([^"{]{8,})\{', source)}
    missing = [
        title
        for title in quoted
        if f'"{title}' not in source and not any(title.startswith(prefix) for prefix in prefixes)
    ]
    assert missing == []

"""The `optbot` top level lists its commands from one table and imports a command only to run it."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from optbot.cli.main import COMMANDS, REGISTERED, app

SRC = Path(__file__).resolve().parents[2] / "src"


def _defining_modules(command: object) -> set[str]:
    """The modules whose functions implement a command or every command of a group (recursively)."""
    callback = getattr(command, "callback", None)
    found = {callback.__module__} if callback is not None else set()
    for sub in getattr(command, "commands", {}).values():
        found |= _defining_modules(sub)
    return found


def test_the_table_lists_every_command_with_its_help_and_modules() -> None:
    registered = {listed.name: REGISTERED.command(listed.name) for listed in COMMANDS}
    every_module = sorted({module for listed in COMMANDS for module in listed.modules})
    everything = typer.Typer()
    for module in every_module:
        __import__(module, fromlist=["register"]).register(everything)
    real = typer.main.get_group(everything).commands
    assert sorted(listed.name for listed in COMMANDS) == sorted(real)
    for listed in COMMANDS:
        command = registered[listed.name]
        assert listed.help == inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        # A listed module's register may pull in its own package's CLI helpers (research.cli_checks).
        packages = {module.rsplit(".", 1)[0] for module in listed.modules}
        strays = {module for module in _defining_modules(command) if module.rsplit(".", 1)[0] not in packages}
        assert strays == set(), f"{listed.name}: also defined by {strays}; list them in COMMANDS"


def test_help_and_a_bad_argument_load_no_command_package() -> None:
    """Laziness, checked structurally (a timing lives in benchmarks/bench_cli_startup.py)."""
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from optbot.cli.main import app\n"
        "runner = CliRunner()\n"
        "assert runner.invoke(app, ['--help']).exit_code == 0\n"
        "bad = runner.invoke(app, ['backtest', '--from', '2024-13-01', '--to', '2024-01-02'])\n"
        "assert 'not an ISO date' in str(bad.exception), bad.output\n"
        "usage = runner.invoke(app, ['backtest', '--workers', '0', '--from', '2024-01-01'])\n"
        "assert usage.exit_code == 2 and usage.stderr.startswith('error --workers'), usage.output\n"
        "heavy = ('numpy', 'scipy', 'pandas', 'pyarrow', 'duckdb', 'optuna', 'plotly', 'httpx', 'fastapi',\n"
        "         'optbot.config.settings', 'optbot.engine', 'optbot.backtest.runner')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in heavy or name in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC)},
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_command_runs_through_the_lazy_top_level() -> None:
    result = CliRunner().invoke(app, ["calendar", "--help"])
    assert result.exit_code == 0 and "NSE trading days" in result.output
    unknown = CliRunner().invoke(app, ["calendr"])
    assert unknown.exit_code == 2 and "Did you mean 'calendar'" in unknown.output


#: What a command's --help must not load (numpy is allowed: the indicator CLI's types use it).
HEAVY_MODULES = ("scipy", "pandas", "pyarrow", "fastapi", "aiohttp", "optuna", "plotly")


def test_every_commands_help_loads_no_heavy_library() -> None:
    """Building every command (what --help and an argument error need) imports none of the heavy
    libraries: the command modules import them inside the commands."""
    code = (
        "import sys, typer, typer.main\n"
        "from optbot.cli.main import COMMANDS\n"
        "import importlib\n"
        "for command in COMMANDS:\n"
        "    app = typer.Typer()\n"
        "    for name in command.modules:\n"
        "        importlib.import_module(name).register(app)\n"
        "    typer.main.get_group(app)\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_research_help_and_a_bad_date_load_no_optuna_plotly_or_pandas() -> None:
    """The research commands import the study stack (optuna, plotly, pandas, the engine) only after
    their arguments are checked: `optbot research --help`, a subcommand's --help and a bad date answer
    without it."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from optbot.cli.main import app\n"
        "runner = CliRunner()\n"
        "for args in (['research', '--help'], ['research', 'optimise', '--help']):\n"
        "    assert runner.invoke(app, args).exit_code == 0, args\n"
        "bad = runner.invoke(app, ['research', 'optimise', '--strategy', 'adx_trend',\n"
        "                          '--from', '2024-13-01', '--to', '2024-01-02'])\n"
        "assert 'not an ISO date' in str(bad.exception), bad.output\n"
        "heavy = ('optuna', 'plotly', 'pandas', 'scipy', 'optbot.engine', 'optbot.backtest.runner')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in heavy or name in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_config_validate_in_a_fresh_process_refuses_an_unknown_strategy(tmp_path: Path) -> None:
    """In one test process the strategy registry is already imported by other tests; a user's fresh
    `optbot config validate` did not import it, so it printed OK for a name `optbot run` refuses."""
    config = tmp_path / "bad.toml"
    config.write_text('[strategy]\nenabled = ["no_such_strategy"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "optbot.cli.main", "config", "validate", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "strategy.enabled: unknown strategy 'no_such_strategy'" in done.stdout + done.stderr

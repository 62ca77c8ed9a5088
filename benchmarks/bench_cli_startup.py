"""`optbot --help` and a bad-input error: wall time to the answer (target <= 1 s each, issue 15).

Each case runs the `optbot` command in a fresh process (the console script beside this interpreter,
else `python -m optbot.cli.main`), N times; the median wall time is compared with the target. The
children's CPU time is printed too: on a busy machine wall time includes waiting for a core, CPU time
does not. Baseline in the same run: a bare interpreter start (`python -c pass`). Then every top-level command
of `cli.main.COMMANDS`: its --help and one bad input (exit code 2), fewer runs each.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

RUNS = 7
TARGET_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Case:
    label: str
    args: tuple[str, ...]
    exit_code: int


CASES = (
    Case("optbot --help", ("--help",), 0),
    Case(
        "bad input: optbot backtest --from 2024-13-01",
        ("backtest", "--from", "2024-13-01", "--to", "2024-01-02"),
        2,
    ),
)
#: Runs of each per-command case (fewer than RUNS: there are two cases for each of two dozen commands).
COMMAND_RUNS = 3
#: One bad input per top-level command, each answered with one line and exit code 2: a value of the
#: wrong type or out of range where the command has one, else a mistyped subcommand or option.
BAD_INPUTS: dict[str, tuple[str, ...]] = {
    "chain": ("chain", "NIFTY", "--strikes", "0"),
    "indicators": ("indicators", "bars.csv", "--indicator", "macd"),
    "greeks": (
        "greeks",
        "--spot",
        "x",
        "--strike",
        "100",
        "--vol",
        "0.2",
        "--years",
        "0.1",
        "--type",
        "call",
    ),
    "iv": ("iv", "--price", "1", "--spot", "100", "--strike", "100", "--years", "0.1", "--type", "sideways"),
    "price": ("price", "NIFTY03NOV2218000CE", "--at", "not-a-time"),
    "charges": ("charges", "--bogus"),
    "reconcile": ("reconcile", "--bogus"),
    "backtest": ("backtest", "--from", "2024-13-01", "--to", "2024-01-02"),
    "demo": ("demo", "--day", "2024-13-01"),
    "check": ("check", "--at", "yesterday"),
    "run": ("run", "--sessions", "0"),
    "status": ("status", "--bogus"),
}


def command_cases() -> list[Case]:
    """Each top-level command's --help and its bad input (groups: a mistyped subcommand)."""
    from optbot.cli.main import COMMANDS  # the command table only: no command module is imported

    cases: list[Case] = []
    for command in COMMANDS:
        cases.append(Case(f"optbot {command.name} --help", (command.name, "--help"), 0))
        bad = BAD_INPUTS.get(command.name, (command.name, "no-such-subcommand"))
        cases.append(Case(f"bad input: optbot {' '.join(bad)}", bad, 2))
    return cases


def optbot_command() -> list[str]:
    script = Path(sys.executable).with_name("optbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "optbot.cli.main"]


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: list[str], exit_code: int, runs: int = RUNS) -> tuple[float, float, str]:
    """Median wall seconds, median CPU seconds and the last run's stderr (the error line)."""
    walls: list[float] = []
    cpus: list[float] = []
    stderr = ""
    for _ in range(runs):
        cpu_before = children_cpu_seconds()
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
        walls.append(time.perf_counter() - began)
        cpus.append(children_cpu_seconds() - cpu_before)
        if done.returncode != exit_code:
            raise SystemExit(f"{command}: exit code {done.returncode}, expected {exit_code}\n{done.stderr}")
        stderr = done.stderr.strip()
    return statistics.median(walls), statistics.median(cpus), stderr


def main() -> None:
    base_wall, base_cpu, _ = measure([sys.executable, "-c", "pass"], 0)
    print(
        f"bare interpreter start (baseline): {base_wall:.3f} s wall, {base_cpu:.3f} s CPU (median of {RUNS})"
    )
    for case in CASES:
        wall, cpu, stderr = measure([*optbot_command(), *case.args], case.exit_code)
        verdict = "PASS" if wall <= TARGET_SECONDS else "FAIL"
        print(
            f"{case.label}: {wall:.3f} s wall (target <= {TARGET_SECONDS:g} s: {verdict}), {cpu:.3f} s CPU, "
            f"{wall / base_wall:.1f}x a bare interpreter start"
        )
        if stderr:
            print(f"  answer: {stderr.splitlines()[-1]}")
    print(f"every command (median of {COMMAND_RUNS} runs each):")
    slowest: list[tuple[float, str]] = []
    for case in command_cases():
        wall, cpu, stderr = measure([*optbot_command(), *case.args], case.exit_code, COMMAND_RUNS)
        slowest.append((wall, case.label))
        answer = f"  -> {_last_line(stderr)}" if case.exit_code else ""
        verdict = "PASS" if wall <= TARGET_SECONDS else "FAIL"
        print(f"  {wall:6.3f} s wall {cpu:6.3f} s CPU {verdict}  {case.label}{answer}")
    failed = [label for wall, label in slowest if wall > TARGET_SECONDS]
    worst_wall, worst_label = max(slowest)
    print(
        f"every command: {len(slowest) - len(failed)}/{len(slowest)} within {TARGET_SECONDS:g} s; "
        f"slowest {worst_wall:.3f} s ({worst_label})"
    )


def _last_line(stderr: str) -> str:
    """The answer to a bad input: its one `error ...` line, flagged when there are more lines."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if len(lines) == 1:
        return lines[0]
    return f"({len(lines)} lines, not one) {lines[-1] if lines else ''}"

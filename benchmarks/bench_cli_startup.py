"""`optbot --help` and a bad-input error: wall time to the answer (target <= 1 s each, issue 15).

Each case runs the `optbot` command in a fresh process (the console script beside this interpreter,
else `python -m optbot.cli.main`), N times; the median wall time is compared with the target. The
children's CPU time is printed too: on a busy machine wall time includes waiting for a core, CPU time
does not. Baseline in the same run: a bare interpreter start (`python -c pass`).
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


def optbot_command() -> list[str]:
    script = Path(sys.executable).with_name("optbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "optbot.cli.main"]


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: list[str], exit_code: int) -> tuple[float, float, str]:
    """Median wall seconds, median CPU seconds and the last run's stderr (the error line)."""
    walls: list[float] = []
    cpus: list[float] = []
    stderr = ""
    for _ in range(RUNS):
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

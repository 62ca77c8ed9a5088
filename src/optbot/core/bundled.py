"""Where the project's bundled sample data lives, whatever the current directory.

The sample (`data/sample/`, with the ready-made data root `data/sample/store/`) sits in the project
folder beside `src/`. Commands that read it by default must find it when run from anywhere (a user's
shell is rarely in the project folder), so defaults are anchored here, not on the working directory.
A relative data path a user gives is read from the current directory first, as any command-line
path; only when nothing is there is it looked up in the project folder, so `--data data/sample/store`
names the bundled sample from any directory.
"""

from __future__ import annotations

from pathlib import Path

#: The project folder (holds `src/optbot` and `data/sample`).
PROJECT_ROOT = Path(__file__).resolve().parents[3]
#: The bundled real-data sample (CSV files and the ready-made data root below it).
SAMPLE_ROOT = PROJECT_ROOT / "data" / "sample"
#: The bundled sample as a data root (`timeframes/` + `archive/`), what the demo and backtest read.
SAMPLE_STORE = SAMPLE_ROOT / "store"


def resolve_data_path(path: Path) -> Path:
    """`path` made absolute: `~` expanded; a relative path from the current directory when it exists
    there, else from the project folder when it exists there (the bundled sample), else from the
    current directory (so a message about a missing folder names the full path)."""
    path = path.expanduser()
    if path.is_absolute():
        return path
    here = Path.cwd() / path
    if here.exists():
        return here
    bundled = PROJECT_ROOT / path
    return bundled if bundled.exists() else here


__all__ = ["PROJECT_ROOT", "SAMPLE_ROOT", "SAMPLE_STORE", "resolve_data_path"]

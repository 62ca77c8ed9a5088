"""Strategy rotation verdicts (spec §10.6) from walk-forward results, never from in-sample fits.

The research suite's scheduled walk-forwards write one verdict per strategy to
`<state>/rotation.json`; a session reads it before loading strategies and leaves benched ones out
(saying why). A strategy with no verdict trades as configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from optbot.core.atomic import atomic_write_bytes
from optbot.strategy.base import Strategy

ROTATION_FILE = "rotation.json"


@dataclass(frozen=True, slots=True)
class RotationVerdict:
    strategy: str
    benched: bool
    reason: str
    as_of: str  # the IST day the walk-forward ran
    out_of_sample_net_pnl: float
    walk_forward_efficiency: float | None
    out_of_sample_sessions: int


def read_verdicts(path: Path) -> dict[str, RotationVerdict]:
    """Verdicts by strategy name; a missing file means no verdicts. A corrupt file raises ValueError."""
    if not path.exists():
        return {}
    try:
        rows = orjson.loads(path.read_bytes())
        return {row["strategy"]: RotationVerdict(**row) for row in rows}
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: not a rotation verdict file ({exc})") from None


def write_verdicts(path: Path, verdicts: Mapping[str, RotationVerdict]) -> None:
    """Atomically replace the file, keeping verdicts for strategies not in `verdicts`."""
    merged = {**read_verdicts(path), **verdicts} if path.exists() else dict(verdicts)
    rows = [asdict(merged[name]) for name in sorted(merged)]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")


def benched(verdicts: Mapping[str, RotationVerdict]) -> dict[str, str]:
    """Strategy name → why it is benched."""
    return {name: verdict.reason for name, verdict in verdicts.items() if verdict.benched}


def without_benched(
    strategies: Sequence[Strategy], verdicts: Mapping[str, RotationVerdict]
) -> tuple[list[Strategy], dict[str, str]]:
    """The strategies a live or paper session runs, and the benched ones left out (name → why).

    Only sessions call this: a backtest runs what it is asked to, whatever the last walk-forward said."""
    out = benched(verdicts)
    return [strategy for strategy in strategies if strategy.name not in out], {
        strategy.name: out[strategy.name] for strategy in strategies if strategy.name in out
    }

"""The persisted kill flag (`<data_root>/state/KILL`) and resume acknowledgement.

The CLI cannot reach a running engine, so the switch is a file: `optbot risk kill-switch` writes it,
every engine checks it before approving new risk, and `optbot risk resume --ack` removes it and
leaves a timestamped acknowledgement the engine uses to lift manual lockouts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from optbot.core.atomic import atomic_write_text
from optbot.core.errors import UserError
from optbot.core.timeutil import iso_utc, parse_iso

RESUME_ACK_FILE_NAME = "RESUME_ACK"
_UNKNOWN_TIME = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class KillFlag:
    reason: str
    ts_utc: datetime


def write_kill_flag(path: Path, reason: str, when: datetime) -> KillFlag:
    if not reason.strip():
        raise UserError("kill switch needs a reason (--reason), e.g. 'broker outage'")
    flag = KillFlag(reason.strip(), when)
    atomic_write_text(path, json.dumps({"reason": flag.reason, "ts_utc": iso_utc(when)}) + "\n")
    return flag


def read_kill_flag(path: Path) -> KillFlag | None:
    """The flag, or None when absent. An unreadable flag still counts as a kill (fail safe)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return KillFlag(f"kill flag {path} present but unreadable ({exc.strerror})", _UNKNOWN_TIME)
    try:
        data = json.loads(text)
        return KillFlag(str(data["reason"]), parse_iso(str(data["ts_utc"])))
    except (ValueError, KeyError, TypeError):
        return KillFlag(f"kill flag {path} present but malformed", _UNKNOWN_TIME)


def clear_kill_flag(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def write_resume_ack(path: Path, when: datetime) -> None:
    atomic_write_text(path, json.dumps({"ts_utc": iso_utc(when)}) + "\n")


def read_resume_ack(path: Path) -> datetime | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return parse_iso(str(data["ts_utc"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError, OSError):
        return None

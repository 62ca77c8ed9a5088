"""Tolerant field conversion for SmartAPI replies.

Recorded replies mix strings and numbers for the same field (`"194.00"` vs `194.0`), use `null`,
empty strings, and even `"- 2235.80"` (a space after the minus sign) for a negative net value
(reference §3). These helpers accept all of those and raise `ValueError` naming the field otherwise.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from optbot.core.timeutil import IST

_EXCHANGE_TIME_FORMATS = ("%d-%b-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d-%b-%Y %H:%M")


def to_float(value: Any, field_name: str = "value", default: float = 0.0) -> float:
    """A number from a JSON number, a decimal string, `"- 12.5"`, `""` or null (-> default)."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ValueError(f"{field_name}: expected a number, got a boolean")
        return default
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        if text in ("", "null", "None", "-", "NA"):
            return default
        if text.startswith(("-", "+")):
            text = text[0] + text[1:].strip()
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{field_name}: not a number: {value!r}") from None
    else:
        raise ValueError(f"{field_name}: expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise ValueError(f"{field_name}: not a finite number: {value!r}")
    return number


def to_int(value: Any, field_name: str = "value", default: int = 0) -> int:
    """An integer from `"75"`, `75`, `75.0`, `""` or null; fractional values are refused."""
    number = to_float(value, field_name, float(default))
    if number != int(number):
        raise ValueError(f"{field_name}: expected a whole number, got {value!r}")
    return int(number)


def to_str(value: Any, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def to_bool(value: Any) -> bool:
    """Docs samples send `"true"`/`"false"` strings; live replies send booleans."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def parse_exchange_time(value: Any) -> datetime | None:
    """`20-Oct-2020 13:10:59` (IST) or ISO-8601; empty until the exchange acknowledges -> None."""
    text = to_str(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None:
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=IST)
    for pattern in _EXCHANGE_TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=IST)
        except ValueError:
            continue
    return None


def as_rows(data: Any, what: str) -> list[dict[str, Any]]:
    """Books come back as a list, or `null` when empty; anything else is a broken reply."""
    if data is None or data == "":
        return []
    if not isinstance(data, list):
        raise ValueError(f"{what}: expected a list of rows, got {type(data).__name__}")
    return [row for row in data if isinstance(row, dict)]


def as_list(data: Any, what: str) -> list[Any]:
    """Like `as_rows` for replies whose rows are arrays (getCandleData)."""
    if data is None or data == "":
        return []
    if not isinstance(data, list):
        raise ValueError(f"{what}: expected a list, got {type(data).__name__}")
    return data

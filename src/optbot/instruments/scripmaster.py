"""Parse and validate Angel One's OpenAPIScripMaster.json (reference §9) into `Instrument`s.

Every row is checked on its own; a bad row is counted by reason, logged (first few per reason) and
skipped, so one corrupt line in a 150,000-row file never blocks the day's trading.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from optbot.core.enums import Exchange, InstrumentKind, OptionType
from optbot.core.instrument import Instrument

log = logging.getLogger("optbot.instruments.scripmaster")

#: How the master's `instrumenttype` maps onto our kinds. Types not listed here are rejected.
INSTRUMENT_TYPES: dict[str, InstrumentKind] = {
    "": InstrumentKind.EQUITY,
    "AMXIDX": InstrumentKind.INDEX,
    "FUTIDX": InstrumentKind.FUTIDX,
    "FUTSTK": InstrumentKind.FUTSTK,
    "OPTIDX": InstrumentKind.OPTIDX,
    "OPTSTK": InstrumentKind.OPTSTK,
    "FUTCOM": InstrumentKind.OTHER,
    "OPTFUT": InstrumentKind.OTHER,
    "OPTCUR": InstrumentKind.OTHER,
    "FUTCUR": InstrumentKind.OTHER,
    "FUTIRC": InstrumentKind.OTHER,
    "FUTIRT": InstrumentKind.OTHER,
    "OPTIRC": InstrumentKind.OTHER,
    "UNDIRC": InstrumentKind.OTHER,
    "UNDIRD": InstrumentKind.OTHER,
    "UNDIRT": InstrumentKind.OTHER,
    "UNDCUR": InstrumentKind.OTHER,
    "INDEX": InstrumentKind.OTHER,
    "COMDTY": InstrumentKind.OTHER,
    "AUCSO": InstrumentKind.OTHER,
}
_OPTION_KINDS = frozenset({InstrumentKind.OPTIDX, InstrumentKind.OPTSTK})
_FUTURE_KINDS = frozenset({InstrumentKind.FUTIDX, InstrumentKind.FUTSTK})
_EXCHANGES = {exchange.value: exchange for exchange in Exchange}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
#: Log at most this many examples per rejection reason; the rest are only counted.
LOGGED_EXAMPLES_PER_REASON = 5


class RowError(ValueError):
    """One master row is unusable; `reason` is a short stable key used for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass
class ParseReport:
    """What a parse saw: how many rows, how many kept, and why the others were skipped."""

    total_rows: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def record(self, reason: str, example: str) -> None:
        self.rejected[reason] += 1
        samples = self.examples.setdefault(reason, [])
        if len(samples) < LOGGED_EXAMPLES_PER_REASON:
            samples.append(example)
            log.warning("scrip master row skipped: %s (%s)", reason, example)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "examples": self.examples,
        }


def parse_expiry(text: str, cache: dict[str, date] | None = None) -> date:
    """`DDMMMYYYY` upper-case, e.g. `28MAR2024`."""
    if cache is not None:
        cached = cache.get(text)
        if cached is not None:
            return cached
    if len(text) != 9 or not text[:2].isdigit() or not text[5:].isdigit():
        raise RowError("bad_expiry", f"expiry {text!r} is not DDMMMYYYY")
    month = _MONTHS.get(text[2:5])
    if month is None:
        raise RowError("bad_expiry", f"expiry {text!r} has an unknown month")
    try:
        parsed = date(int(text[5:]), month, int(text[:2]))
    except ValueError as exc:
        raise RowError("bad_expiry", f"expiry {text!r}: {exc}") from None
    if cache is not None:
        cache[text] = parsed
    return parsed


def format_expiry(day: date) -> str:
    return day.strftime("%d%b%Y").upper()


def _number(row: dict[str, Any], key: str, reason: str) -> float:
    value = row.get(key)
    if value is None or value == "":
        raise RowError(reason, f"{key} missing")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RowError(reason, f"{key}={value!r} is not a number") from None


def parse_row(row: Any, expiry_cache: dict[str, date] | None = None) -> Instrument:
    """Validate one master row; raise `RowError` naming what was wrong."""
    if not isinstance(row, dict):
        raise RowError("not_an_object", f"row is {type(row).__name__}")
    token = row.get("token")
    if not isinstance(token, str) or not token.isdigit():
        raise RowError("bad_token", f"token={token!r}")
    exchange = _EXCHANGES.get(row.get("exch_seg") or "")
    if exchange is None:
        raise RowError("unknown_segment", f"exch_seg={row.get('exch_seg')!r}")
    type_text = row.get("instrumenttype")
    kind = INSTRUMENT_TYPES.get(type_text) if isinstance(type_text, str) else None
    if kind is None:
        raise RowError("unknown_instrument_type", f"instrumenttype={type_text!r}")
    symbol = row.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise RowError("bad_symbol", f"symbol={symbol!r}")
    name = row.get("name")
    underlying = name if isinstance(name, str) and name else symbol
    lot_value = _number(row, "lotsize", "bad_lot_size")
    tick_paise = _number(row, "tick_size", "bad_tick_size")
    strike_raw = _number(row, "strike", "bad_strike")
    if lot_value != int(lot_value):
        raise RowError("bad_lot_size", f"lotsize={row.get('lotsize')!r} is not whole")
    lot_size = int(lot_value)
    if tick_paise < 0:
        raise RowError("bad_tick_size", f"tick_size={row.get('tick_size')!r} is negative")
    is_derivative = kind in _OPTION_KINDS or kind in _FUTURE_KINDS
    expiry_text = row.get("expiry") or ""
    expiry: date | None = None
    strike: float | None = None
    option_type: OptionType | None = None
    if is_derivative:
        if lot_size <= 0:
            raise RowError("bad_lot_size", f"derivative lotsize={lot_size}")
        if tick_paise <= 0:
            raise RowError("bad_tick_size", f"derivative tick_size={tick_paise}")
        if not isinstance(expiry_text, str) or not expiry_text:
            raise RowError("bad_expiry", "derivative without expiry")
        expiry = parse_expiry(expiry_text, expiry_cache)
    else:
        # Index and some cash rows carry lotsize -1; they trade (or are quoted) one unit at a time.
        lot_size = max(lot_size, 1)
        if isinstance(expiry_text, str) and expiry_text and kind is InstrumentKind.OTHER:
            expiry = parse_expiry(expiry_text, expiry_cache)
    if kind in _OPTION_KINDS:
        if strike_raw <= 0:
            raise RowError("bad_strike", f"option strike={row.get('strike')!r}")
        strike = strike_raw / 100.0
        suffix = symbol[-2:]
        if suffix == "CE":
            option_type = OptionType.CE
        elif suffix == "PE":
            option_type = OptionType.PE
        else:
            raise RowError("bad_option_type", f"option symbol {symbol!r} does not end in CE/PE")
    freeze_quantity: int | None = None
    freeze_text = row.get("freeze_qty")
    if freeze_text not in (None, ""):
        try:
            freeze_value = int(float(freeze_text))
        except (TypeError, ValueError):
            raise RowError("bad_freeze_qty", f"freeze_qty={freeze_text!r}") from None
        freeze_quantity = freeze_value if freeze_value > 0 else None
    return Instrument(
        token=token,
        exchange=exchange,
        symbol=symbol,
        underlying=underlying,
        kind=kind,
        lot_size=lot_size,
        tick_size=tick_paise / 100.0,
        expiry=expiry,
        strike=strike,
        option_type=option_type,
        freeze_quantity=freeze_quantity,
    )


def parse_rows(rows: list[Any], report: ParseReport | None = None) -> tuple[list[Instrument], ParseReport]:
    report = report or ParseReport()
    cache: dict[str, date] = {}
    instruments: list[Instrument] = []
    append = instruments.append
    for row in rows:
        report.total_rows += 1
        try:
            append(parse_row(row, cache))
        except RowError as exc:
            report.record(exc.reason, str(exc)[:200])
    report.accepted = len(instruments)
    return instruments, report


def parse_master(payload: bytes) -> tuple[list[Instrument], ParseReport]:
    """Parse the whole downloaded file. A file that is not a JSON array is an error, not zero rows."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"scrip master is not valid JSON ({exc}); the download may be truncated") from None
    if not isinstance(document, list):
        raise ValueError(f"scrip master must be a JSON array, got {type(document).__name__}")
    if not document:
        raise ValueError("scrip master is an empty array")
    return parse_rows(document)


def instrument_to_row(instrument: Instrument) -> list[Any]:
    """Compact array form used in the daily artifact (see `ARTIFACT_COLUMNS`)."""
    return [
        instrument.token,
        instrument.exchange.value,
        instrument.symbol,
        instrument.underlying,
        instrument.kind.value,
        instrument.lot_size,
        instrument.tick_size,
        instrument.expiry.isoformat() if instrument.expiry else None,
        instrument.strike,
        instrument.option_type.value if instrument.option_type else None,
        instrument.freeze_quantity,
    ]


ARTIFACT_COLUMNS = (
    "token",
    "exchange",
    "symbol",
    "underlying",
    "kind",
    "lot_size",
    "tick_size",
    "expiry",
    "strike",
    "option_type",
    "freeze_quantity",
)


def row_to_instrument(row: list[Any], expiry_cache: dict[str, date]) -> Instrument:
    expiry_text = row[7]
    expiry = None
    if expiry_text:
        expiry = expiry_cache.get(expiry_text)
        if expiry is None:
            expiry = datetime.strptime(expiry_text, "%Y-%m-%d").date()  # noqa: DTZ007 - a date, no tz
            expiry_cache[expiry_text] = expiry
    return Instrument(
        token=row[0],
        exchange=Exchange(row[1]),
        symbol=row[2],
        underlying=row[3],
        kind=InstrumentKind(row[4]),
        lot_size=int(row[5]),
        tick_size=float(row[6]),
        expiry=expiry,
        strike=row[8],
        option_type=OptionType(row[9]) if row[9] else None,
        freeze_quantity=row[10],
    )

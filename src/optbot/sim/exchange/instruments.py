"""Contract specifications the exchange needs, read from the replay's scrip master rows (reference §9)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

DERIVATIVE_SEGMENTS = frozenset({"NFO", "BFO", "MCX", "CDS"})


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    exchange: str
    token: str
    symbol: str
    name: str
    instrument_type: str  # "" cash, AMXIDX, FUTIDX, OPTIDX, ...
    expiry: date | None
    expiry_text: str  # as in the master, e.g. 28OCT2025
    strike: float  # rupees; -1 when not an option
    lot_size: int
    tick_size: float  # rupees
    freeze_quantity: int  # 0 = no freeze limit published

    @property
    def is_option(self) -> bool:
        return self.instrument_type.startswith("OPT")

    @property
    def is_future(self) -> bool:
        return self.instrument_type.startswith("FUT")

    @property
    def is_index(self) -> bool:
        return self.instrument_type == "AMXIDX"

    @property
    def option_type(self) -> str:
        if not self.is_option:
            return ""
        return self.symbol[-2:] if self.symbol[-2:] in ("CE", "PE") else ""

    @property
    def tradable(self) -> bool:
        return not self.is_index and self.lot_size > 0


def _parse_expiry(text: str) -> date | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d%b%Y").date()  # noqa: DTZ007 - a calendar date, no time
    except ValueError:
        return None


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def spec_from_row(row: dict[str, Any]) -> InstrumentSpec | None:
    """A spec from one master row, or None when the row lacks the identifying fields."""
    exchange = str(row.get("exch_seg") or "").upper()
    token = str(row.get("token") or "")
    if not exchange or not token:
        return None
    instrument_type = str(row.get("instrumenttype") or "")
    raw_strike = _float(row.get("strike"), -1.0)
    strike = raw_strike / 100.0 if instrument_type.startswith("OPT") else -1.0
    return InstrumentSpec(
        exchange=exchange,
        token=token,
        symbol=str(row.get("symbol") or ""),
        name=str(row.get("name") or ""),
        instrument_type=instrument_type,
        expiry=_parse_expiry(str(row.get("expiry") or "")),
        expiry_text=str(row.get("expiry") or ""),
        strike=strike,
        lot_size=int(_float(row.get("lotsize"), -1)),
        tick_size=_float(row.get("tick_size"), 0.0) / 100.0,
        freeze_quantity=int(_float(row.get("freeze_qty"), 0)),
    )


class InstrumentIndex:
    """Lookups by (exchange, token), by trading symbol, and underlying index by name."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self._by_key: dict[tuple[str, str], InstrumentSpec] = {}
        self._by_symbol: dict[tuple[str, str], InstrumentSpec] = {}
        self._index_by_name: dict[str, InstrumentSpec] = {}
        for row in rows:
            spec = spec_from_row(row)
            if spec is None:
                continue
            self._by_key[(spec.exchange, spec.token)] = spec
            self._by_symbol[(spec.exchange, spec.symbol.upper())] = spec
            if spec.is_index:
                self._index_by_name[spec.name.upper()] = spec
            elif spec.instrument_type == "" and spec.exchange in ("NSE", "BSE"):
                self._index_by_name.setdefault(spec.name.upper(), spec)

    def get(self, exchange: str, token: str) -> InstrumentSpec | None:
        return self._by_key.get((exchange.upper(), token))

    def by_symbol(self, exchange: str, symbol: str) -> InstrumentSpec | None:
        return self._by_symbol.get((exchange.upper(), symbol.upper()))

    def underlying_of(self, spec: InstrumentSpec) -> InstrumentSpec | None:
        """The cash/index instrument a derivative is written on (matched by master `name`)."""
        return self._index_by_name.get(spec.name.upper())

    def all(self) -> list[InstrumentSpec]:
        return list(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

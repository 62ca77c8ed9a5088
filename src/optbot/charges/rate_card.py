"""A dated rate card for option trades, loaded from a data file (never constants in code).

Every rate is a list of (from-date, value) steps so that a trade is charged at the rates in force on
its trade date: STT, exchange and other levies change by circular, and back-dated reports must use the
old ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from optbot.core.enums import Exchange
from optbot.core.errors import UserError

BUNDLED_RATE_CARD = "rate_card.json"

#: Which rate-card exchange key an exchange's option segment uses.
_EXCHANGE_KEY = {Exchange.NSE: "NSE", Exchange.NFO: "NSE", Exchange.BSE: "BSE", Exchange.BFO: "BSE"}


@dataclass(frozen=True, slots=True)
class RateStep:
    effective_from: date
    value: float


@dataclass(frozen=True, slots=True)
class DayRates:
    """The rates in force for one exchange on one trade date (percentages as given in the card)."""

    brokerage_per_order: float
    stt_option_sell_pct: float
    stt_exercised_itm_pct: float
    exchange_txn_pct: float
    ipft_pct: float
    sebi_per_crore: float
    stamp_buy_pct: float
    gst_pct: float
    gst_on_sebi_fee: bool
    gst_on_ipft: bool


def _steps(raw: Any, where: str) -> tuple[RateStep, ...]:
    if not isinstance(raw, list) or not raw:
        raise UserError(f"rate card: {where} must be a non-empty list of {{from, value}} steps")
    steps: list[RateStep] = []
    for index, item in enumerate(raw):
        try:
            steps.append(RateStep(date.fromisoformat(str(item["from"])), float(item["value"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"rate card: {where}[{index}] needs 'from' (YYYY-MM-DD) and numeric 'value'"
            ) from exc
        if steps[-1].value < 0:
            raise UserError(f"rate card: {where}[{index}] value must not be negative")
    ordered = tuple(sorted(steps, key=lambda step: step.effective_from))
    return ordered


def _value_on(steps: tuple[RateStep, ...], day: date, where: str) -> float:
    current: float | None = None
    for step in steps:
        if step.effective_from <= day:
            current = step.value
    if current is None:
        raise UserError(f"rate card: no {where} rate in force on {day.isoformat()}")
    return current


@dataclass(frozen=True, slots=True)
class RateCard:
    name: str
    brokerage_per_order: tuple[RateStep, ...]
    stt_option_sell_pct: tuple[RateStep, ...]
    stt_exercised_itm_pct: tuple[RateStep, ...]
    exchange_txn_pct: dict[str, tuple[RateStep, ...]]
    ipft_pct: dict[str, tuple[RateStep, ...]]
    sebi_per_crore: tuple[RateStep, ...]
    stamp_buy_pct: tuple[RateStep, ...]
    gst_pct: tuple[RateStep, ...]
    gst_on_sebi_fee: bool = True
    gst_on_ipft: bool = True

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> RateCard:
        def per_exchange(key: str) -> dict[str, tuple[RateStep, ...]]:
            raw = data.get(key)
            if not isinstance(raw, dict) or not raw:
                raise UserError(f"rate card: {key} must map exchange names (NSE, BSE) to step lists")
            return {str(name).upper(): _steps(steps, f"{key}.{name}") for name, steps in raw.items()}

        try:
            return cls(
                name=str(data.get("name", "rate card")),
                brokerage_per_order=_steps(
                    data.get("brokerage_flat_per_executed_order"), "brokerage_flat_per_executed_order"
                ),
                stt_option_sell_pct=_steps(data.get("stt_option_sell_pct"), "stt_option_sell_pct"),
                stt_exercised_itm_pct=_steps(data.get("stt_exercised_itm_pct"), "stt_exercised_itm_pct"),
                exchange_txn_pct=per_exchange("exchange_txn_pct"),
                ipft_pct=per_exchange("ipft_pct"),
                sebi_per_crore=_steps(data.get("sebi_per_crore"), "sebi_per_crore"),
                stamp_buy_pct=_steps(data.get("stamp_buy_pct"), "stamp_buy_pct"),
                gst_pct=_steps(data.get("gst_pct"), "gst_pct"),
                gst_on_sebi_fee=bool(data.get("gst_on_sebi_fee", True)),
                gst_on_ipft=bool(data.get("gst_on_ipft", True)),
            )
        except AttributeError as exc:
            raise UserError("rate card: the file must hold a JSON object") from exc

    @classmethod
    def load(cls, path: Path | None = None) -> RateCard:
        """Load a rate card file, or the bundled Angel One card when `path` is None."""
        try:
            if path is None:
                text = resources.files("optbot.charges").joinpath(BUNDLED_RATE_CARD).read_text()
            else:
                text = Path(path).read_text()
        except OSError as exc:
            raise UserError(f"rate card {path}: cannot read ({exc.strerror})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"rate card {path or BUNDLED_RATE_CARD}: not valid JSON ({exc.msg})") from exc
        if not isinstance(data, dict):
            raise UserError(f"rate card {path or BUNDLED_RATE_CARD}: must be a JSON object")
        return cls.from_mapping(data)

    def rates_on(self, exchange: Exchange, day: date) -> DayRates:
        key = _EXCHANGE_KEY.get(exchange)
        if key is None or key not in self.exchange_txn_pct or key not in self.ipft_pct:
            raise UserError(f"rate card '{self.name}' has no option rates for exchange {exchange.value}")
        return DayRates(
            brokerage_per_order=_value_on(self.brokerage_per_order, day, "brokerage"),
            stt_option_sell_pct=_value_on(self.stt_option_sell_pct, day, "STT (option sell)"),
            stt_exercised_itm_pct=_value_on(self.stt_exercised_itm_pct, day, "STT (exercise)"),
            exchange_txn_pct=_value_on(self.exchange_txn_pct[key], day, f"{key} transaction charge"),
            ipft_pct=_value_on(self.ipft_pct[key], day, f"{key} IPFT"),
            sebi_per_crore=_value_on(self.sebi_per_crore, day, "SEBI fee"),
            stamp_buy_pct=_value_on(self.stamp_buy_pct, day, "stamp duty"),
            gst_pct=_value_on(self.gst_pct, day, "GST"),
            gst_on_sebi_fee=self.gst_on_sebi_fee,
            gst_on_ipft=self.gst_on_ipft,
        )

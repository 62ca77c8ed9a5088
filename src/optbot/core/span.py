"""One SPAN-plus-exposure approximation for option baskets, shared by the simulator and the backtest.

Not the exchange's SPAN risk arrays (those are published daily and need a scenario engine); a
documented model with the shape that matters for sizing and RMS rejections:

- a bought option needs its premium;
- a written option needs SPAN = max(scan % of the underlying - how far it is out of the money,
  short-option minimum % of the underlying) plus exposure = exposure % of the underlying, per unit;
- a written option covered by a bought option of the same underlying, expiry and type is charged
  the spread's worst loss per unit instead of naked SPAN + exposure (the hedge benefit that makes
  credit spreads and iron condors affordable).

The scan range differs by index (BANKNIFTY moves more than NIFTY), so it is looked up by underlying.
The simulator answers SmartAPI's margin calculator with this model and its `[sim]` parameters; the
paper broker (backtests) uses the same model with the `[margin]` parameters. Their defaults are the
same numbers, and a test holds the backtest's figures to the simulator's for the same baskets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class SpanParameters:
    """Scan range % of the underlying by index, the short-option minimum % and the exposure %."""

    default_scan_pct: float
    short_min_pct: float
    exposure_pct: float
    scan_pct_by_underlying: Mapping[str, float] = field(default_factory=dict)

    def scan_pct(self, underlying: str) -> float:
        return self.scan_pct_by_underlying.get(underlying.upper(), self.default_scan_pct)


@dataclass(frozen=True, slots=True)
class OptionLeg:
    """One signed option holding or hypothetical order (+ long, - short) and the underlying's price."""

    underlying: str
    expiry: date | None
    option_type: str  # CE / PE
    strike: float
    quantity: int
    price: float
    spot: float


@dataclass(frozen=True, slots=True)
class SpanMargin:
    premium: float = 0.0
    span: float = 0.0
    exposure: float = 0.0

    @property
    def total(self) -> float:
        return self.premium + self.span + self.exposure


def short_option_per_unit(
    params: SpanParameters, underlying: str, option_type: str, strike: float, spot: float
) -> tuple[float, float]:
    """(SPAN, exposure) per unit of a naked short option."""
    spot = spot if spot > 0 else max(strike, 0.0)
    out_of_money = 0.0
    if option_type == "CE":
        out_of_money = max(0.0, strike - spot)
    elif option_type == "PE":
        out_of_money = max(0.0, spot - strike)
    span = max(
        params.scan_pct(underlying) / 100 * spot - out_of_money,
        params.short_min_pct / 100 * spot,
    )
    return span, params.exposure_pct / 100 * spot


def _spread_loss(option_type: str, short_strike: float, long_strike: float) -> float:
    """Worst loss per unit of a short covered by a long of the same type and expiry."""
    if option_type == "CE":
        return max(long_strike - short_strike, 0.0)
    return max(short_strike - long_strike, 0.0)


@dataclass
class _Side:
    strike: float
    quantity: int
    span: float = 0.0
    exposure: float = 0.0


def _net(legs: Iterable[OptionLeg]) -> list[OptionLeg]:
    """Net quantities per contract; the price is the average of the entries on the net side."""
    grouped: dict[tuple[str, date | None, str, float], list[OptionLeg]] = {}
    for leg in legs:
        grouped.setdefault((leg.underlying.upper(), leg.expiry, leg.option_type, leg.strike), []).append(leg)
    netted = []
    for items in grouped.values():
        quantity = sum(item.quantity for item in items)
        if quantity == 0:
            continue
        same_side = [item for item in items if (item.quantity > 0) == (quantity > 0)]
        units = sum(abs(item.quantity) for item in same_side)
        price = sum(abs(item.quantity) * item.price for item in same_side) / units
        first = items[0]
        netted.append(
            OptionLeg(
                first.underlying, first.expiry, first.option_type, first.strike, quantity, price, first.spot
            )
        )
    return netted


def basket_margin(params: SpanParameters, legs: Iterable[OptionLeg]) -> SpanMargin:
    """Margin of a set of option positions/orders taken together (hedges count)."""
    premium = 0.0
    groups: dict[tuple[str, date | None, str], tuple[list[_Side], list[_Side]]] = {}
    for leg in _net(legs):
        longs, shorts = groups.setdefault((leg.underlying.upper(), leg.expiry, leg.option_type), ([], []))
        if leg.quantity > 0:
            longs.append(_Side(leg.strike, leg.quantity))
            premium += leg.price * leg.quantity
        else:
            span, exposure = short_option_per_unit(
                params, leg.underlying, leg.option_type, leg.strike, leg.spot
            )
            shorts.append(_Side(leg.strike, -leg.quantity, span, exposure))
    span_total = exposure_total = 0.0
    for (_, _, option_type), (longs, shorts) in groups.items():
        span, exposure = _shorts_margin(option_type, longs, shorts)
        span_total += span
        exposure_total += exposure
    return SpanMargin(premium=premium, span=span_total, exposure=exposure_total)


def _shorts_margin(option_type: str, longs: list[_Side], shorts: list[_Side]) -> tuple[float, float]:
    """Cover the dearest shorts first with the longs that leave the smallest worst loss."""
    span_total = exposure_total = 0.0
    remaining = [_Side(leg.strike, leg.quantity) for leg in longs]
    for short in sorted(shorts, key=lambda leg: leg.span + leg.exposure, reverse=True):
        quantity = short.quantity
        naked = short.span + short.exposure
        candidates = []
        for long in remaining:
            loss = _spread_loss(option_type, short.strike, long.strike)
            if loss < naked:
                candidates.append((loss, long))
        for loss, long in sorted(candidates, key=lambda pair: pair[0]):
            if quantity == 0:
                break
            take = min(quantity, long.quantity)
            if take <= 0:
                continue
            long.quantity -= take
            quantity -= take
            span_total += loss * take
        span_total += short.span * quantity
        exposure_total += short.exposure * quantity
    return span_total, exposure_total


__all__ = ["OptionLeg", "SpanMargin", "SpanParameters", "basket_margin", "short_option_per_unit"]

"""A SPAN-like margin model: premium for option buys, a % of the underlying for shorts.

Not the exchange's SPAN arrays; a simple, documented model whose shape (shorts cost far more than
buys, deep OTM shorts cost less, hedges do not net) makes RMS rejections realistic.
"""

from __future__ import annotations

from dataclasses import dataclass

from optbot.config.sections.sim import SimSettings
from optbot.sim.exchange.instruments import InstrumentSpec


@dataclass(frozen=True, slots=True)
class MarginBreakdown:
    premium: float = 0.0
    span: float = 0.0
    exposure: float = 0.0
    delivery: float = 0.0
    non_fno: float = 0.0

    @property
    def total(self) -> float:
        return self.premium + self.span + self.exposure + self.delivery + self.non_fno

    def __add__(self, other: MarginBreakdown) -> MarginBreakdown:
        return MarginBreakdown(
            self.premium + other.premium,
            self.span + other.span,
            self.exposure + other.exposure,
            self.delivery + other.delivery,
            self.non_fno + other.non_fno,
        )


class MarginModel:
    def __init__(self, settings: SimSettings) -> None:
        self._settings = settings

    def short_option_per_unit(self, spec: InstrumentSpec, underlying_price: float) -> tuple[float, float]:
        """(span, exposure) per unit of a short option."""
        spot = underlying_price if underlying_price > 0 else max(spec.strike, 0.0)
        out_of_money = 0.0
        if spec.option_type == "CE":
            out_of_money = max(0.0, spec.strike - spot)
        elif spec.option_type == "PE":
            out_of_money = max(0.0, spot - spec.strike)
        span = max(
            self._settings.option_short_span_pct / 100 * spot - out_of_money,
            self._settings.option_short_min_span_pct / 100 * spot,
        )
        return span, self._settings.exposure_margin_pct / 100 * spot

    def opening(
        self,
        spec: InstrumentSpec,
        is_buy: bool,
        product_type: str,
        quantity: int,
        price: float,
        underlying_price: float,
    ) -> MarginBreakdown:
        """Margin for `quantity` units that OPEN (or add to) a position at `price`."""
        if quantity <= 0:
            return MarginBreakdown()
        if spec.is_option:
            if is_buy:
                return MarginBreakdown(premium=price * quantity)
            span, exposure = self.short_option_per_unit(spec, underlying_price)
            return MarginBreakdown(span=span * quantity, exposure=exposure * quantity)
        if spec.is_future:
            value = price * quantity
            return MarginBreakdown(
                span=value * self._settings.futures_span_pct / 100,
                exposure=value * self._settings.exposure_margin_pct / 100,
            )
        value = price * quantity
        if product_type == "DELIVERY" and is_buy:
            return MarginBreakdown(delivery=value)
        return MarginBreakdown(non_fno=value * self._settings.equity_intraday_margin_pct / 100)


@dataclass(frozen=True, slots=True)
class Exposure:
    """One signed holding or hypothetical fill the portfolio margin is computed over."""

    spec: InstrumentSpec
    product_type: str
    quantity: int  # signed: + long, - short
    price: float
    underlying_price: float


@dataclass
class _Leg:
    strike: float
    quantity: int
    price: float = 0.0
    span: float = 0.0
    exposure: float = 0.0


def _net_by_instrument(exposures: list[Exposure]) -> list[Exposure]:
    """Net quantities per contract; the price is the average of the entries on the net side."""
    grouped: dict[tuple[str, str], list[Exposure]] = {}
    for item in exposures:
        grouped.setdefault((item.spec.exchange, item.spec.token), []).append(item)
    netted = []
    for items in grouped.values():
        quantity = sum(item.quantity for item in items)
        if quantity == 0:
            continue
        same_side = [item for item in items if (item.quantity > 0) == (quantity > 0)]
        units = sum(abs(item.quantity) for item in same_side)
        price = (
            sum(abs(item.quantity) * item.price for item in same_side) / units if units else items[-1].price
        )
        first = items[0]
        netted.append(Exposure(first.spec, first.product_type, quantity, price, first.underlying_price))
    return netted


def _spread_loss(option_type: str, short_strike: float, long_strike: float) -> float | None:
    """Worst loss per unit of a short covered by a long of the same type and expiry, or None."""
    if option_type == "CE":
        return max(long_strike - short_strike, 0.0)
    if option_type == "PE":
        return max(short_strike - long_strike, 0.0)
    return None


class PortfolioMargin:
    """Margin of a whole book: shorts covered by longs of the same underlying, expiry and type are
    charged the spread's worst loss instead of naked SPAN (what makes credit spreads affordable)."""

    def __init__(self, model: MarginModel) -> None:
        self._model = model

    def total(self, exposures: list[Exposure]) -> MarginBreakdown:
        result = MarginBreakdown()
        groups: dict[tuple[str, object, str], tuple[list[_Leg], list[_Leg]]] = {}
        for item in _net_by_instrument(exposures):
            spec = item.spec
            if not spec.is_option:
                result = result + self._model.opening(
                    spec,
                    item.quantity > 0,
                    item.product_type,
                    abs(item.quantity),
                    item.price,
                    item.underlying_price,
                )
                continue
            longs, shorts = groups.setdefault((spec.name, spec.expiry, spec.option_type), ([], []))
            if item.quantity > 0:
                longs.append(_Leg(spec.strike, item.quantity, price=item.price))
                result = result + MarginBreakdown(premium=item.price * item.quantity)
            else:
                span, exposure = self._model.short_option_per_unit(spec, item.underlying_price)
                shorts.append(_Leg(spec.strike, -item.quantity, span=span, exposure=exposure))
        for (_, _, option_type), (longs, shorts) in groups.items():
            result = result + self._shorts_margin(option_type, longs, shorts)
        return result

    @staticmethod
    def _shorts_margin(option_type: str, longs: list[_Leg], shorts: list[_Leg]) -> MarginBreakdown:
        span_total = 0.0
        exposure_total = 0.0
        remaining_longs = [_Leg(leg.strike, leg.quantity) for leg in longs]
        for short in sorted(shorts, key=lambda leg: leg.span + leg.exposure, reverse=True):
            quantity = short.quantity
            naked = short.span + short.exposure
            candidates = []
            for long in remaining_longs:
                loss = _spread_loss(option_type, short.strike, long.strike)
                if loss is not None and loss < naked:
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
        return MarginBreakdown(span=span_total, exposure=exposure_total)

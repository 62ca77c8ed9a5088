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

    def for_order(
        self,
        spec: InstrumentSpec,
        is_buy: bool,
        product_type: str,
        quantity: int,
        price: float,
        underlying_price: float,
        open_quantity: int,
    ) -> MarginBreakdown:
        """Margin an order needs given the signed open position it may partly close first."""
        closing = 0
        if open_quantity > 0 and not is_buy:
            closing = min(open_quantity, quantity)
        elif open_quantity < 0 and is_buy:
            closing = min(-open_quantity, quantity)
        return self.opening(spec, is_buy, product_type, quantity - closing, price, underlying_price)

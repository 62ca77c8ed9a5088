"""The simulator's margins: `optbot.core.span` for options (SPAN + exposure, hedge benefit for
spreads) with the `[sim]` parameters; futures and cash by simple % of value.
"""

from __future__ import annotations

from dataclasses import dataclass

from optbot.config.sections.sim import SimSettings
from optbot.core.span import OptionLeg, SpanParameters, basket_margin
from optbot.core.span import short_option_per_unit as span_short_option_per_unit
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
        self.span_parameters = SpanParameters(
            default_scan_pct=settings.option_short_span_pct,
            short_min_pct=settings.option_short_min_span_pct,
            exposure_pct=settings.exposure_margin_pct,
            scan_pct_by_underlying={k.upper(): v for k, v in settings.option_scan_pct_by_underlying.items()},
        )

    def short_option_per_unit(self, spec: InstrumentSpec, underlying_price: float) -> tuple[float, float]:
        """(span, exposure) per unit of a short option."""
        return span_short_option_per_unit(
            self.span_parameters, spec.name, spec.option_type, spec.strike, underlying_price
        )

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


class PortfolioMargin:
    """Margin of a whole book: shorts covered by longs of the same underlying, expiry and type are
    charged the spread's worst loss instead of naked SPAN (what makes credit spreads affordable)."""

    def __init__(self, model: MarginModel) -> None:
        self._model = model

    def total(self, exposures: list[Exposure]) -> MarginBreakdown:
        result = MarginBreakdown()
        options: list[OptionLeg] = []
        for item in _net_by_instrument(exposures):
            spec = item.spec
            if spec.is_option:
                options.append(
                    OptionLeg(
                        spec.name,
                        spec.expiry,
                        spec.option_type,
                        spec.strike,
                        item.quantity,
                        item.price,
                        item.underlying_price,
                    )
                )
                continue
            result = result + self._model.opening(
                spec,
                item.quantity > 0,
                item.product_type,
                abs(item.quantity),
                item.price,
                item.underlying_price,
            )
        span = basket_margin(self._model.span_parameters, options)
        return result + MarginBreakdown(premium=span.premium, span=span.span, exposure=span.exposure)

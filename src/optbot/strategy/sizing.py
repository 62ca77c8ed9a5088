"""Position sizing (spec §10.2, §4.1-4.3): whole lots within freeze quantity and margin, each step listed."""

from __future__ import annotations

import math
from dataclasses import dataclass

from optbot.config.sections.risk import RiskSettings
from optbot.config.sections.strategy import StrategySettings


@dataclass(frozen=True, slots=True)
class SizingRequest:
    account_value: float
    premium: float  # option price per unit
    lot_size: int
    vix: float | None
    days_to_expiry: int | None
    open_interest: int | None
    open_positions: int
    risk_size_multiplier: float = 1.0  # from the risk engine (VIX bands x gradual resume)
    freeze_quantity: int | None = None
    available_margin: float | None = None
    margin_per_lot: float | None = None  # defaults to premium x lot (bought options)
    loss_per_unit_at_stop: float | None = None  # expected premium loss at the stop; defaults to the premium


@dataclass(frozen=True, slots=True)
class SizingResult:
    lots: int
    quantity: int
    reasons: tuple[str, ...]

    @property
    def tradable(self) -> bool:
        return self.lots > 0


class PositionSizer:
    def __init__(self, strategy: StrategySettings, risk: RiskSettings) -> None:
        self.strategy = strategy
        self.risk = risk

    def size(self, request: SizingRequest) -> SizingResult:
        s, r = self.strategy, self.risk
        reasons: list[str] = []

        def none(why: str) -> SizingResult:
            return SizingResult(0, 0, (*reasons, why))

        if request.lot_size <= 0:
            return none(f"invalid lot size {request.lot_size}")
        if request.premium <= 0:
            return none(f"invalid premium {request.premium}")
        if request.account_value <= 0:
            return none("account value not positive")
        budget = request.account_value * s.risk_per_trade_pct / 100
        reasons.append(
            f"base {s.risk_per_trade_pct:g}% of {request.account_value:,.0f} = {budget:,.0f} at risk"
        )
        multiplier = 1.0
        vix = request.vix
        band = 1.0
        if vix is None:
            return none("VIX unknown: cannot apply volatility sizing")
        if vix > r.vix_extreme:
            return none(f"VIX {vix:.2f} > {r.vix_extreme:g}: no new trades")
        if vix >= r.vix_high:
            band = s.high_vix_size_multiplier
            reasons.append(f"VIX {vix:.2f} high ({r.vix_high:g}-{r.vix_extreme:g}): x{band:g}")
        elif vix >= r.vix_elevated:
            band = s.elevated_vix_size_multiplier
            reasons.append(f"VIX {vix:.2f} elevated ({r.vix_elevated:g}-{r.vix_high:g}): x{band:g}")
        elif vix < r.vix_low:
            band = s.low_vix_size_multiplier
            reasons.append(f"VIX {vix:.2f} low (< {r.vix_low:g}): x{band:g}")
        risk_multiplier = request.risk_size_multiplier
        if band <= 1.0:
            # The risk engine's multiplier already contains its own VIX band: take the tighter, never both.
            if risk_multiplier < band:
                reasons.append(f"risk engine multiplier {risk_multiplier:.2f} is tighter (breaker resume)")
                band = risk_multiplier
        elif risk_multiplier < 1.0:
            band *= risk_multiplier
            reasons.append(f"risk engine size multiplier x{risk_multiplier:.2f}")
        multiplier *= band
        if request.days_to_expiry is not None and request.days_to_expiry < s.expiry_week_days:
            multiplier *= s.expiry_week_size_multiplier
            reasons.append(
                f"{request.days_to_expiry} days to expiry (< {s.expiry_week_days}): "
                f"x{s.expiry_week_size_multiplier:g}"
            )
        if request.open_interest is not None and request.open_interest < s.low_liquidity_open_interest:
            multiplier *= s.low_liquidity_size_multiplier
            reasons.append(
                f"low liquidity OI {request.open_interest} < {s.low_liquidity_open_interest}: "
                f"x{s.low_liquidity_size_multiplier:g}"
            )
        if request.open_positions > 0:
            position_factor = max(0.0, 1 - s.per_additional_position_reduction * request.open_positions)
            multiplier *= position_factor
            reasons.append(f"{request.open_positions} open position(s): x{position_factor:.2f}")
        adjusted = budget * multiplier
        ceiling = request.account_value * s.max_risk_per_trade_pct / 100
        if adjusted > ceiling:
            reasons.append(f"capped at the {s.max_risk_per_trade_pct:g}% ceiling {ceiling:,.0f}")
            adjusted = ceiling
        loss_per_unit = min(request.loss_per_unit_at_stop or request.premium, request.premium)
        loss_per_lot = loss_per_unit * request.lot_size
        lots = math.floor(adjusted / loss_per_lot + 1e-9)
        reasons.append(
            f"{adjusted:,.0f} / {loss_per_lot:,.0f} risk per lot ({request.lot_size} x {loss_per_unit:.2f}) "
            f"= {lots} lots"
        )
        premium_per_lot = request.premium * request.lot_size
        premium_cap = math.floor(ceiling * min(1.0, band) / premium_per_lot + 1e-9)
        if premium_cap < lots:
            lots = premium_cap
            reasons.append(f"premium outlay capped at {s.max_risk_per_trade_pct:g}% (x band): {lots} lots")
        if request.freeze_quantity:
            freeze_lots = request.freeze_quantity // request.lot_size
            if freeze_lots < lots:
                lots = freeze_lots
                reasons.append(f"freeze quantity {request.freeze_quantity}: {lots} lots")
        if request.available_margin is not None:
            margin_per_lot = request.margin_per_lot or premium_per_lot
            margin_lots = math.floor(request.available_margin / margin_per_lot + 1e-9)
            if margin_lots < lots:
                lots = margin_lots
                reasons.append(
                    f"available margin {request.available_margin:,.0f} at {margin_per_lot:,.0f}/lot: "
                    f"{lots} lots"
                )
        lots = max(0, lots)
        if lots == 0:
            reasons.append("size below one lot: no trade")
        return SizingResult(lots, lots * request.lot_size, tuple(reasons))

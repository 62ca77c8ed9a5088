"""Delta exposure per underlying and hedge suggestions (spec §4.4 delta management, §7.2, §10.5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from optbot.risk.views import PositionSnapshot


@dataclass(frozen=True, slots=True)
class DeltaExposure:
    underlying: str
    delta_units: float  # underlying-equivalent units (sum of delta x quantity)
    delta_notional: float  # delta_units x underlying price
    limit_notional: float
    missing_delta_tokens: tuple[str, ...] = ()

    @property
    def breached(self) -> bool:
        return abs(self.delta_notional) > self.limit_notional


@dataclass(frozen=True, slots=True)
class HedgeSuggestion:
    underlying: str
    action: str
    hedge_units: float
    option_lots_hint: int | None
    reason: str


def delta_exposures(
    positions: Sequence[PositionSnapshot],
    prices: dict[str, float],
    account_value: float,
    max_delta_notional_pct: float,
) -> list[DeltaExposure]:
    units: dict[str, float] = {}
    missing: dict[str, list[str]] = {}
    for position in positions:
        if position.delta is None:
            missing.setdefault(position.underlying, []).append(position.token)
            continue
        units[position.underlying] = (
            units.get(position.underlying, 0.0) + position.delta * position.net_quantity
        )
    limit = account_value * max_delta_notional_pct / 100
    result = []
    for underlying in sorted(set(units) | set(missing)):
        delta_units = units.get(underlying, 0.0)
        price = prices.get(underlying, 0.0)
        result.append(
            DeltaExposure(
                underlying, delta_units, delta_units * price, limit, tuple(missing.get(underlying, ()))
            )
        )
    return result


def hedge_suggestions(
    exposures: Sequence[DeltaExposure], lot_sizes: dict[str, int], hedge_option_delta: float
) -> list[HedgeSuggestion]:
    """Suggest offsetting just enough delta to bring each breached underlying back to its limit."""
    suggestions = []
    for exposure in exposures:
        if exposure.missing_delta_tokens:
            suggestions.append(
                HedgeSuggestion(
                    exposure.underlying,
                    "review",
                    0.0,
                    None,
                    f"{exposure.underlying}: no delta for {', '.join(exposure.missing_delta_tokens)}; "
                    "exposure cannot be measured",
                )
            )
        if not exposure.breached or exposure.delta_notional == 0:
            continue
        excess_fraction = 1 - exposure.limit_notional / abs(exposure.delta_notional)
        hedge_units = -exposure.delta_units * excess_fraction
        long_delta = exposure.delta_units > 0
        action = "buy ATM PE or sell futures" if long_delta else "buy ATM CE or buy futures"
        lot = lot_sizes.get(exposure.underlying)
        lots_hint = math.ceil(abs(hedge_units) / (hedge_option_delta * lot)) if lot else None
        suggestions.append(
            HedgeSuggestion(
                exposure.underlying,
                action,
                hedge_units,
                lots_hint,
                f"{exposure.underlying} delta {exposure.delta_units:+.1f} units "
                f"(notional {exposure.delta_notional:+,.0f}) exceeds limit {exposure.limit_notional:,.0f}: "
                f"{action} for {hedge_units:+.1f} delta units"
                + (f" (~{lots_hint} lots at |delta| {hedge_option_delta:g})" if lots_hint else ""),
            )
        )
    return suggestions

"""Limit-only execution: marketable limits inside the limit-price-protection band, and the chase.

SEBI's retail-algo rules (in force since April 2026) let no MARKET or IOC order reach the broker, and
the exchange refuses a limit priced further from the last traded price than its limit-price-protection
(LPP) band. So every order optbot wants filled "now" — an entry without a price, an exit, a flatten, a
leg of a basket — is a *marketable limit*: priced at the touch (the best ask for a buy, the best bid
for a sell), clamped into the LPP band and the circuit band. If it does not fill, the same order is
re-priced (a modify, never a cancel-and-replace, so it keeps its ordertag, its queue identity and its
fills) one step of `step_ticks` further through the touch every `interval_seconds`, at most
`max_attempts` times, never leaving the band.

This module is pure (no I/O): `ChasePolicy.price(side, quote, tick, attempt)` gives the limit for a
chase step; the order manager drives the steps for its orders, and a multi-leg basket can drive its
own with the same policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from optbot.broker.models import Quote
from optbot.config.sections.execution import ExecutionSettings
from optbot.core.enums import Side
from optbot.execution.ticks import round_to_tick

DEFAULT_TICK = 0.05


@dataclass(frozen=True, slots=True)
class PriceBand:
    """The prices the exchange accepts for a limit now: the LPP band around the last price, cut by the
    circuit limits. `low` is at least one tick (a limit price must be positive)."""

    low: float
    high: float

    def clamp(self, price: float) -> float:
        return min(max(price, self.low), self.high)


@dataclass(frozen=True, slots=True)
class ChasePolicy:
    """How a limit-only order is priced and re-priced until it fills (see the module docstring).

    `protection_pct` and `protection_min_rupees`: the LPP band's half-width around the last traded price
    is the wider of the percentage and the rupee amount (NSE: at least ₹20 for index options, so a cheap
    option's band is never narrower than its spread). `step_ticks`: how far each re-price moves past the
    touch. `interval_seconds`: how long a price rests before the next step. `max_attempts`: chase steps
    after the first price (see `ChaseSteps`).
    """

    protection_pct: float
    step_ticks: int
    interval_seconds: float
    max_attempts: int
    protection_min_rupees: float

    @classmethod
    def from_settings(cls, settings: ExecutionSettings) -> ChasePolicy:
        return cls(
            protection_pct=settings.limit_price_protection_pct,
            step_ticks=settings.chase_step_ticks,
            interval_seconds=settings.chase_interval_seconds,
            max_attempts=settings.chase_max_attempts,
            protection_min_rupees=settings.limit_price_protection_min_rupees,
        )

    def band(self, quote: Quote, tick: float) -> PriceBand | None:
        """The accepted price range now, anchored on this quote's last price (so the band follows the
        market: every chase step reads a fresh quote); None without any price to anchor the band to."""
        tick = tick if tick > 0 else DEFAULT_TICK
        anchor = quote.ltp if quote.ltp > 0 else _mid(quote)
        if anchor is None or anchor <= 0:
            return None
        half_width = max(anchor * self.protection_pct / 100, self.protection_min_rupees)
        # rounded to a millionth first, so float noise (105.00000000000001) never costs a tick
        high = round_to_tick(round(anchor + half_width, 6), tick, "down")
        low = max(round_to_tick(round(anchor - half_width, 6), tick, "up"), tick)
        if quote.upper_circuit:
            high = min(high, round_to_tick(quote.upper_circuit, tick, "down"))
        if quote.lower_circuit:
            low = max(low, round_to_tick(quote.lower_circuit, tick, "up"))
        return PriceBand(low, max(low, high))

    def price(self, side: Side, quote: Quote, tick: float, attempt: int = 0) -> float | None:
        """The marketable limit for chase step `attempt` (0 = at the touch); None without a quote.

        A buy starts at the best ask (the last price without one) and moves up `step_ticks` a step; a
        sell starts at the best bid and moves down; both stay inside `band`.
        """
        tick = tick if tick > 0 else DEFAULT_TICK
        band = self.band(quote, tick)
        if band is None:
            return None
        buy = side is Side.BUY
        touch = (quote.best_ask if buy else quote.best_bid) or quote.ltp
        base = round_to_tick(touch, tick, "up" if buy else "down")  # on the grid, never less marketable
        steps = max(0, attempt) * self.step_ticks * tick
        return band.clamp(round_to_tick(base + steps if buy else base - steps, tick, "nearest"))

    def exhausted(self, attempts_made: int) -> bool:
        return attempts_made >= self.max_attempts


@dataclass(frozen=True, slots=True)
class ChaseSteps:
    """The chase steps one order has taken, each one interval apart: modifies the broker accepted,
    modifies it refused, and steps that could not move the limit (held at the edge of the price band,
    or no price to move to). All three count toward `ChasePolicy.max_attempts`: a chase that cannot
    move ends in the same "Exit not filling" alert as one that moved and did not fill, instead of a
    limit resting unseen all day."""

    repriced: int
    refused: int
    blocked: int

    @property
    def total(self) -> int:
        return self.repriced + self.refused + self.blocked

    def describe(self) -> str:
        return (
            f"{self.repriced} re-price(s), {self.refused} refused by the broker, "
            f"{self.blocked} held by the price band"
        )


def _mid(quote: Quote) -> float | None:
    bid, ask = quote.best_bid, quote.best_ask
    if bid and ask:
        return (bid + ask) / 2
    return bid or ask


__all__ = ["ChasePolicy", "ChaseSteps", "PriceBand"]

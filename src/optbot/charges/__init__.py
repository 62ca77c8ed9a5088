"""Dated option charges: brokerage, STT, exchange, IPFT, SEBI, stamp duty and GST."""

from optbot.charges.calculator import (
    ZERO_CHARGES,
    ChargeBreakdown,
    Rounding,
    RoundTrip,
    exercise_stt,
    option_charges,
    round_charge,
    round_trip,
)
from optbot.charges.rate_card import DayRates, RateCard, RateStep

__all__ = [
    "ZERO_CHARGES",
    "ChargeBreakdown",
    "DayRates",
    "RateCard",
    "RateStep",
    "RoundTrip",
    "Rounding",
    "exercise_stt",
    "option_charges",
    "round_charge",
    "round_trip",
]

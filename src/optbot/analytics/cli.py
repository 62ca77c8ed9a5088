"""`optbot greeks` and `optbot iv`: one option's price, Greeks or implied volatility as JSON."""

from __future__ import annotations

import json
import math
from enum import StrEnum

import typer

from optbot.analytics.pricing import Model, greeks, implied_volatility
from optbot.cli.common import fail, settings_from
from optbot.core.enums import OptionType

#: Inputs above these are almost certainly percentages typed as fractions (15 instead of 0.15).
MAX_FRACTION_VOL = 5.0
MAX_FRACTION_RATE = 1.0


class OptionKind(StrEnum):
    CALL = "call"
    PUT = "put"
    CE = "ce"
    PE = "pe"

    @property
    def option_type(self) -> OptionType:
        return OptionType.CE if self in (OptionKind.CALL, OptionKind.CE) else OptionType.PE


class ModelName(StrEnum):
    BS = "bs"
    BLACK76 = "black76"


def _positive(value: float, flag: str, allow_zero: bool = False) -> float:
    if not math.isfinite(value):
        fail(f"{flag} must be a finite number, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        fail(f"{flag} must be {'zero or ' if allow_zero else ''}positive, got {value}")
    return value


def _validated_rate(value: float, flag: str) -> float:
    if not math.isfinite(value):
        fail(f"{flag} must be a finite number, got {value}")
    if abs(value) > MAX_FRACTION_RATE:
        fail(f"{flag} {value} is {value:.0%}: pass it as a fraction (0.07 for 7 %)")
    return value


def _validated_vol(value: float) -> float:
    _positive(value, "--vol", allow_zero=True)
    if value > MAX_FRACTION_VOL:
        fail(f"--vol {value} is {value:.0%} a year: pass volatility as a fraction (0.15 for 15 %)")
    return value


def _dividend_yield(given: float | None, configured: float, model: Model) -> float:
    """bs takes the flag or the configured yield; black76 prices off the forward and takes none."""
    if model == "black76":
        if given is not None and given != 0.0:
            fail("--dividend-yield applies to --model bs only: black76 prices off the forward")
        return 0.0
    return _validated_rate(given if given is not None else configured, "--dividend-yield")


def greeks_command(
    ctx: typer.Context,
    spot: float = typer.Option(..., "--spot", help="Underlying price (the forward/future for black76)"),
    strike: float = typer.Option(..., "--strike"),
    vol: float = typer.Option(..., "--vol", help="Annual volatility as a fraction (0.15 = 15 %)"),
    years: float = typer.Option(..., "--years", help="Time to expiry in years (calendar days / 365)"),
    kind: OptionKind = typer.Option(..., "--type", case_sensitive=False, help="call|put"),
    rate: float | None = typer.Option(None, "--rate", help="Annual rate as a fraction (default: config)"),
    model: ModelName = typer.Option(ModelName.BS, "--model", case_sensitive=False),
    dividend_yield: float | None = typer.Option(None, "--dividend-yield", help="bs only (default: config)"),
) -> None:
    """Price and every Greek of one option, as JSON (theta per year and per calendar day, vega per
    unit of vol and per vol point, rho per unit of rate)."""
    settings = settings_from(ctx).analytics
    chosen_rate = _validated_rate(rate if rate is not None else settings.risk_free_rate, "--rate")
    model_name: Model = "bs" if model is ModelName.BS else "black76"
    chosen_yield = _dividend_yield(dividend_yield, settings.dividend_yield, model_name)
    _positive(spot, "--spot")
    _positive(strike, "--strike")
    _positive(years, "--years", allow_zero=True)
    _validated_vol(vol)
    try:
        result = greeks(
            model_name,
            spot,
            strike,
            years,
            vol,
            chosen_rate,
            kind.option_type,
            chosen_yield,
            days_per_year=settings.days_per_year,
        )
    except ValueError as exc:
        fail(str(exc))
    payload = {
        "model": model_name,
        "type": kind.option_type.value,
        "inputs": {
            "underlying": spot,
            "strike": strike,
            "years": years,
            "vol": vol,
            "rate": chosen_rate,
            "dividend_yield": chosen_yield,
        },
        **result.as_dict(),
    }
    typer.echo(json.dumps(payload, indent=2))


def iv_command(
    ctx: typer.Context,
    price: float = typer.Option(..., "--price", help="Option price (premium)"),
    spot: float = typer.Option(..., "--spot", help="Underlying price (the forward/future for black76)"),
    strike: float = typer.Option(..., "--strike"),
    years: float = typer.Option(..., "--years", help="Time to expiry in years (calendar days / 365)"),
    kind: OptionKind = typer.Option(..., "--type", case_sensitive=False, help="call|put"),
    rate: float | None = typer.Option(None, "--rate", help="Annual rate as a fraction (default: config)"),
    model: ModelName = typer.Option(ModelName.BS, "--model", case_sensitive=False),
    dividend_yield: float | None = typer.Option(None, "--dividend-yield", help="bs only (default: config)"),
) -> None:
    """Implied volatility of one option price as JSON; when there is none, `implied_volatility` is
    null and `reason` says why (below intrinsic, above the upper bound, no time value, expired...)."""
    settings = settings_from(ctx).analytics
    chosen_rate = _validated_rate(rate if rate is not None else settings.risk_free_rate, "--rate")
    model_name: Model = "bs" if model is ModelName.BS else "black76"
    chosen_yield = _dividend_yield(dividend_yield, settings.dividend_yield, model_name)
    _positive(price, "--price", allow_zero=True)
    _positive(spot, "--spot")
    _positive(strike, "--strike")
    _positive(years, "--years", allow_zero=True)
    try:
        result = implied_volatility(
            price, spot, strike, years, chosen_rate, kind.option_type, model_name, chosen_yield
        )
    except ValueError as exc:
        fail(str(exc))
    payload = {
        "model": model_name,
        "type": kind.option_type.value,
        "solved": result.solved,
        "implied_volatility": result.volatility,
        "implied_volatility_pct": None if result.volatility is None else 100.0 * result.volatility,
        "reason": result.reason,
    }
    typer.echo(json.dumps(payload, indent=2))


def register(app: typer.Typer) -> None:
    app.command("greeks")(greeks_command)
    app.command("iv")(iv_command)

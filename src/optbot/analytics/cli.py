"""`optbot greeks`, `optbot iv`, `optbot price` and `optbot data calibrate`: one option's price, Greeks or
implied volatility; what the synthetic model quotes; fitting that model to real option data."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from optbot.cli.common import data_root_option, fail, settings_from
from optbot.core.bundled import SAMPLE_ROOT
from optbot.core.enums import OptionType
from optbot.core.errors import UserError
from optbot.core.timeutil import IST, parse_iso

if TYPE_CHECKING:
    from optbot.analytics.market_inputs import MarketInputs, RealBar
    from optbot.analytics.pricing import Model
    from optbot.analytics.synthetic import SyntheticOptionModel, SyntheticQuote

# The pricing models (scipy) and the calibrator are imported inside the commands, after the
# arguments are checked, so --help and a bad argument answer without loading them.

#: Angel One option trading symbols: NIFTY03NOV2218000CE (underlying, DDMONYY expiry, strike, type).
ANGEL_SYMBOL = re.compile(
    r"^(?P<und>[A-Z]+?)(?P<exp>\d{2}[A-Z]{3}\d{2})(?P<strike>\d+(?:\.\d+)?)(?P<type>CE|PE)$"
)
DEFAULT_DATA_ROOT = SAMPLE_ROOT  # the bundled sample, found from any directory

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
    from optbot.analytics.pricing import greeks

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
    from optbot.analytics.pricing import implied_volatility

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


def _contract(arguments: list[str]) -> tuple[str, date, float, OptionType]:
    """SYMBOL or UNDERLYING EXPIRY STRIKE CE|PE -> (underlying, expiry, strike, type)."""
    if len(arguments) == 1:
        match = ANGEL_SYMBOL.match(arguments[0].upper())
        if match is None:
            raise UserError(f"{arguments[0]!r} is not an option symbol like NIFTY03NOV2218000CE")
        try:
            expiry = datetime.strptime(match["exp"] + "+0530", "%d%b%y%z").date()
        except ValueError:
            raise UserError(f"{arguments[0]!r}: {match['exp']} is not an expiry like 03NOV22") from None
        return match["und"], expiry, float(match["strike"]), OptionType(match["type"])
    if len(arguments) == 4:
        underlying, expiry_text, strike_text, kind = arguments
        try:
            expiry = date.fromisoformat(expiry_text)
        except ValueError:
            raise UserError(f"expiry {expiry_text!r} is not a date like 2022-11-03") from None
        try:
            strike = float(strike_text)
        except ValueError:
            raise UserError(f"strike {strike_text!r} is not a number") from None
        if kind.upper() not in ("CE", "PE"):
            raise UserError(f"option type {kind!r} must be CE or PE")
        if strike <= 0:
            raise UserError(f"strike must be positive, got {strike_text}")
        return underlying.upper(), expiry, strike, OptionType(kind.upper())
    raise UserError("give one SYMBOL (NIFTY03NOV2218000CE) or UNDERLYING EXPIRY STRIKE CE|PE")


def _moment(text: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError:
        raise UserError(
            f"--at {text!r} is not an ISO time with a zone, e.g. 2022-11-01T10:30:00+05:30"
        ) from None


def price_command(
    ctx: typer.Context,
    contract: list[str] = typer.Argument(..., help="SYMBOL, or UNDERLYING EXPIRY STRIKE CE|PE"),
    at: str = typer.Option(..., "--at", help="ISO time with zone, e.g. 2022-11-01T10:30:00+05:30"),
    data: Path = typer.Option(
        DEFAULT_DATA_ROOT, "--data", callback=data_root_option, help="Data folder (the data/sample layout)"
    ),
    spot: float | None = typer.Option(None, "--spot", help="Use this spot instead of the data's"),
    vix: float | None = typer.Option(None, "--vix", help="Use this INDIA VIX instead of the data's"),
) -> None:
    """What a backtest quotes for one contract at one moment where no real option bar exists: the
    model's inputs (spot, forward, time to expiry, IV from VIX + smile), value, bid/ask and Greeks,
    and the real bar of that minute beside it when the data has one."""
    settings = settings_from(ctx).analytics
    try:
        _price(contract, at, data, spot, vix, settings.calibration_file)
    except UserError as exc:
        fail(str(exc))


def _price(
    contract: list[str], at: str, data: Path, spot: float | None, vix: float | None, calibration: Path | None
) -> None:
    underlying, expiry, strike, kind = _contract(contract)
    moment = _moment(at)
    if moment.astimezone(IST).date() > expiry:
        raise UserError(f"{at} is after the contract's expiry {expiry}")
    if not data.is_dir():
        raise UserError(f"--data {data} is not a folder")
    from optbot.analytics.market_inputs import market_inputs_at, real_bar_at, recent_returns_in
    from optbot.analytics.synthetic import SyntheticOptionModel
    from optbot.analytics.synthetic_params import load_calibration
    from optbot.calendar import get_calendar

    model = SyntheticOptionModel(load_calibration(calibration), get_calendar(), recent_returns_in(data))
    carry = model.underlying(underlying).carry
    inputs = market_inputs_at(data, underlying, moment, carry)
    chosen_spot = spot if spot is not None else (inputs.spot if inputs else None)
    chosen_vix = vix if vix is not None else (inputs.vix if inputs else None)
    if chosen_spot is None or not chosen_spot > 0:
        raise UserError(f"no {underlying} spot at {at} under {data}: pass --spot")
    if chosen_vix is None or not chosen_vix > 0:
        raise UserError(f"no INDIA VIX at {at} under {data}: pass --vix")
    quote = model.quote(underlying, chosen_spot, chosen_vix, moment, expiry, strike, kind)
    real = real_bar_at(data, underlying, expiry, strike, kind is OptionType.CE, moment)
    _print_quote(quote, inputs, spot is not None, vix is not None, real)
    typer.echo(_recent_return_line(model, underlying, moment.astimezone(IST).date()))
    if inputs is not None and inputs.future is not None:
        future = inputs.future
        carried = model.quote(
            underlying, chosen_spot, chosen_vix, moment, expiry, strike, kind, future=future
        )
        typer.echo(
            f"  near future   {future.price:.2f} ({future.expiry}) as the forward instead: forward "
            f"{carried.forward:.2f}, value {carried.value:.4f}, mid {carried.mid:.2f} "
            "(a backtest prices this way where its data root has the near future's bar that minute)"
        )


def _recent_return_line(model: SyntheticOptionModel, underlying: str, day: date) -> str:
    """What the underlying's last week did to the quote: the ATM vol factor and the call side's lift."""
    body = model.underlying(underlying)
    sensitivity, lift_per_return = body.level_on(day).return_sensitivity, body.smile.call_lift_per_return
    recent = model.recent_return(underlying, day)
    if recent is None:
        return (
            f"  last week     no {underlying} daily closes before {day} under the data: ATM vol and "
            f"smile not adjusted (fitted: ATM x exp(-{sensitivity:.2f} x r), "
            f"calls +{lift_per_return:.2f} x -r)"
        )
    return (
        f"  last week     {underlying} r = {recent:+.2%} to the last close before {day}: ATM vol x "
        f"exp(-{sensitivity:.2f} x r) = x {math.exp(-sensitivity * recent):.4f}; call side "
        f"{body.smile.call_lift(recent):+.4f} IV/ATM from 1 SD out"
    )


def _print_quote(
    quote: SyntheticQuote,
    inputs: MarketInputs | None,
    spot_given: bool,
    vix_given: bool,
    real: RealBar | None,
) -> None:
    spot_source = "--spot" if spot_given or inputs is None else inputs.spot_source
    vix_source = "--vix" if vix_given or inputs is None else inputs.vix_source
    timing = quote.time
    lines = [
        f"{quote.underlying} {quote.expiry} {quote.strike:g} {quote.option_type.value}  (synthetic quote)",
        f"  spot          {quote.spot:.2f}  ({spot_source})",
        f"  INDIA VIX     {quote.vix:.2f}  ({vix_source})",
        f"  forward       {quote.forward:.2f}  (carry {quote.forward / quote.spot - 1:+.4%} to expiry)",
        f"  time left     {timing.sessions:.3f} session units = {timing.session_today:.3f} today + "
        f"{timing.later_sessions} sessions + {timing.nights} nights + {timing.closed_days} closed days; "
        f"{timing.calendar_years * 365:.2f} calendar days",
        f"  ATM IV        {quote.atm_iv:.2%} (variance time)  "
        f"smile at m={quote.moneyness:+.2f}: IV {quote.iv:.2%}"
        f"  = {quote.calendar_iv:.2%} in calendar time",
        f"  value         {quote.value:.4f}  mid {quote.mid:.2f}  bid {quote.bid:.2f}  ask {quote.ask:.2f}",
        f"  greeks        delta {quote.greeks.delta:+.4f}  gamma {quote.greeks.gamma:.6f}  "
        f"theta/day {quote.greeks.theta_per_day:+.3f}  vega/pt {quote.greeks.vega_per_point:.3f}",
        f"  parameters    {quote.parameters_from}",
    ]
    if real is not None:
        error = (quote.mid / real.close - 1) if real.close > 0 else float("nan")
        lines.append(
            f"  real bar      O {real.open:.2f} H {real.high:.2f} L {real.low:.2f} C {real.close:.2f} "
            f"vol {real.volume:,.0f}  ({real.source}); model mid vs close {error:+.1%}"
        )
    else:
        lines.append("  real bar      none for this minute in the data (a backtest would use the model)")
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("greeks")(greeks_command)
    app.command("iv")(iv_command)
    app.command("price")(price_command)

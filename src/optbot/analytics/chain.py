"""Option-chain analytics: put-call ratio, OI change and build-up, IV vs HV, skew, portfolio Greeks.

Works on plain `ChainQuote` rows so any source (SmartAPI quotes, NSE snapshot, bhavcopy, the simulator)
can feed it. Units are the caller's: OI and volume in contracts or shares, but the same for every row.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from optbot.analytics.pricing import Greeks, Model, greeks, implied_volatility
from optbot.core.enums import OptionType


@dataclass(frozen=True, slots=True)
class ChainQuote:
    """One option of a chain at one moment. `implied_volatility` is a fraction (0.12 = 12 %)."""

    strike: float
    option_type: OptionType
    open_interest: float = 0.0
    volume: float = 0.0
    last_price: float | None = None
    oi_change: float | None = None
    price_change: float | None = None
    implied_volatility: float | None = None


@dataclass(frozen=True, slots=True)
class PutCallRatio:
    """PCR by open interest and by volume; a ratio is None when its call side is zero."""

    by_open_interest: float | None
    by_volume: float | None
    put_open_interest: float
    call_open_interest: float
    put_volume: float
    call_volume: float


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def put_call_ratio(
    rows: Iterable[ChainQuote], strike_range: tuple[float, float] | None = None
) -> PutCallRatio:
    """Total put OI (volume) over total call OI (volume), optionally only for strikes in [low, high]."""
    put_oi = call_oi = put_volume = call_volume = 0.0
    for row in rows:
        if strike_range is not None and not strike_range[0] <= row.strike <= strike_range[1]:
            continue
        if row.open_interest < 0 or row.volume < 0:
            raise ValueError(f"strike {row.strike} {row.option_type}: open interest and volume must be >= 0")
        if row.option_type is OptionType.PE:
            put_oi += row.open_interest
            put_volume += row.volume
        else:
            call_oi += row.open_interest
            call_volume += row.volume
    return PutCallRatio(
        by_open_interest=_ratio(put_oi, call_oi),
        by_volume=_ratio(put_volume, call_volume),
        put_open_interest=put_oi,
        call_open_interest=call_oi,
        put_volume=put_volume,
        call_volume=call_volume,
    )


class BuildUp(StrEnum):
    """What a price move together with an OI change says about who is acting."""

    LONG_BUILD_UP = "LONG_BUILD_UP"  # price up, OI up: new longs
    SHORT_BUILD_UP = "SHORT_BUILD_UP"  # price down, OI up: new shorts
    SHORT_COVERING = "SHORT_COVERING"  # price up, OI down: shorts buying back
    LONG_UNWINDING = "LONG_UNWINDING"  # price down, OI down: longs selling out
    NEUTRAL = "NEUTRAL"  # either did not move (beyond the thresholds)


def classify_build_up(
    price_change: float, oi_change: float, min_price_change: float = 0.0, min_oi_change: float = 0.0
) -> BuildUp:
    """Classify one instrument. Moves at or below the thresholds (absolute) count as no move."""
    if abs(price_change) <= min_price_change or abs(oi_change) <= min_oi_change:
        return BuildUp.NEUTRAL
    if price_change > 0:
        return BuildUp.LONG_BUILD_UP if oi_change > 0 else BuildUp.SHORT_COVERING
    return BuildUp.SHORT_BUILD_UP if oi_change > 0 else BuildUp.LONG_UNWINDING


@dataclass(frozen=True, slots=True)
class OIChange:
    strike: float
    option_type: OptionType
    oi_change: float
    oi_change_pct: float | None
    price_change: float
    build_up: BuildUp


def oi_changes(
    previous: Iterable[ChainQuote],
    current: Iterable[ChainQuote],
    min_price_change: float = 0.0,
    min_oi_change: float = 0.0,
) -> list[OIChange]:
    """Compare two snapshots of a chain (same strikes matched by strike and type).

    Strikes present in only one snapshot are skipped: a new listing is not a build-up.
    A row without a last price on either side gets price change 0 (NEUTRAL), never a guess.
    """
    before = {(row.strike, row.option_type): row for row in previous}
    result: list[OIChange] = []
    for row in current:
        earlier = before.get((row.strike, row.option_type))
        if earlier is None:
            continue
        oi_delta = row.open_interest - earlier.open_interest
        if row.last_price is not None and earlier.last_price is not None:
            price_delta = row.last_price - earlier.last_price
        else:
            price_delta = 0.0
        result.append(
            OIChange(
                strike=row.strike,
                option_type=row.option_type,
                oi_change=oi_delta,
                oi_change_pct=100.0 * oi_delta / earlier.open_interest if earlier.open_interest else None,
                price_change=price_delta,
                build_up=classify_build_up(price_delta, oi_delta, min_price_change, min_oi_change),
            )
        )
    return sorted(result, key=lambda change: (change.strike, change.option_type))


def build_up_from_rows(
    rows: Iterable[ChainQuote], min_price_change: float = 0.0, min_oi_change: float = 0.0
) -> list[OIChange]:
    """Build-up from rows that already carry `oi_change` and `price_change` (an exchange's day change)."""
    result = []
    for row in rows:
        if row.oi_change is None or row.price_change is None:
            continue
        previous_oi = row.open_interest - row.oi_change
        result.append(
            OIChange(
                strike=row.strike,
                option_type=row.option_type,
                oi_change=row.oi_change,
                oi_change_pct=100.0 * row.oi_change / previous_oi if previous_oi > 0 else None,
                price_change=row.price_change,
                build_up=classify_build_up(row.price_change, row.oi_change, min_price_change, min_oi_change),
            )
        )
    return result


class VolatilityRegime(StrEnum):
    RICH = "RICH"  # options priced above realised movement: favours selling premium
    CHEAP = "CHEAP"  # options priced below realised movement: favours buying
    FAIR = "FAIR"


@dataclass(frozen=True, slots=True)
class IVvsHV:
    implied: float
    historical: float
    ratio: float
    spread: float
    regime: VolatilityRegime


def iv_vs_hv(implied: float, historical: float, rich_ratio: float = 1.2, cheap_ratio: float = 0.8) -> IVvsHV:
    """Compare implied with historical volatility (both annual fractions)."""
    if not (math.isfinite(implied) and implied > 0):
        raise ValueError(f"implied volatility must be positive, got {implied}")
    if not (math.isfinite(historical) and historical > 0):
        raise ValueError(f"historical volatility must be positive, got {historical}")
    if not 0 < cheap_ratio <= 1 <= rich_ratio:
        raise ValueError(f"need 0 < cheap_ratio <= 1 <= rich_ratio, got {cheap_ratio}, {rich_ratio}")
    ratio = implied / historical
    if ratio >= rich_ratio:
        regime = VolatilityRegime.RICH
    elif ratio <= cheap_ratio:
        regime = VolatilityRegime.CHEAP
    else:
        regime = VolatilityRegime.FAIR
    return IVvsHV(implied, historical, ratio, implied - historical, regime)


@dataclass(frozen=True, slots=True)
class SmilePoint:
    strike: float
    option_type: OptionType
    implied_volatility: float
    delta: float


@dataclass(frozen=True, slots=True)
class Skew:
    """25-delta risk reversal (call IV - put IV; negative = puts bid, the usual index skew), butterfly and
    the strike-based skew: IV of the put `strike_offset_pct` below spot minus the call as far above."""

    atm_iv: float | None
    call_25d_iv: float | None
    put_25d_iv: float | None
    risk_reversal_25d: float | None
    butterfly_25d: float | None
    strike_skew: float | None
    points: tuple[SmilePoint, ...] = field(default_factory=tuple)


def _quote_iv(
    quote: ChainQuote, underlying: float, years: float, rate: float, model: Model, dividend_yield: float
) -> float | None:
    if quote.implied_volatility is not None and quote.implied_volatility > 0:
        return quote.implied_volatility
    if quote.last_price is None or quote.last_price <= 0:
        return None
    solved = implied_volatility(
        quote.last_price, underlying, quote.strike, years, rate, quote.option_type, model, dividend_yield
    )
    return solved.volatility


def _interpolate(points: Sequence[tuple[float, float]], target: float) -> float | None:
    """Linear interpolation of y at x=target over (x, y) points; None outside their range."""
    ordered = sorted(points)
    for (x0, y0), (x1, y1) in itertools.pairwise(ordered):
        if x0 <= target <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (target - x0) / (x1 - x0)
    return None


def skew(
    quotes: Iterable[ChainQuote],
    underlying: float,
    years: float,
    rate: float,
    model: Model = "bs",
    dividend_yield: float = 0.0,
    strike_offset_pct: float = 2.0,
) -> Skew:
    """Smile from out-of-the-money options only (their prices are live and carry the information)."""
    points: list[SmilePoint] = []
    for quote in quotes:
        out_of_the_money = (
            quote.strike >= underlying if quote.option_type is OptionType.CE else quote.strike <= underlying
        )
        if not out_of_the_money:
            continue
        iv = _quote_iv(quote, underlying, years, rate, model, dividend_yield)
        if iv is None:
            continue
        delta = greeks(
            model, underlying, quote.strike, years, iv, rate, quote.option_type, dividend_yield
        ).delta
        points.append(SmilePoint(quote.strike, quote.option_type, iv, delta))
    calls = [(p.delta, p.implied_volatility) for p in points if p.option_type is OptionType.CE]
    puts = [(p.delta, p.implied_volatility) for p in points if p.option_type is OptionType.PE]
    by_strike = [(p.strike, p.implied_volatility) for p in points]
    call_25 = _interpolate(calls, 0.25)
    put_25 = _interpolate(puts, -0.25)
    atm = _interpolate(by_strike, underlying)
    offset = underlying * strike_offset_pct / 100.0
    put_wing = _interpolate(
        [(p.strike, p.implied_volatility) for p in points if p.option_type is OptionType.PE],
        underlying - offset,
    )
    call_wing = _interpolate(
        [(p.strike, p.implied_volatility) for p in points if p.option_type is OptionType.CE],
        underlying + offset,
    )
    return Skew(
        atm_iv=atm,
        call_25d_iv=call_25,
        put_25d_iv=put_25,
        risk_reversal_25d=None if call_25 is None or put_25 is None else call_25 - put_25,
        butterfly_25d=None
        if call_25 is None or put_25 is None or atm is None
        else (call_25 + put_25) / 2 - atm,
        strike_skew=None if put_wing is None or call_wing is None else put_wing - call_wing,
        points=tuple(sorted(points, key=lambda p: (p.strike, p.option_type))),
    )


@dataclass(frozen=True, slots=True)
class OptionPosition:
    """A signed holding of one option: `quantity` in units (lots x lot size), negative when short."""

    underlying: str
    quantity: float
    underlying_price: float
    strike: float
    years: float
    vol: float
    rate: float
    option_type: OptionType
    model: Model = "bs"
    dividend_yield: float = 0.0


@dataclass(frozen=True, slots=True)
class GreeksExposure:
    """Position-weighted Greeks. `delta` is in units of the underlying; `delta_notional` in rupees."""

    value: float
    delta: float
    delta_notional: float
    gamma: float
    theta_per_day: float
    vega_per_point: float
    rho: float


@dataclass(frozen=True, slots=True)
class PortfolioGreeks:
    total: GreeksExposure
    by_underlying: dict[str, GreeksExposure]


def _exposure(position: OptionPosition, unit: Greeks) -> GreeksExposure:
    q = position.quantity
    return GreeksExposure(
        value=q * unit.price,
        delta=q * unit.delta,
        delta_notional=q * unit.delta * position.underlying_price,
        gamma=q * unit.gamma,
        theta_per_day=q * unit.theta_per_day,
        vega_per_point=q * unit.vega_per_point,
        rho=q * unit.rho,
    )


def _add(a: GreeksExposure, b: GreeksExposure) -> GreeksExposure:
    return GreeksExposure(
        value=a.value + b.value,
        delta=a.delta + b.delta,
        delta_notional=a.delta_notional + b.delta_notional,
        gamma=a.gamma + b.gamma,
        theta_per_day=a.theta_per_day + b.theta_per_day,
        vega_per_point=a.vega_per_point + b.vega_per_point,
        rho=a.rho + b.rho,
    )


_ZERO = GreeksExposure(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def portfolio_greeks(positions: Iterable[OptionPosition]) -> PortfolioGreeks:
    """Sum of quantity x per-unit Greeks, in total and per underlying (deltas of different
    underlyings are not fungible, so hedging decisions should read `by_underlying`)."""
    total = _ZERO
    by_underlying: dict[str, GreeksExposure] = {}
    for position in positions:
        if not math.isfinite(position.quantity):
            raise ValueError(f"{position.underlying} {position.strike} {position.option_type}: bad quantity")
        unit = greeks(
            position.model,
            position.underlying_price,
            position.strike,
            position.years,
            position.vol,
            position.rate,
            position.option_type,
            position.dividend_yield,
        )
        exposure = _exposure(position, unit)
        total = _add(total, exposure)
        by_underlying[position.underlying] = _add(by_underlying.get(position.underlying, _ZERO), exposure)
    return PortfolioGreeks(total=total, by_underlying=by_underlying)


def implied_forward(call_price: float, put_price: float, strike: float, years: float, rate: float) -> float:
    """Forward implied by put-call parity at one strike: F = K + (C - P) * e^(rT).

    Use the strike nearest the money (both prices live and liquid); it prices dividends and the
    futures basis in, so Black-76 on it needs no dividend-yield guess.
    """
    for name, value in (("call_price", call_price), ("put_price", put_price), ("strike", strike)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite non-negative number, got {value}")
    if not (math.isfinite(years) and years >= 0):
        raise ValueError(f"years must be zero or positive, got {years}")
    return strike + (call_price - put_price) * math.exp(rate * years)


def max_pain(rows: Iterable[ChainQuote]) -> float | None:
    """The expiry price (among listed strikes) at which option holders' total intrinsic value, weighted
    by open interest, is smallest: where writers lose least. None for a chain without open interest."""
    quotes = [row for row in rows if row.open_interest > 0]
    if not quotes:
        return None
    strikes = sorted({row.strike for row in quotes})

    def payout(settlement: float) -> float:
        return math.fsum(
            row.open_interest
            * (
                max(settlement - row.strike, 0.0)
                if row.option_type is OptionType.CE
                else max(row.strike - settlement, 0.0)
            )
            for row in quotes
        )

    return min(strikes, key=lambda strike: (payout(strike), strike))


def iv_rank(current: float, history: Sequence[float]) -> float | None:
    """Where today's IV sits in its range over `history`: 0 at the low, 100 at the high."""
    values = [value for value in history if math.isfinite(value)]
    if not values or not math.isfinite(current):
        return None
    low, high = min(values), max(values)
    if high == low:
        return None
    return 100.0 * min(max((current - low) / (high - low), 0.0), 1.0)


def iv_percentile(current: float, history: Sequence[float]) -> float | None:
    """Percent of `history` observations strictly below today's IV."""
    values = [value for value in history if math.isfinite(value)]
    if not values or not math.isfinite(current):
        return None
    return 100.0 * sum(1 for value in values if value < current) / len(values)

"""optionGreek, putCallRatio, gainersLosers and OIBuildup, computed from the replayed market."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from aiohttp import web

from optbot.analytics.pricing import greeks as black76_greeks
from optbot.analytics.pricing import implied_volatility
from optbot.core.timeutil import IST, ist_date
from optbot.sim.contracts import SimQuote
from optbot.sim.exchange.instruments import InstrumentSpec
from optbot.sim.rest.envelope import business_failure, ok
from optbot.sim.rest.framework import Call, Endpoint

EXPIRY_CLOSE = time(15, 30)
GAINER_TYPES = ("PercOIGainers", "PercOILosers", "PercPriceGainers", "PercPriceLosers")
EXPIRY_TYPES = ("NEAR", "NEXT", "FAR")
BUILDUP_TYPES = ("Long Built Up", "Short Built Up", "Short Covering", "Long Unwinding")


@dataclass
class OpenInterestBaseline:
    """The first OI seen for each contract on each IST day: the base of "OI change" figures."""

    baseline: dict[tuple[str, str], tuple[date, int]] = field(default_factory=dict)

    def observe(self, quote: SimQuote) -> None:
        if quote.open_interest <= 0:
            return
        key = (quote.exchange, quote.token)
        day = ist_date(quote.exchange_time)
        stored = self.baseline.get(key)
        if stored is None or stored[0] != day:
            self.baseline[key] = (day, quote.open_interest)

    def change(self, quote: SimQuote) -> int:
        stored = self.baseline.get((quote.exchange, quote.token))
        if stored is None or stored[0] != ist_date(quote.exchange_time):
            return 0
        return quote.open_interest - stored[1]


def _years_to_expiry(spec: InstrumentSpec, now: datetime) -> float:
    if spec.expiry is None:
        return 0.0
    expiry = datetime.combine(spec.expiry, EXPIRY_CLOSE, tzinfo=IST)
    return max((expiry - now).total_seconds(), 0.0) / (365.0 * 86400.0)


async def option_greek(call: Call) -> web.StreamResponse:
    name = str(call.body.get("name") or "").strip().upper()
    expiry_text = str(call.body.get("expirydate") or "").strip().upper()
    if not name or not expiry_text:
        return business_failure("AB1007", "Invalid name or expirydate: both are required (e.g. 25JAN2024)")
    exchange = call.state.exchange
    options = [
        spec
        for spec in exchange.instruments.all()
        if spec.is_option and spec.name.upper() == name and spec.expiry_text.upper() == expiry_text
    ]
    if not options:
        return business_failure("AB1009", f"No option contracts for {name} expiring {expiry_text}")
    now = call.state.clock.now_utc()
    rows: list[dict[str, Any]] = []
    for spec in sorted(options, key=lambda s: (s.strike, s.option_type)):
        quote = call.state.market.quote(spec.exchange, spec.token)
        if quote is None:
            continue
        forward = exchange.underlying_price(spec)
        years = _years_to_expiry(spec, now)
        if forward <= 0 or quote.ltp <= 0 or years <= 0:
            continue
        volatility = implied_volatility(
            quote.ltp, forward, spec.strike, years, 0.0, spec.option_type, model="black76"
        ).volatility
        if volatility is None:
            continue
        greeks = black76_greeks("black76", forward, spec.strike, years, volatility, 0.0, spec.option_type)
        rows.append(
            {
                "name": name,
                "expiry": expiry_text,
                "strikePrice": f"{spec.strike:.6f}",
                "optionType": spec.option_type,
                "delta": f"{greeks.delta:.6f}",
                "gamma": f"{greeks.gamma:.6f}",
                "theta": f"{greeks.theta_per_day:.6f}",
                "vega": f"{greeks.vega_per_point:.6f}",
                "impliedVolatility": f"{volatility * 100:.6f}",
                "tradeVolume": f"{quote.volume:.2f}",
            }
        )
    return ok(rows)


def _futures_by_rank(call: Call, expiry_type: str) -> list[InstrumentSpec]:
    """Futures of each underlying at the NEAR / NEXT / FAR position of its expiry ladder."""
    by_name: dict[str, list[InstrumentSpec]] = {}
    today = ist_date(call.state.clock.now_utc())
    for spec in call.state.exchange.instruments.all():
        if spec.is_future and spec.expiry is not None and spec.expiry >= today:
            by_name.setdefault(spec.name, []).append(spec)
    rank = EXPIRY_TYPES.index(expiry_type)
    chosen = []
    for specs in by_name.values():
        specs.sort(key=lambda s: s.expiry or today)
        if rank < len(specs):
            chosen.append(specs[rank])
    return chosen


def _baseline(call: Call) -> OpenInterestBaseline:
    baseline = call.state.extras.get("oi_baseline")
    if not isinstance(baseline, OpenInterestBaseline):
        raise RuntimeError("the simulator was assembled without an OI baseline")
    return baseline


def _future_rows(call: Call, expiry_type: str) -> list[tuple[InstrumentSpec, SimQuote, float, int, float]]:
    baseline = _baseline(call)
    rows = []
    for spec in _futures_by_rank(call, expiry_type):
        quote = call.state.market.quote(spec.exchange, spec.token)
        if quote is None or quote.close <= 0:
            continue
        price_pct = (quote.ltp - quote.close) / quote.close * 100
        oi_change = baseline.change(quote)
        base_oi = quote.open_interest - oi_change
        oi_pct = oi_change / base_oi * 100 if base_oi > 0 else 0.0
        rows.append((spec, quote, price_pct, oi_change, oi_pct))
    return rows


async def gainers_losers(call: Call) -> web.StreamResponse:
    data_type = str(call.body.get("datatype") or "")
    expiry_type = str(call.body.get("expirytype") or "").upper()
    if data_type not in GAINER_TYPES or expiry_type not in EXPIRY_TYPES:
        return business_failure(
            "AB1007", f"Invalid datatype/expirytype: expected {GAINER_TYPES} and {EXPIRY_TYPES}"
        )
    rows = _future_rows(call, expiry_type)
    by_oi = data_type.startswith("PercOI")
    gainers = data_type.endswith("Gainers")
    rows = [r for r in rows if ((r[4] if by_oi else r[2]) > 0) == gainers and (r[4] if by_oi else r[2]) != 0]
    rows.sort(key=lambda r: r[4] if by_oi else r[2], reverse=gainers)
    return ok(
        [
            {
                "tradingSymbol": spec.symbol,
                "percentChange": round(oi_pct if by_oi else price_pct, 2),
                "symbolToken": int(spec.token),
                "opnInterest": quote.open_interest,
                "netChangeOpnInterest": oi_change,
            }
            for spec, quote, price_pct, oi_change, oi_pct in rows
        ]
    )


async def oi_buildup(call: Call) -> web.StreamResponse:
    data_type = str(call.body.get("datatype") or "")
    expiry_type = str(call.body.get("expirytype") or "").upper()
    if data_type not in BUILDUP_TYPES or expiry_type not in EXPIRY_TYPES:
        return business_failure(
            "AB1007", f"Invalid datatype/expirytype: expected {BUILDUP_TYPES} and {EXPIRY_TYPES}"
        )
    price_up = data_type in ("Long Built Up", "Short Covering")
    oi_up = data_type in ("Long Built Up", "Short Built Up")
    selected = [
        r
        for r in _future_rows(call, expiry_type)
        if r[2] != 0 and r[3] != 0 and (r[2] > 0) == price_up and (r[3] > 0) == oi_up
    ]
    selected.sort(key=lambda r: abs(r[3]), reverse=True)
    return ok(
        [
            {
                "symbolToken": spec.token,
                "ltp": quote.ltp,
                "netChange": round(quote.ltp - quote.close, 2),
                "percentChange": round(price_pct, 2),
                "opnInterest": float(quote.open_interest),
                "netChangeOpnInterest": float(oi_change),
                "tradingSymbol": spec.symbol,
            }
            for spec, quote, price_pct, oi_change, _ in selected
        ]
    )


async def put_call_ratio(call: Call) -> web.StreamResponse:
    exchange = call.state.exchange
    open_interest: dict[str, list[float]] = {}
    for spec in exchange.instruments.all():
        if not spec.is_option:
            continue
        quote = call.state.market.quote(spec.exchange, spec.token)
        if quote is None or quote.open_interest <= 0:
            continue
        totals = open_interest.setdefault(spec.name, [0.0, 0.0])
        totals[0 if spec.option_type == "PE" else 1] += quote.open_interest
    near = {spec.name: spec for spec in _futures_by_rank(call, "NEAR")}
    rows = []
    for name, (puts, calls) in sorted(open_interest.items()):
        if calls <= 0:
            continue
        symbol = near[name].symbol if name in near else name
        rows.append({"pcr": round(puts / calls, 2), "tradingSymbol": symbol})
    return ok(rows)


ROOT = "/rest/secure/angelbroking/marketData/v1"
ENDPOINTS = [
    Endpoint("optionGreek", "POST", (f"{ROOT}/optionGreek",), option_greek, bucket="option_greek"),
    Endpoint("gainersLosers", "POST", (f"{ROOT}/gainersLosers",), gainers_losers),
    Endpoint("putCallRatio", "GET", (f"{ROOT}/putCallRatio",), put_call_ratio),
    Endpoint("OIBuildup", "POST", (f"{ROOT}/OIBuildup",), oi_buildup),
]

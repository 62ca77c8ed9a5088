"""`optbot instruments refresh|search|show` and `optbot chain UNDERLYING`."""

from __future__ import annotations

import asyncio
import math
from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from optbot.cli.common import console, fail, settings_from
from optbot.config import Settings
from optbot.core.clock import Clock, LiveClock
from optbot.core.enums import OptionType, Timeframe
from optbot.core.errors import UserError
from optbot.core.instrument import Instrument
from optbot.instruments.chain import OptionChain, OptionQuote
from optbot.instruments.master import ExpiryKind, InstrumentMaster, InstrumentNotFound
from optbot.instruments.repository import MasterRepository, MasterUnavailable
from optbot.instruments.snapshot import load_chain_snapshot

instruments_app = typer.Typer(help="Instrument master: refresh, search, show.", no_args_is_help=True)


def load_master(settings: Settings, clock: Clock) -> InstrumentMaster:
    try:
        master = MasterRepository.from_settings(settings, clock).latest()
    except MasterUnavailable as exc:
        fail(str(exc))
    if master.info.stale:
        console.print(
            f"[yellow]warning[/yellow] master from {master.info.as_of} is {master.info.age_days} days old: "
            "its tokens are refused for trading until `optbot instruments refresh` succeeds"
        )
    return master


def _refresh(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Download even if today's master exists"),
) -> None:
    """Download, validate and store today's scrip master (falls back to the cache on failure)."""
    settings = settings_from(ctx)
    clock = LiveClock()
    try:
        result = asyncio.run(MasterRepository.from_settings(settings, clock).refresh(force=force))
    except MasterUnavailable as exc:
        fail(str(exc))
    master = result.master
    if result.error:
        console.print(f"[red]download failed[/red] {result.error}")
        state = "STALE - trading refused" if master.info.stale else "within the stale limit"
        console.print(
            f"using cached master from {master.info.as_of} ({master.info.age_days} days old, {state})"
        )
    elif result.downloaded and result.report is not None:
        report = result.report
        console.print(
            f"downloaded {report.total_rows} rows: kept {len(master)}, rejected {report.rejected_total}, "
            f"expired purged {result.purged_expired}"
        )
        for reason, count in sorted(report.rejected.items()):
            console.print(f"  rejected {reason}: {count}")
    else:
        console.print(
            f"today's master is already stored ({len(master)} instruments); use --force to download"
        )
    console.print(f"artifact: {result.artifact}")
    if result.error and master.info.stale:
        raise typer.Exit(1)


def _row(instrument: Instrument) -> list[str]:
    return [
        instrument.exchange.value,
        instrument.token,
        instrument.symbol,
        instrument.underlying,
        instrument.kind.value,
        instrument.expiry.isoformat() if instrument.expiry else "",
        f"{instrument.strike:g}" if instrument.strike is not None else "",
        instrument.option_type.value if instrument.option_type else "",
        str(instrument.lot_size),
        f"{instrument.tick_size:g}",
        str(instrument.freeze_quantity or ""),
    ]


_COLUMNS = (
    "exch",
    "token",
    "symbol",
    "underlying",
    "kind",
    "expiry",
    "strike",
    "type",
    "lot",
    "tick",
    "freeze",
)


def _search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="Part of a symbol or underlying, e.g. NIFTY or SBIN"),
    limit: int = typer.Option(30, "--limit", min=1, max=1000),
) -> None:
    """Search the stored master by symbol or underlying."""
    master = load_master(settings_from(ctx), LiveClock())
    found = master.search(text, limit=limit)
    if not found:
        fail(f"nothing in the master matches {text!r}")
    table = Table(*_COLUMNS, title=f"{len(found)} matches for {text!r}")
    for instrument in found:
        table.add_row(*_row(instrument))
    console.print(table)


def _show(
    ctx: typer.Context, key: str = typer.Argument(..., help="A token (e.g. 99926000) or a symbol")
) -> None:
    """Show every field of one instrument."""
    master = load_master(settings_from(ctx), LiveClock())
    matches = master.find_token(key) if key.isdigit() else []
    if not matches:
        try:
            matches = [master.by_symbol(key)]
        except InstrumentNotFound as exc:
            fail(str(exc))
    for instrument in matches:
        table = Table("field", "value", title=instrument.symbol, show_header=False)
        for name, value in zip(_COLUMNS, _row(instrument), strict=True):
            table.add_row(name, value)
        table.add_row("settlement", instrument.settlement.value)
        table.add_row(
            "master date", master.info.as_of.isoformat() + (" (STALE)" if master.info.stale else "")
        )
        console.print(table)


def _last_close(settings: Settings, underlying: str, clock: Clock) -> float | None:
    from optbot.data.store import JsonStore

    store = JsonStore(settings.paths, settings.data, clock)
    for timeframe in (Timeframe.M1, Timeframe.D1):
        try:
            bars = store.read_bars(underlying, timeframe)
        except ValueError:
            return None
        if bars:
            return bars[-1].close
    return None


def _fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _with_greeks(
    quote: OptionQuote | None, spot: float, strike: float, option_type: OptionType, years: float, rate: float
) -> OptionQuote | None:
    """Fill Greeks from the quote's IV (Black-Scholes) when the quote has an IV and none were given."""
    if quote is None or quote.implied_volatility is None or quote.delta is not None or years <= 0:
        return quote
    from optbot.analytics.pricing import greeks

    try:
        values = greeks("bs", spot, strike, years, quote.implied_volatility / 100.0, rate, option_type)
    except ValueError:
        return quote
    return OptionQuote(
        ltp=quote.ltp,
        open_interest=quote.open_interest,
        volume=quote.volume,
        implied_volatility=quote.implied_volatility,
        delta=values.delta,
        gamma=values.gamma,
        theta=values.theta_per_day,
        vega=values.vega_per_point,
    )


def _live_quotes(
    settings: Settings,
    clock: Clock,
    master: InstrumentMaster,
    chain: OptionChain,
    underlying: str,
    spot: float,
    strikes: int,
) -> tuple[OptionChain, float]:
    """Broker quotes for the strikes that will be shown (and the index LTP when no --spot was given)."""
    from optbot.broker.base import Broker
    from optbot.instruments.chain_quotes import quote_chain
    from optbot.instruments.cli_broker import run_with_broker

    index = master.index_instrument(underlying)

    async def fetch(broker: Broker) -> tuple[OptionChain, float]:
        price = spot
        if not price:
            quotes = await broker.quotes("LTP", {index.exchange: [index.token]})
            price = quotes[0].ltp if quotes else 0.0
        if price <= 0:
            fail(f"the broker returned no price for {underlying} ({index.exchange.value}:{index.token})")
        atm = chain.atm(price)
        shown = chain.nearest_strikes(2 * strikes + 1, atm)
        return await quote_chain(broker, chain, shown), price

    return run_with_broker(settings, clock, fetch)


def chain_command(
    ctx: typer.Context,
    underlying: str = typer.Argument(..., help="Underlying as in the master, e.g. NIFTY"),
    expiry: str = typer.Option("", "--expiry", help="YYYY-MM-DD; default the nearest listed expiry"),
    spot: float = typer.Option(0.0, "--spot", help="Underlying price for ATM; default the last stored close"),
    snapshot: Path | None = typer.Option(None, "--snapshot", help="NSE option-chain CSV for LTP/OI/IV"),
    strikes: int = typer.Option(10, "--strikes", min=1, max=200, help="Strikes each side of ATM"),
    live: bool = typer.Option(False, "--live", help="Quote the shown strikes and the index from the broker"),
) -> None:
    """Print the listed option chain with the ATM strike marked (LTP, OI, IV, Greeks when known)."""
    settings = settings_from(ctx)
    clock = LiveClock()
    master = load_master(settings, clock)
    name = underlying.strip().upper()
    if not master.expiries(name):
        fail(f"no options listed for {underlying!r}; known: {', '.join(master.underlyings()[:20])}")
    if expiry:
        try:
            chosen: date | None = date.fromisoformat(expiry)
        except ValueError:
            fail(f"--expiry must be YYYY-MM-DD, got {expiry!r}")
        if chosen not in master.expiries(name):
            listed = ", ".join(d.isoformat() for d in master.expiries(name)[:8])
            fail(f"{name} has no expiry {expiry}; listed: {listed}")
    else:
        chosen = master.nearest_expiry(name, clock.now_ist().date(), ExpiryKind.ANY)
        if chosen is None:
            fail(f"every listed {name} expiry is in the past; run `optbot instruments refresh`")
    assert chosen is not None
    chain = OptionChain(name, chosen, master.options(name, chosen))
    if snapshot is not None:
        try:
            loaded = load_chain_snapshot(snapshot)
        except UserError as exc:
            fail(str(exc))
        if loaded.expiry != chosen:
            console.print(f"[yellow]note[/yellow] snapshot is for {loaded.expiry}, chain is {chosen}")
        quotes: dict[str, OptionQuote] = {}
        for row in chain.rows:
            for option_type in (OptionType.CE, OptionType.PE):
                contract = row.contract(option_type)
                quote = loaded.quotes.get((row.strike, option_type))
                if contract is not None and quote is not None:
                    quotes[contract.token] = quote
        chain = chain.with_quotes(quotes)
    if live:
        chain, live_spot = _live_quotes(settings, clock, master, chain, name, spot, strikes)
        spot = spot or live_spot
    price = spot or _last_close(settings, name, clock)
    if not price or price <= 0:
        fail(f"no price for {name}: pass --spot or store bars first (`optbot data import` / `download`)")
    atm = chain.atm(price)
    # Expiry-day contracts still have hours left: floor time to expiry at half a day.
    years = max((chosen - clock.now_ist().date()).days, 0.5) / 365.0
    rate = settings.analytics.risk_free_rate
    around = chain.atm_index(price)
    atm_call = chain.rows[around].call
    lot = atm_call.lot_size if atm_call else "-"
    columns = ("CE Δ", "CE IV", "CE OI", "CE LTP", "strike", "PE LTP", "PE OI", "PE IV", "PE Δ")
    table = Table(*columns, title=f"{name} {chosen.isoformat()}  spot {price:,.2f}  ATM {atm:g}  lot {lot}")
    for row in chain.rows[max(0, around - strikes) : around + strikes + 1]:
        call = _with_greeks(row.call_quote, price, row.strike, OptionType.CE, years, rate)
        put = _with_greeks(row.put_quote, price, row.strike, OptionType.PE, years, rate)
        marker = f"[bold reverse] {row.strike:g} ATM [/]" if row.strike == atm else f"{row.strike:g}"
        table.add_row(
            _fmt(call.delta if call else None),
            _fmt(call.implied_volatility if call else None),
            _fmt(call.open_interest if call else None),
            _fmt(call.ltp if call else None),
            marker,
            _fmt(put.ltp if put else None),
            _fmt(put.open_interest if put else None),
            _fmt(put.implied_volatility if put else None),
            _fmt(put.delta if put else None),
        )
    console.print(table)
    if not math.isclose(chain.strike_step(atm), 0.0):
        console.print(f"strike step near ATM: {chain.strike_step(atm):g}; listed strikes: {len(chain)}")


def register(app: typer.Typer) -> None:
    instruments_app.command("refresh")(_refresh)
    instruments_app.command("search")(_search)
    instruments_app.command("show")(_show)
    app.add_typer(instruments_app, name="instruments")
    app.command("chain")(chain_command)


__all__ = ["chain_command", "load_master", "register"]

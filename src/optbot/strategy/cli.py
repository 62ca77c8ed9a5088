"""`optbot strategy list | categorise FILE | payoff SOURCE --at T`: the registry, the §3.3/§5.4 ADX
category of a series, and the payoff of a legs strategy at a moment of the replay data."""

from __future__ import annotations

import json
from datetime import date
from itertools import pairwise
from pathlib import Path

import typer

from optbot.cli.common import console, fail, settings_from
from optbot.core.errors import UserError
from optbot.core.events import Bar, daily_session_bar

# The strategy packages (numpy, the built-in strategies) are imported inside each command, so that
# `optbot --help` and a command's bad-input error answer without loading them.

strategy_app = typer.Typer(help="Strategies: registry and daily ADX categorisation.", no_args_is_help=True)


def _daily_bars(path: Path, symbol: str, as_of: date | None) -> list[Bar]:
    from optbot.indicators.ohlc_csv import read_ohlc_csv

    series = read_ohlc_csv(path)
    bars: list[Bar] = []
    for index, text in enumerate(series.dates):
        try:
            day = date.fromisoformat(text.strip()[:10])
        except ValueError:
            raise UserError(
                f"{path}: row {index + 2}: {text!r} is not a date (a daily CSV is expected)"
            ) from None
        if as_of is not None and day > as_of:
            break
        volume = int(series.volume[index]) if series.has_volume else 0
        ohlc = (series.open[index], series.high[index], series.low[index], series.close[index])
        bars.append(daily_session_bar(symbol, day, ohlc, volume))
    if any(later.start_utc <= earlier.start_utc for earlier, later in pairwise(bars)):
        raise UserError(f"{path}: dates must be strictly increasing (one row per trading day)")
    return bars


@strategy_app.command("list")
def list_strategies() -> None:
    """Built-in strategies (use these names, or `package.module:Class`, in strategy.enabled)."""
    from optbot.strategy.legs import load_legs, template_names
    from optbot.strategy.registry import BUILTIN_STRATEGIES

    for name in sorted(BUILTIN_STRATEGIES):
        lines = (BUILTIN_STRATEGIES[name].__doc__ or "").strip().splitlines()
        typer.echo(f"{name:22} {lines[0] if lines else ''}")
    for name in template_names():
        plan = load_legs(name).plan
        legs = ", ".join(f"{leg.side} {leg.option} {leg.strike.describe()}" for leg in plan.legs)
        typer.echo(f"{name:22} [legs {plan.strategy.underlying}] {plan.strategy.description} ({legs})")


@strategy_app.command("categorise")
def categorise_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Daily OHLC(V) CSV"),
    symbol: str = typer.Option("NIFTY", "--symbol", help="Name to report"),
    as_of: str | None = typer.Option(None, "--as-of", help="Use rows up to this date (YYYY-MM-DD)"),
    vix: float | None = typer.Option(None, "--vix", help="INDIA VIX level for the regime (optional)"),
    output: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """ADX category 1 (buy CE) / 2 (buy PE) / 3 (no trade) and the market regime, with reasons."""
    settings = settings_from(ctx)
    if output not in ("text", "json"):
        fail(f"--format must be text or json, got {output!r}")
    cutoff = None
    if as_of is not None:
        try:
            cutoff = date.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of must be a date like 2024-05-21, got {as_of!r}")
    if vix is not None and vix <= 0:
        fail(f"--vix must be positive, got {vix}")
    from optbot.strategy.categorise import categorise
    from optbot.strategy.regime import detect_regime

    bars = _daily_bars(file, symbol, cutoff)
    if not bars:
        fail(f"{file}: no rows on or before {as_of}" if as_of else f"{file}: no rows")
    result = categorise(symbol, bars, settings.strategy)
    regime = detect_regime(bars, vix, settings.strategy)
    if output == "json":
        payload = {
            "symbol": symbol,
            "as_of": result.as_of,
            "category": int(result.category),
            "adx": result.adx,
            "plus_di": result.plus_di,
            "minus_di": result.minus_di,
            "volume_ratio": result.volume_ratio,
            "reason": result.reason,
            "regimes": sorted(regime.regimes),
            "regime_reasons": list(regime.reasons),
        }
        typer.echo(json.dumps(payload))
        return
    typer.echo(f"{symbol} as of {result.as_of}: category {int(result.category)} - {result.reason}")
    typer.echo(f"regime: {', '.join(sorted(regime.regimes))} ({'; '.join(regime.reasons)})")


@strategy_app.command("payoff")
def payoff_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="legs template name or .toml file"),
    at: str = typer.Option(..., "--at", help="moment to price the legs at, ISO (IST when no offset)"),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="chart file (.html, or .png with the HTML beside it) or folder "
        "(default: <data root>/reports/payoff)",
    ),
) -> None:
    """Expiry and today payoff of a legs strategy at a moment of the replay data: breakevens, max
    profit/loss, net Greeks, margin; HTML chart (and PNG when headless Chromium is available)."""
    from optbot.backtest.payoff import CHART_SUFFIXES, build_report, parse_moment, write_chart
    from optbot.core.output_path import output_target

    settings = settings_from(ctx)
    default_dir = settings.paths.resolve(settings.paths.reports_dir) / "payoff"
    target = output_target(out, default_dir, CHART_SUFFIXES)
    report = build_report(settings, source, parse_moment(at))
    for line in report.summary_lines():
        console.print(line, highlight=False)
    for path in write_chart(report, target):
        console.print(f"chart: {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(strategy_app, name="strategy")

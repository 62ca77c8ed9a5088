"""`optbot indicators FILE --indicator adx --period 14`: an indicator over an OHLC CSV, as CSV or JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import typer

from optbot.cli.common import fail, settings_from
from optbot.config import Settings
from optbot.core.errors import UserError
from optbot.core.timeutil import IST
from optbot.indicators import batch
from optbot.indicators.ohlc_csv import OhlcSeries, read_ohlc_csv

Columns = dict[str, npt.NDArray[np.float64]]


class IndicatorName(StrEnum):
    ADX = "adx"
    RSI = "rsi"
    ATR = "atr"
    EMA = "ema"
    SMA = "sma"
    BOLLINGER = "bollinger"
    HV = "hv"
    VWAP = "vwap"


class OutputFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def _default_period(name: IndicatorName, settings: Settings) -> int:
    return {
        IndicatorName.ADX: settings.strategy.adx_period,
        IndicatorName.RSI: settings.indicators.rsi_period,
        IndicatorName.ATR: settings.indicators.atr_period,
        IndicatorName.EMA: settings.indicators.bollinger_period,
        IndicatorName.SMA: settings.indicators.bollinger_period,
        IndicatorName.BOLLINGER: settings.indicators.bollinger_period,
        IndicatorName.HV: settings.analytics.historical_volatility_period,
        IndicatorName.VWAP: 1,
    }[name]


def session_date(stamp: str) -> str:
    """The IST trading date of a row: aware timestamps (Yahoo's are UTC) are converted to IST first."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp[:10]
    if moment.tzinfo is None:
        return moment.date().isoformat()
    return moment.astimezone(IST).date().isoformat()


def compute_columns(name: IndicatorName, bars: OhlcSeries, period: int, settings: Settings) -> Columns:
    """The indicator's output columns, one value per input row (NaN while warming up)."""
    calculators: dict[IndicatorName, Callable[[], Columns]] = {
        IndicatorName.ADX: lambda: dict(
            zip(
                ("value", "plus_di", "minus_di"),
                batch.adx(bars.high, bars.low, bars.close, period),
                strict=True,
            )
        ),
        IndicatorName.RSI: lambda: {"value": batch.rsi(bars.close, period)},
        IndicatorName.ATR: lambda: {"value": batch.atr(bars.high, bars.low, bars.close, period)},
        IndicatorName.EMA: lambda: {"value": batch.ema(bars.close, period)},
        IndicatorName.SMA: lambda: {"value": batch.sma(bars.close, period)},
        IndicatorName.BOLLINGER: lambda: dict(
            zip(
                ("value", "upper", "lower"),
                batch.bollinger(bars.close, period, settings.indicators.bollinger_stdevs),
                strict=True,
            )
        ),
        IndicatorName.HV: lambda: {
            "value": batch.historical_volatility(bars.close, period, settings.analytics.trading_days_per_year)
        },
        IndicatorName.VWAP: lambda: {
            "value": batch.vwap(
                (bars.high + bars.low + bars.close) / 3.0,
                bars.volume,
                [session_date(text) for text in bars.dates],
            )
        },
    }
    return calculators[name]()


def _format_number(value: float) -> str:
    return f"{value:.6f}"


def render(dates: tuple[str, ...], columns: Columns, output: OutputFormat) -> str:
    """Rows after the warm-up only (a NaN is not a value a trader can act on)."""
    names = list(columns)
    rows = [
        (dates[index], [float(columns[name][index]) for name in names])
        for index in range(len(dates))
        if not any(math.isnan(columns[name][index]) for name in names)
    ]
    if output is OutputFormat.JSON:
        return json.dumps(
            [{"date": date, **dict(zip(names, values, strict=True))} for date, values in rows], indent=1
        )
    lines = [",".join(["date", *names])]
    lines.extend(",".join([date, *(_format_number(value) for value in values)]) for date, values in rows)
    return "\n".join(lines)


def indicators_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="OHLC CSV (NSE history, merged, Yahoo or intraday layout)"),
    indicator: IndicatorName = typer.Option(..., "--indicator", "-i", case_sensitive=False, help="Indicator"),
    period: int | None = typer.Option(None, "--period", "-p", help="Bars (default: from config)"),
    output: OutputFormat = typer.Option(OutputFormat.CSV, "--format", "-f", case_sensitive=False),
) -> None:
    """Compute an indicator over an OHLC CSV and print `date,value[,...]` rows after the warm-up."""
    settings = settings_from(ctx)
    chosen = period if period is not None else _default_period(indicator, settings)
    if chosen < 1 or (indicator is IndicatorName.HV and chosen < 2):
        fail(f"--period must be at least {2 if indicator is IndicatorName.HV else 1}, got {chosen}")
    try:
        bars = read_ohlc_csv(file)
        if indicator is IndicatorName.HV and np.any(bars.close <= 0):
            raise UserError(f"{file}: historical volatility needs positive closes")
        columns = compute_columns(indicator, bars, chosen, settings)
    except (UserError, ValueError) as exc:
        fail(str(exc))
    typer.echo(render(bars.dates, columns, output))


def register(app: typer.Typer) -> None:
    app.command("indicators")(indicators_command)

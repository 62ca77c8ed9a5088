"""`optbot data import|download|gaps|validate|backup|restore|reconcile|maintain`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from optbot.calendar import NseCalendar
from optbot.cli.common import console, fail, settings_from
from optbot.config import Settings
from optbot.core.atomic import atomic_write_bytes
from optbot.core.bundled import resolve_data_path
from optbot.core.clock import Clock, LiveClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.errors import UserError
from optbot.core.instrument import Instrument
from optbot.core.timeutil import IST
from optbot.data.backup import create_backup, list_backups, restore_backup, verify_backup
from optbot.data.history import CandleSource, DownloadJob, DownloadProgress, HistoryDownloader
from optbot.data.quality import DataQualityChecker, SeriesReport
from optbot.data.reconcile import reconcile_day
from optbot.data.store import JsonStore, store_symbol

# The importers and the option archive (pandas, pyarrow) are imported inside the commands that use
# them, so --help and a bad argument answer without loading them.

data_app = typer.Typer(help="Market data: import, download, gaps, quality, backups.", no_args_is_help=True)
ResultT = TypeVar("ResultT")
DROPPED_DETAILS_SHOWN = 10


def _store(settings: Settings, clock: Clock) -> JsonStore:
    return JsonStore(settings.paths, settings.data, clock)


def _calendar() -> NseCalendar:
    from optbot.calendar import get_calendar

    return get_calendar()


def _timeframe(text: str) -> Timeframe:
    try:
        return Timeframe(text)
    except ValueError:
        fail(f"--timeframe must be one of {', '.join(t.value for t in Timeframe)}, got {text!r}")


def _write_report(settings: Settings, clock: Clock, name: str, payload: Any) -> Path:
    stamp = clock.now_utc().strftime("%Y%m%dT%H%M%SZ")
    path = settings.paths.resolve(settings.paths.reports_dir) / "data" / f"{name}-{stamp}.json"
    atomic_write_bytes(path, orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    return path


# -- import ------------------------------------------------------------------------------------


def _with_data_root(settings: Settings, data_root: Path | None) -> Settings:
    """`--data ROOT` points a command at another data root (e.g. the bundled `data/sample/store`)."""
    if data_root is None:
        return settings
    paths = settings.paths.model_copy(update={"data_root": resolve_data_path(data_root)})
    return settings.model_copy(update={"paths": paths})


def _import_index_file(
    settings: Settings, clock: Clock, file: Path, symbol: str, timeframe: str, tz: str | None, replace: bool
) -> dict[str, Any]:
    from optbot.data.importers import Importer, conflicting_bars

    importer = Importer(_calendar(), max_outside_session_share=settings.data.import_max_outside_session_share)
    result = importer.load(file, symbol or None, _timeframe(timeframe) if timeframe else None, tz)
    store = _store(settings, clock)
    for name, bars in result.bars.items():  # every series checked before any is written
        conflicts = conflicting_bars(store.load(name, result.timeframe)[0], bars)
        if conflicts and not replace:
            first = conflicts[0].start_utc.astimezone(IST).strftime("%Y-%m-%d %H:%M IST")
            raise UserError(
                f"{file}: {len(conflicts)} {name} {result.timeframe.value} bar(s) differ from stored ones "
                f"(first at {first}); nothing was stored: pass --replace to overwrite them"
            )
    table = Table(
        "symbol", "timeframe", "added", "replaced", "unchanged", "kept", "removed by retention",
        title=f"import {file.name}",
    )  # fmt: skip
    for name, bars in result.bars.items():
        merged = store.merge_bars(name, result.timeframe, bars, imported=True)
        counts = (merged.added, merged.replaced, merged.unchanged, merged.total, merged.removed)
        table.add_row(name, result.timeframe.value, *(str(value) for value in counts))
    console.print(f"format {result.format}, {result.rows} rows read, {result.bar_count} bars")
    console.print(table)
    for reason, count in sorted(result.skipped.items()):
        console.print(f"[yellow]skipped[/yellow] {reason}: {count}")
    if result.issues:
        issues = Table(
            "day", "problem", "action", title=f"{len(result.issues)} day issue(s) needing attention"
        )
        for issue in result.issues:
            issues.add_row(issue.day.isoformat(), issue.problem, issue.action)
        console.print(issues)
    return result.as_dict()


def _import_option_file(
    settings: Settings,
    file: Path,
    kind: str,
    symbol: str,
    tz: str | None,
    lot_size: int | None,
    strike_step: float | None,
) -> dict[str, Any]:
    from optbot.data.archive import OptionArchive
    from optbot.data.option_importers import OptionImporter

    archive = OptionArchive(settings.paths.data_root)
    result = OptionImporter(_calendar(), archive).load(file, kind, symbol or None, tz, lot_size, strike_step)
    summary = archive.write(result.table(), result.timeframe)
    days = sorted({day for _name, day in summary.days})
    span = f"{days[0]}..{days[-1]}" if days else "-"
    console.print(
        f"{file.name}: format {result.format}, {result.rows_read} rows read -> option archive "
        f"{result.timeframe}: {result.contracts} contracts, {len(summary.days)} underlying-day(s) ({span}), "
        f"{len(result.rows)} rows (added {summary.added}, replaced {summary.replaced}, "
        f"unchanged {summary.unchanged})"
    )
    for note in result.notes:
        console.print(f"  note: {note}")
    for reason, count in sorted(result.dropped.items()):
        console.print(f"  [yellow]dropped[/yellow] {count} row(s): {reason}")
        details = result.details.get(reason, [])
        for detail in details[:DROPPED_DETAILS_SHOWN]:
            console.print(f"    {detail}")
        if count > DROPPED_DETAILS_SHOWN and details:
            console.print(f"    … all in the JSON report ({min(count, len(details))} listed there)")
    return result.as_dict() | {"stored": {"added": summary.added, "replaced": summary.replaced}}


def import_command(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        ..., help="CSV/CSV.GZ files: index/VIX/futures bars, bhavcopies, vendor option bars"
    ),
    symbol: str = typer.Option(
        "",
        "--symbol",
        help="Store a single-series file under this symbol, e.g. NIFTY (files naming it: not needed)",
    ),
    timeframe: str = typer.Option("", "--timeframe", help="1m, 3m, 5m, 15m, 1h or daily; default detected"),
    tz: str = typer.Option("", "--tz", help="ist or utc: the zone of naive timestamps; default detected"),
    lot_size: int = typer.Option(0, "--lot-size", min=0, help="Bhavcopy lot size (default inferred from OI)"),
    strike_step: float = typer.Option(
        0.0, "--strike-step", min=0, help="ATM series: strike grid when the archive lists no strikes that day"
    ),
    data_root: Path | None = typer.Option(
        None, "--data", help="Data root to import into (default paths.data_root)"
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Overwrite stored index/VIX/futures bars that differ from the file's"
    ),
) -> None:
    """Import history files; option files (recognised by their columns) go to the option archive,
    index/VIX/futures bars to the timeframes store. What was dropped is listed with reasons and times."""
    from optbot.data.option_importers import option_format

    settings = _with_data_root(settings_from(ctx), data_root)
    clock = LiveClock()
    reports: list[dict[str, Any]] = []
    for file in files:
        if not file.is_file():
            fail(f"{file} does not exist or is not a file")
        try:
            kind = option_format(file)
            if kind is None:
                reports.append(
                    _import_index_file(settings, clock, file, symbol, timeframe, tz or None, replace)
                )
            else:
                reports.append(
                    _import_option_file(
                        settings, file, kind, symbol, tz or None, lot_size or None, strike_step or None
                    )
                )
        except (ValueError, UserError) as exc:
            fail(str(exc))
    name = f"import-{store_symbol(symbol)}" if symbol else "import"
    report = _write_report(settings, clock, name, reports if len(reports) > 1 else reports[0])
    console.print(f"report: {report}", highlight=False, soft_wrap=True)


# -- gaps and quality ----------------------------------------------------------------------------


def _series(store: JsonStore, symbol: str, timeframe: str) -> list[tuple[str, Timeframe]]:
    symbols = [store_symbol(symbol)] if symbol else store.symbols()
    if not symbols:
        fail("the store is empty: import or download data first")
    pairs: list[tuple[str, Timeframe]] = []
    for name in symbols:
        frames = [_timeframe(timeframe)] if timeframe else store.timeframes(name)
        pairs.extend((name, frame) for frame in frames if store.bar_path(name, frame).exists())
    if not pairs:
        fail(f"no stored bars for {symbol or 'any symbol'} {timeframe}".strip())
    return pairs


def _check_all(
    ctx: typer.Context, symbol: str, timeframe: str, days: int
) -> tuple[Settings, Clock, list[SeriesReport]]:
    settings = settings_from(ctx)
    clock = LiveClock()
    store = _store(settings, clock)
    checker = DataQualityChecker(
        store,
        _calendar(),
        settings.data.outlier_pct,
        outlier_robust_multiple=settings.data.outlier_robust_multiple,
    )
    reports: list[SeriesReport] = []
    for name, frame in _series(store, symbol, timeframe):
        last = None
        first = None
        if days:
            last = clock.now_ist().date()
            first = last - timedelta(days=days)
        reports.append(checker.check(name, frame, first, last))
    return settings, clock, reports


def gaps_command(
    ctx: typer.Context,
    symbol: str = typer.Option("", "--symbol", help="One symbol; default every stored symbol"),
    timeframe: str = typer.Option("", "--timeframe", help="One timeframe; default every stored one"),
    days: int = typer.Option(0, "--days", min=0, help="Only the last N days; default the stored range"),
    limit: int = typer.Option(20, "--limit", min=1, help="Gaps listed per series in the table"),
) -> None:
    """Expected vs actual bars from the calendar: missing ranges with reasons (JSON report + table)."""
    settings, clock, reports = _check_all(ctx, symbol, timeframe, days)
    summary = Table(
        "symbol", "tf", "first", "last", "expected", "actual", "missing", "coverage %", title="gaps"
    )
    for report in reports:
        summary.add_row(
            report.symbol,
            report.timeframe.value,
            report.first.astimezone(IST).strftime("%Y-%m-%d %H:%M") if report.first else "-",
            report.last.astimezone(IST).strftime("%Y-%m-%d %H:%M") if report.last else "-",
            str(report.expected),
            str(report.actual),
            str(report.missing),
            f"{report.coverage_pct:.2f}",
        )
    console.print(summary)
    for report in reports:
        if not report.gaps:
            continue
        table = Table(
            "start (IST)", "end (IST)", "bars", "reason", title=f"{report.symbol} {report.timeframe.value}"
        )
        for gap in report.gaps[:limit]:
            table.add_row(
                gap.start_utc.astimezone(IST).strftime("%Y-%m-%d %H:%M"),
                gap.end_utc.astimezone(IST).strftime("%Y-%m-%d %H:%M"),
                str(gap.missing_bars),
                gap.reason,
            )
        if len(report.gaps) > limit:
            table.caption = f"{len(report.gaps) - limit} more in the JSON report"
        console.print(table)
    path = _write_report(settings, clock, "gaps", [r.as_dict() | {"issues": []} for r in reports])
    console.print(f"report: {path}", highlight=False, soft_wrap=True)


def validate_command(
    ctx: typer.Context,
    symbol: str = typer.Option("", "--symbol"),
    timeframe: str = typer.Option("", "--timeframe"),
    days: int = typer.Option(0, "--days", min=0),
) -> None:
    """Data quality: OHLC consistency, outliers, volume, duplicates, flags (JSON report + table)."""
    settings, clock, reports = _check_all(ctx, symbol, timeframe, days)
    table = Table("symbol", "tf", "bars", "coverage %", "outlier above %", "findings", title="data quality")
    for report in reports:
        findings = ", ".join(f"{kind}={count}" for kind, count in sorted(report.counts.items()) if count)
        table.add_row(
            report.symbol,
            report.timeframe.value,
            str(report.actual),
            f"{report.coverage_pct:.2f}",
            f"{report.outlier_threshold_pct:.1f}" if report.outlier_threshold_pct is not None else "-",
            findings or "clean",
        )
    console.print(table)
    path = _write_report(settings, clock, "quality", [r.as_dict() for r in reports])
    failures = [issue for report in reports for issue in report.failures]
    if failures:
        bad = Table(
            "symbol", "tf", "bar start (IST)", "check", "detail", title=f"{len(failures)} bar(s) failed"
        )
        for issue in failures:
            bad.add_row(
                issue.symbol,
                issue.timeframe.value,
                issue.start_utc.astimezone(IST).strftime("%Y-%m-%d %H:%M"),
                issue.kind,
                issue.detail,
            )
        console.print(bad)
    console.print(f"report: {path}", highlight=False, soft_wrap=True)
    if failures:
        console.print(f"[red]{len(failures)} bar(s) failed a price/volume check[/red]")
        raise typer.Exit(1)


# -- broker-backed commands -------------------------------------------------------------------------


def _with_broker(
    settings: Settings, clock: Clock, action: Callable[[CandleSource], Awaitable[ResultT]]
) -> ResultT:
    from optbot.instruments.cli_broker import run_with_broker

    return run_with_broker(settings, clock, action)


def _resolve(settings: Settings, clock: Clock, symbol: str) -> tuple[str, Exchange, str]:
    from optbot.instruments.cli import load_master
    from optbot.instruments.master import InstrumentNotFound

    master = load_master(settings, clock)
    try:
        instrument = master.index_instrument(symbol)
    except InstrumentNotFound:
        try:
            instrument = master.by_symbol(symbol)
        except InstrumentNotFound as exc:
            fail(str(exc))
    return store_symbol(symbol), instrument.exchange, instrument.token


def _option_contracts(
    settings: Settings, clock: Clock, store: JsonStore, underlying: str, count: int
) -> list[Instrument]:
    """Spec §2.2: live option contracts of the nearest expiry, `count` listed strikes around ATM."""
    from optbot.instruments.chain import OptionChain
    from optbot.instruments.cli import load_master

    master = load_master(settings, clock)
    expiry = master.nearest_expiry(underlying, clock.now_ist().date())
    if expiry is None:
        fail(f"no listed options for {underlying}")
    spot = next(
        (
            bars[-1].close
            for frame in (Timeframe.M1, Timeframe.D1)
            if (bars := store.read_bars(underlying, frame))
        ),
        None,
    )
    if spot is None:
        fail(f"no stored {underlying} bars to find the ATM strike: download the underlying first")
    chain = OptionChain(underlying, expiry, master.options(underlying, expiry))
    contracts: list[Instrument] = []
    for strike in chain.nearest_strikes(count, chain.atm(spot)):
        row = chain.row(strike)
        contracts.extend(contract for contract in (row.call, row.put) if contract is not None)
    return contracts


def download_command(
    ctx: typer.Context,
    symbol: list[str] = typer.Option([], "--symbol", help="Symbol(s); default universe.underlyings"),
    timeframe: list[str] = typer.Option([], "--timeframe", help="Default daily and 1h"),
    days: int = typer.Option(0, "--days", min=0, help="Days back; default from the data settings"),
    options: int = typer.Option(
        0, "--options", min=0, max=40, help="Also N listed strikes (CE+PE) around ATM of the nearest expiry"
    ),
) -> None:
    """Download history with getCandleData (max span per request, rate limited, resumable)."""
    settings = settings_from(ctx)
    clock = LiveClock()
    symbols = symbol or list(settings.universe.underlyings)
    frames = [_timeframe(t) for t in timeframe] or [Timeframe.D1, Timeframe.H1]
    default_days = {Timeframe.D1: settings.data.history_daily_days}
    jobs: list[DownloadJob] = []
    end = clock.now_utc()
    for name in symbols:
        stored, exchange, token = _resolve(settings, clock, name)
        for frame in frames:
            span = days or default_days.get(frame, settings.data.history_hourly_days)
            jobs.append(DownloadJob(stored, exchange, token, frame, end - timedelta(days=span), end))
    store = _store(settings, clock)
    if options:
        for name in symbols:
            for contract in _option_contracts(settings, clock, store, name, options):
                for frame in frames:
                    span = days or settings.data.history_option_days
                    start = end - timedelta(days=span)
                    jobs.append(
                        DownloadJob(contract.symbol, contract.exchange, contract.token, frame, start, end)
                    )

    async def run(source: CandleSource) -> list[Any]:
        results = []
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            overall = progress.add_task("all requests", total=sum(len(job.windows()) for job in jobs))
            for job in jobs:
                task = progress.add_task(f"{job.symbol} {job.timeframe.value}", total=len(job.windows()))

                def advance(update: DownloadProgress, task_id: Any = task) -> None:
                    progress.update(task_id, completed=update.windows_done)
                    progress.advance(overall)

                downloader = HistoryDownloader(source, store, clock, settings.data, on_progress=advance)
                results.append(await downloader.download(job))
                progress.update(task, completed=len(job.windows()))
        return results

    results = _with_broker(settings, clock, run)
    table = Table("symbol", "tf", "windows", "resumed", "received", "added", "replaced", "failures")
    for result in results:
        table.add_row(
            result.job.symbol,
            result.job.timeframe.value,
            str(result.windows),
            str(result.skipped_windows),
            str(result.bars_received),
            str(result.added),
            str(result.replaced),
            str(len(result.failures)),
        )
    console.print(table)
    for result in results:
        for failure in result.failures:
            console.print(f"[red]failed[/red] {result.job.symbol} {failure}")
    if any(result.failures for result in results):
        raise typer.Exit(1)


def reconcile_command(
    ctx: typer.Context,
    symbol: str = typer.Option(..., "--symbol"),
    day: str = typer.Option("", "--day", help="YYYY-MM-DD; default today (IST)"),
    repair: bool = typer.Option(False, "--repair", help="Replace live bars with the official candles"),
) -> None:
    """Compare live-built 1m bars with official candles and record the differences."""
    settings = settings_from(ctx)
    clock = LiveClock()
    try:
        chosen = date.fromisoformat(day) if day else clock.now_ist().date()
    except ValueError:
        fail(f"--day must be YYYY-MM-DD, got {day!r}")
    stored, exchange, token = _resolve(settings, clock, symbol)
    store = _store(settings, clock)
    reports_dir = settings.paths.resolve(settings.paths.reports_dir)

    async def run(source: CandleSource) -> Any:
        return await reconcile_day(
            store, source, _calendar(), stored, exchange, token, chosen, reports_dir, repair=repair
        )

    report = _with_broker(settings, clock, run)
    console.print(
        f"{stored} {chosen}: live {report.live_bars}, official {report.official_bars}, "
        f"missing live {len(report.missing_live)}, differing {len(report.differences)}, "
        f"repaired {report.repaired}"
    )


# -- backups and upkeep -----------------------------------------------------------------------------


def backup_command(ctx: typer.Context) -> None:
    """Write a compressed snapshot of raw/, timeframes/ and instruments/ with a checksummed manifest."""
    settings = settings_from(ctx)
    clock = LiveClock()
    _store(settings, clock).flush_ticks()
    info = create_backup(settings.paths, clock, settings.data.backups_keep)
    problems = verify_backup(info.path)
    if problems:
        fail(f"backup written but failed verification: {'; '.join(problems[:5])}", code=1)
    console.print(f"backup {info.path} ({info.files} files, {info.bytes:,} bytes) verified")


def restore_command(
    ctx: typer.Context,
    file: Path | None = typer.Argument(None, help="Backup archive; default the newest"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation"),
) -> None:
    """Verify a backup, then restore it (current data is kept aside, not deleted)."""
    settings = settings_from(ctx)
    clock = LiveClock()
    if file is None:
        backups = list_backups(settings.paths)
        if not backups:
            fail(f"no backups in {settings.paths.resolve(settings.paths.backups_dir)}")
        file = backups[-1]
    problems = verify_backup(file) if file.is_file() else [f"{file} does not exist"]
    if problems:
        fail(f"{file.name} failed verification: {'; '.join(problems[:5])}")
    if not yes and not typer.confirm(f"Restore {file.name} over the current data?"):
        raise typer.Exit(1)
    try:
        kept = restore_backup(file, settings.paths, clock)
    except UserError as exc:
        fail(str(exc))
    console.print(
        f"restored {file.name}; previous data kept in: {', '.join(str(p) for p in kept) or 'nothing'}"
    )


def maintain_command(ctx: typer.Context) -> None:
    """Daily upkeep: rotate raw tick files, apply retention, refresh last-good copies."""
    settings = settings_from(ctx)
    clock = LiveClock()
    store = _store(settings, clock)
    kept = store.maintain(clock.now_ist().date())
    for series, count in sorted(kept.items()):
        removed = store.retention_removed.get(series, 0)
        suffix = f", {removed} older bars removed by retention (data.*_retention_days)" if removed else ""
        console.print(f"{series}: {count} bars kept{suffix} (imported history is kept)")


def register(app: typer.Typer) -> None:
    data_app.command("import")(import_command)
    data_app.command("download")(download_command)
    data_app.command("gaps")(gaps_command)
    data_app.command("validate")(validate_command)
    data_app.command("reconcile")(reconcile_command)
    data_app.command("backup")(backup_command)
    data_app.command("restore")(restore_command)
    data_app.command("maintain")(maintain_command)
    app.add_typer(data_app, name="data")

"""The option-history archive: years of per-contract option bars in Parquet partitions.

Layout (one file per timeframe + underlying + IST trading day)::

    <data_root>/archive/options/tf=<1m|5m|1d>/underlying=<NAME>/date=<YYYY-MM-DD>/bars.parquet

**Why not the §2.1 JSON-lines store.** A day of one underlying's chain is tens of thousands of
1-minute rows (30 strikes x 2 sides x 375 minutes); years of them are tens of millions. Reading one
day's chain from JSON lines means parsing every line of a contract's whole history, contract by
contract; a Parquet partition per day is read in a few milliseconds, columnar, compressed about
10x smaller (`benchmarks/bench_archive.py` measures both on the same rows).

**Writes** merge into the existing partition, de-duplicate on (symbol, ts) with the incoming row
winning, sort by (ts, symbol) and replace the file atomically (temp file + fsync + rename), so a
reader sees the old partition or the new one, never a torn file. A write whose rows are all already
stored, unchanged, rewrites nothing (imports are idempotent).

**Rows**: `ts` is the bar START (UTC; for ``1d`` the session open); prices are traded prices only —
an untraded contract has no row, never a price of 0; `volume` and `oi` are in units, not lots.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from optbot.core.atomic import fsync_directory
from optbot.core.timeutil import IST

ARCHIVE_TIMEFRAMES = ("1m", "5m", "1d")
ARCHIVE_SOURCES = ("vendor", "bhavcopy", "recorded")
OPTION_TYPES = ("CE", "PE")
PARTITION_FILE = "bars.parquet"
KEY_COLUMNS = ("symbol", "ts")
#: What names a listed contract: a day's listing is its distinct rows of these (`listed_contracts`).
CONTRACT_COLUMNS = ("symbol", "expiry", "strike", "option_type")

ARCHIVE_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("underlying", pa.string(), nullable=False),
        pa.field("expiry", pa.date32(), nullable=False),
        pa.field("strike", pa.float64(), nullable=False),
        pa.field("option_type", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.int64(), nullable=False),
        pa.field("oi", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)
_UNDERLYING = re.compile(r"^[A-Z0-9][A-Z0-9_&\-]{0,31}$")
_PRICE_TOLERANCE = 1e-9


class ArchiveError(ValueError):
    """Rows the archive refuses to store; the message names the column and what was wrong."""


@dataclass(frozen=True, slots=True)
class OptionBarRow:
    """One archive row as a Python value (importers and the live recorder build these)."""

    ts: datetime
    underlying: str
    expiry: date
    strike: float
    option_type: str
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: int
    oi: int
    source: str


@dataclass
class ArchiveWriteSummary:
    """What one `OptionArchive.write` did, per partition and in total."""

    timeframe: str
    rows_in: int = 0
    duplicates_in_input: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    partitions_written: int = 0
    days: list[tuple[str, date]] = field(default_factory=list)
    contracts: int = 0

    def merge(self, other: ArchiveWriteSummary) -> None:
        self.rows_in += other.rows_in
        self.duplicates_in_input += other.duplicates_in_input
        self.added += other.added
        self.replaced += other.replaced
        self.unchanged += other.unchanged
        self.partitions_written += other.partitions_written
        self.days = sorted(set(self.days) | set(other.days))
        self.contracts += other.contracts


def listed_contracts(table: pa.Table) -> pa.Table:
    """The distinct (symbol, expiry, strike, option_type) rows of `table`, in the order of each
    contract's first row."""
    names = list(CONTRACT_COLUMNS)
    return table.select(names).group_by(names).aggregate([])


def empty_table() -> pa.Table:
    return ARCHIVE_SCHEMA.empty_table()


def rows_to_table(rows: Iterable[OptionBarRow]) -> pa.Table:
    """Column-wise build of an archive table from row objects."""
    items = list(rows)
    columns = {name: [getattr(row, name) for row in items] for name in ARCHIVE_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=ARCHIVE_SCHEMA)


def table_to_rows(table: pa.Table) -> list[OptionBarRow]:
    return [OptionBarRow(**record) for record in table.to_pylist()]


def _conform(table: pa.Table) -> pa.Table:
    """Same columns as the schema (order free), cast to its types; anything else is refused."""
    missing = [name for name in ARCHIVE_SCHEMA.names if name not in table.column_names]
    extra = [name for name in table.column_names if name not in ARCHIVE_SCHEMA.names]
    if missing or extra:
        raise ArchiveError(
            f"archive rows need columns {ARCHIVE_SCHEMA.names}; missing {missing}, extra {extra}"
        )
    ordered = table.select(ARCHIVE_SCHEMA.names)
    for name in ARCHIVE_SCHEMA.names:
        if ordered.column(name).null_count:
            raise ArchiveError(f"column {name!r} has {ordered.column(name).null_count} empty value(s)")
    try:
        return ordered.cast(ARCHIVE_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ArchiveError(f"archive rows have the wrong types: {exc}") from None


def _first_bad(table: pa.Table, mask: pa.ChunkedArray, what: str) -> None:
    """Raise naming the first offending row (symbol and time) and how many rows are bad."""
    bad = int(pc.sum(mask).as_py() or 0)
    if bad:
        index = pc.index(mask, True).as_py()
        symbol = table.column("symbol")[index].as_py()
        moment = table.column("ts")[index].as_py()
        raise ArchiveError(f"{bad} row(s) {what}, first {symbol} at {moment.isoformat()}")


def validate_table(table: pa.Table) -> pa.Table:
    """Conform and check: known types/sources, traded prices only, consistent OHLC, counts >= 0."""
    table = _conform(table)
    _first_bad(table, pc.invert(pc.is_in(table.column("option_type"), pa.array(OPTION_TYPES))), "not CE/PE")
    _first_bad(
        table,
        pc.invert(pc.is_in(table.column("source"), pa.array(ARCHIVE_SOURCES))),
        f"with a source outside {ARCHIVE_SOURCES}",
    )
    prices = [table.column(name) for name in ("open", "high", "low", "close")]
    non_positive = pc.or_(
        pc.or_(pc.less_equal(prices[0], 0), pc.less_equal(prices[1], 0)),
        pc.or_(pc.less_equal(prices[2], 0), pc.less_equal(prices[3], 0)),
    )
    _first_bad(table, non_positive, "with a price <= 0 (an untraded contract has no row)")
    top = pc.max_element_wise(prices[0], prices[3])
    bottom = pc.min_element_wise(prices[0], prices[3])
    inconsistent = pc.or_(
        pc.less(pc.add(prices[1], _PRICE_TOLERANCE), top),
        pc.greater(pc.subtract(prices[2], _PRICE_TOLERANCE), bottom),
    )
    _first_bad(table, inconsistent, "with high/low not containing open/close")
    negative = pc.or_(pc.less(table.column("volume"), 0), pc.less(table.column("oi"), 0))
    _first_bad(table, negative, "with negative volume or OI")
    _first_bad(table, pc.less_equal(table.column("strike"), 0), "with a strike <= 0")
    for name in pc.unique(table.column("underlying")).to_pylist():
        if not _UNDERLYING.match(name):
            raise ArchiveError(f"underlying {name!r} cannot name a partition (A-Z, 0-9, _ & - only)")
    return table


def _check_timeframe(timeframe: str) -> str:
    if timeframe not in ARCHIVE_TIMEFRAMES:
        raise ArchiveError(f"archive timeframe must be one of {ARCHIVE_TIMEFRAMES}, got {timeframe!r}")
    return timeframe


def _ist_days(table: pa.Table) -> pa.Array:
    """The IST trading day of each bar start (partition key)."""
    naive_utc = pc.cast(table.column("ts"), pa.timestamp("us"))
    offset = pa.scalar(IST.utcoffset(None), pa.duration("us"))
    return pc.cast(pc.add(naive_utc, offset), pa.date32())


def _last_per_key(table: pa.Table) -> pa.Table:
    """One row per (symbol, ts): the last occurrence wins; result sorted by (ts, symbol)."""
    if table.num_rows == 0:
        return table
    indexed = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    winners = indexed.group_by(list(KEY_COLUMNS), use_threads=False).aggregate([("_row", "max")])
    kept = table.take(winners.column("_row_max"))
    return kept.sort_by([("ts", "ascending"), ("symbol", "ascending")])


def _count_matches(left: pa.Table, right: pa.Table, keys: Sequence[str]) -> int:
    if left.num_rows == 0 or right.num_rows == 0:
        return 0
    return left.select(list(keys)).join(right.select(list(keys)), list(keys), join_type="inner").num_rows


def _write_parquet_atomic(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, temporary, compression="zstd", use_dictionary=True)
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(path.parent)


class OptionArchive:
    """Read and write the Parquet option archive under `<data_root>/archive/options/`."""

    def __init__(self, data_root: Path) -> None:
        self.data_root = Path(data_root)
        self.root = self.data_root / "archive" / "options"

    # -- paths ---------------------------------------------------------------------------------

    def partition_path(self, underlying: str, day: date, timeframe: str) -> Path:
        _check_timeframe(timeframe)
        if not _UNDERLYING.match(underlying):
            raise ArchiveError(f"underlying {underlying!r} cannot name a partition")
        return (
            self.root
            / f"tf={timeframe}"
            / f"underlying={underlying}"
            / f"date={day.isoformat()}"
            / PARTITION_FILE
        )

    # -- writing -------------------------------------------------------------------------------

    def write(self, table: pa.Table, timeframe: str) -> ArchiveWriteSummary:
        """Merge rows into their partitions; incoming rows win on (symbol, ts); atomic per partition."""
        _check_timeframe(timeframe)
        incoming = validate_table(table)
        summary = ArchiveWriteSummary(timeframe, rows_in=incoming.num_rows)
        if incoming.num_rows == 0:
            return summary
        incoming = incoming.append_column("_day", _ist_days(incoming))
        for key in (
            incoming.select(["underlying", "_day"]).group_by(["underlying", "_day"]).aggregate([]).to_pylist()
        ):
            mask = pc.and_(
                pc.equal(incoming.column("underlying"), key["underlying"]),
                pc.equal(incoming.column("_day"), pa.scalar(key["_day"], pa.date32())),
            )
            part = incoming.filter(mask).drop_columns(["_day"])
            summary.merge(self._write_partition(key["underlying"], key["_day"], part, timeframe))
        return summary

    def _write_partition(
        self, underlying: str, day: date, part: pa.Table, timeframe: str
    ) -> ArchiveWriteSummary:
        deduplicated = _last_per_key(part)
        summary = ArchiveWriteSummary(
            timeframe,
            duplicates_in_input=part.num_rows - deduplicated.num_rows,
            days=[(underlying, day)],
            contracts=len(pc.unique(deduplicated.column("symbol"))),
        )
        path = self.partition_path(underlying, day, timeframe)
        existing = pq.read_table(path, schema=ARCHIVE_SCHEMA) if path.exists() else empty_table()
        matched = _count_matches(deduplicated, existing, KEY_COLUMNS)
        summary.unchanged = _count_matches(deduplicated, existing, ARCHIVE_SCHEMA.names)
        summary.replaced = matched - summary.unchanged
        summary.added = deduplicated.num_rows - matched
        if summary.added or summary.replaced:
            merged = _last_per_key(pa.concat_tables([existing, deduplicated]))
            _write_parquet_atomic(path, merged)
            summary.partitions_written = 1
        return summary

    # -- reading -------------------------------------------------------------------------------

    def day(self, underlying: str, day: date, timeframe: str = "1m") -> pa.Table:
        """Every stored bar of one underlying's chain on one IST day (empty table if none)."""
        path = self.partition_path(underlying, day, timeframe)
        if not path.exists():
            return empty_table()
        return pq.read_table(path, schema=ARCHIVE_SCHEMA)

    def listing(self, underlying: str, day: date, timeframe: str = "1m") -> pa.Table:
        """`listed_contracts` of the day's bars, reading only the columns naming a contract (the
        rest of the row is never decoded): a backtest lists every day's chain but reads the bars
        of the few contracts it holds or fills."""
        path = self.partition_path(underlying, day, timeframe)
        if not path.exists():
            return listed_contracts(empty_table())
        names = list(CONTRACT_COLUMNS)
        return listed_contracts(pq.read_table(path, schema=ARCHIVE_SCHEMA, columns=names))

    def range(self, underlying: str, first: date, last: date, timeframe: str = "1m") -> pa.Table:
        """Bars of the stored days in [first, last], concatenated in day order."""
        tables = [
            self.day(underlying, day, timeframe)
            for day in self.days(underlying, timeframe)
            if first <= day <= last
        ]
        return pa.concat_tables(tables) if tables else empty_table()

    def days(self, underlying: str, timeframe: str) -> list[date]:
        folder = self.root / f"tf={_check_timeframe(timeframe)}" / f"underlying={underlying}"
        if not folder.is_dir():
            return []
        found = [
            date.fromisoformat(entry.name.removeprefix("date="))
            for entry in folder.iterdir()
            if entry.name.startswith("date=") and (entry / PARTITION_FILE).exists()
        ]
        return sorted(found)

    def timeframes(self, underlying: str, day: date) -> list[str]:
        return [tf for tf in ARCHIVE_TIMEFRAMES if self.partition_path(underlying, day, tf).exists()]

    def underlyings(self) -> list[str]:
        names: set[str] = set()
        for timeframe in ARCHIVE_TIMEFRAMES:
            folder = self.root / f"tf={timeframe}"
            if folder.is_dir():
                names.update(
                    entry.name.removeprefix("underlying=")
                    for entry in folder.iterdir()
                    if entry.name.startswith("underlying=")
                )
        return sorted(names)

    def listed_strikes(self, underlying: str, day: date, expiry: date) -> list[float]:
        """Strikes the archive holds for one expiry on one day, across timeframes (ATM resolution)."""
        strikes: set[float] = set()
        for timeframe in self.timeframes(underlying, day):
            table = self.day(underlying, day, timeframe)
            same = table.filter(pc.equal(table.column("expiry"), pa.scalar(expiry, pa.date32())))
            strikes.update(pc.unique(same.column("strike")).to_pylist())
        return sorted(strikes)

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.data import archive as archive_module
from optbot.data.archive import (
    ARCHIVE_SCHEMA,
    ArchiveError,
    OptionArchive,
    OptionBarRow,
    listed_contracts,
    rows_to_table,
    table_to_rows,
)

OPEN_UTC = datetime(2022, 11, 1, 3, 45, tzinfo=UTC)  # 09:15 IST


def row(
    minute: int = 0,
    strike: float = 18000.0,
    option_type: str = "CE",
    close: float = 100.0,
    underlying: str = "NIFTY",
    start: datetime = OPEN_UTC,
    source: str = "vendor",
    volume: int = 50,
) -> OptionBarRow:
    expiry = date(2022, 11, 3)
    return OptionBarRow(
        ts=start + timedelta(minutes=minute),
        underlying=underlying,
        expiry=expiry,
        strike=strike,
        option_type=option_type,
        symbol=f"{underlying}03NOV22{round(strike)}{option_type}",
        open=close,
        high=close + 1,
        low=close - 1,
        close=close,
        volume=volume,
        oi=1000,
        source=source,
    )


@pytest.fixture
def archive(tmp_path):
    return OptionArchive(tmp_path)


def test_layout_schema_and_sort_order(archive, tmp_path):
    rows = [row(1, 18100.0), row(0, 18100.0), row(0, 18000.0, "PE"), row(0, 18000.0)]
    summary = archive.write(rows_to_table(rows), "1m")
    path = tmp_path / "archive/options/tf=1m/underlying=NIFTY/date=2022-11-01/bars.parquet"
    assert path.exists()
    assert summary.added == 4 and summary.partitions_written == 1 and summary.contracts == 3
    stored = pq.read_table(path)
    assert stored.schema.equals(ARCHIVE_SCHEMA, check_metadata=False)
    loaded = archive.day("NIFTY", date(2022, 11, 1))
    keys = [(r.ts, r.symbol) for r in table_to_rows(loaded)]
    assert keys == sorted(keys)
    assert keys[0] == (OPEN_UTC, "NIFTY03NOV2218000CE")


def test_incoming_rows_win_and_rewrites_are_idempotent(archive):
    archive.write(rows_to_table([row(0, close=100.0), row(1, close=101.0)]), "1m")
    summary = archive.write(rows_to_table([row(1, close=150.0), row(2, close=102.0)]), "1m")
    assert (summary.added, summary.replaced, summary.unchanged) == (1, 1, 0)
    closes = archive.day("NIFTY", date(2022, 11, 1)).column("close").to_pylist()
    assert closes == [100.0, 150.0, 102.0]
    path = archive.partition_path("NIFTY", date(2022, 11, 1), "1m")
    before = path.stat().st_mtime_ns
    again = archive.write(rows_to_table([row(1, close=150.0), row(2, close=102.0)]), "1m")
    assert (again.added, again.replaced, again.unchanged, again.partitions_written) == (0, 0, 2, 0)
    assert path.stat().st_mtime_ns == before


def test_duplicates_inside_one_write_keep_the_last(archive):
    summary = archive.write(rows_to_table([row(0, close=100.0), row(0, close=120.0)]), "1m")
    assert summary.duplicates_in_input == 1
    assert archive.day("NIFTY", date(2022, 11, 1)).column("close").to_pylist() == [120.0]


def test_partitions_by_ist_day_and_underlying(archive):
    late_evening_utc = datetime(2022, 11, 1, 19, 0, tzinfo=UTC)  # 00:30 IST on 11-02
    archive.write(
        rows_to_table([row(0), row(0, underlying="BANKNIFTY"), row(0, start=late_evening_utc)]), "1m"
    )
    assert archive.days("NIFTY", "1m") == [date(2022, 11, 1), date(2022, 11, 2)]
    assert archive.underlyings() == ["BANKNIFTY", "NIFTY"]
    assert archive.timeframes("NIFTY", date(2022, 11, 1)) == ["1m"]
    assert archive.days("NIFTY", "5m") == []


def test_missing_day_is_an_empty_table_with_the_schema(archive):
    table = archive.day("NIFTY", date(2022, 11, 1), "1d")
    assert table.num_rows == 0 and table.schema.equals(ARCHIVE_SCHEMA)


def test_a_days_listing_reads_the_contracts_of_its_bars_in_first_bar_order(archive):
    """Read from the contract columns alone, the listing is what the day's full table lists: each
    contract once, in the order of its first bar (rows are stored by time, then symbol)."""
    day = date(2022, 11, 1)
    archive.write(
        rows_to_table(
            [row(0, 18100.0, "PE"), row(0, 18050.0), row(1, 18000.0), row(1, 18100.0, "PE"), row(2, 17950.0)]
        ),
        "1m",
    )
    listing = archive.listing("NIFTY", day, "1m")
    assert listing.to_pylist() == listed_contracts(archive.day("NIFTY", day, "1m")).to_pylist()
    assert [item["symbol"] for item in listing.to_pylist()] == [
        "NIFTY03NOV2218050CE", "NIFTY03NOV2218100PE", "NIFTY03NOV2218000CE", "NIFTY03NOV2217950CE",
    ]  # fmt: skip
    assert listing.column_names == ["symbol", "expiry", "strike", "option_type"]
    assert archive.listing("NIFTY", day, "5m").num_rows == 0  # no such partition


def test_range_and_listed_strikes(archive):
    archive.write(rows_to_table([row(0, 18000.0), row(0, 18050.0, "PE")]), "1m")
    archive.write(rows_to_table([row(0, 18100.0)]), "1d")
    archive.write(rows_to_table([row(0, 17000.0, start=OPEN_UTC + timedelta(days=1))]), "1m")
    strikes = archive.listed_strikes("NIFTY", date(2022, 11, 1), date(2022, 11, 3))
    assert strikes == [18000.0, 18050.0, 18100.0]
    assert archive.range("NIFTY", date(2022, 11, 1), date(2022, 11, 2)).num_rows == 3
    assert archive.range("NIFTY", date(2022, 11, 2), date(2022, 11, 2)).num_rows == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"close": 0.0, "open": 0.0, "low": 0.0}, "price <= 0"),
        ({"option_type": "XX"}, "not CE/PE"),
        ({"source": "guess"}, "source"),
        ({"high": 50.0}, "high/low"),
        ({"volume": -1}, "negative"),
        ({"underlying": "../x"}, "partition"),
    ],
)
def test_bad_rows_are_refused_naming_the_row(archive, change, message):
    bad = table_to_rows(rows_to_table([row(0)]))[0]
    values = {name: getattr(bad, name) for name in ARCHIVE_SCHEMA.names} | change
    with pytest.raises(ArchiveError, match=message):
        archive.write(rows_to_table([OptionBarRow(**values)]), "1m")
    assert archive.underlyings() == []


def test_wrong_columns_and_timeframe_are_refused(archive):
    table = rows_to_table([row(0)]).drop_columns(["oi"])
    with pytest.raises(ArchiveError, match="missing \\['oi'\\]"):
        archive.write(table, "1m")
    with pytest.raises(ArchiveError, match="timeframe"):
        archive.write(rows_to_table([row(0)]), "15m")


def test_a_failed_rewrite_leaves_the_old_partition(archive, monkeypatch):
    archive.write(rows_to_table([row(0, close=100.0)]), "1m")

    def explode(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(archive_module.pq, "write_table", explode)
    with pytest.raises(OSError):
        archive.write(rows_to_table([row(0, close=200.0)]), "1m")
    monkeypatch.undo()
    assert archive.day("NIFTY", date(2022, 11, 1)).column("close").to_pylist() == [100.0]
    folder = archive.partition_path("NIFTY", date(2022, 11, 1), "1m").parent
    assert [path.name for path in folder.iterdir()] == ["bars.parquet"]


batch = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from([18000.0, 18050.0]), st.integers(2, 500)),
    max_size=12,
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(batches=st.lists(batch, min_size=1, max_size=4))
def test_any_sequence_of_writes_equals_last_write_wins(tmp_path_factory, batches):
    archive = OptionArchive(tmp_path_factory.mktemp("archive"))
    model: dict[tuple[str, datetime], float] = {}
    for entries in batches:
        rows = [row(minute, strike, close=float(close)) for minute, strike, close in entries]
        for item in rows:
            model[(item.symbol, item.ts)] = item.close
        if rows:
            archive.write(rows_to_table(rows), "1m")
    stored = archive.day("NIFTY", date(2022, 11, 1))
    assert {(r.symbol, r.ts): r.close for r in table_to_rows(stored)} == model
    assert stored.num_rows == len(model)


def test_table_round_trip_keeps_types():
    table = rows_to_table([row(0)])
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table_to_rows(table)[0] == row(0)

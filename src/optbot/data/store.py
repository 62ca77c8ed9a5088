"""The JSON store (spec §2.1, §2.1.1, §2.3): raw ticks and bars under the data root.

Layout::

    raw/{SYMBOL}_today.json, raw/{SYMBOL}_yesterday.json         raw ticks, today + previous day
    timeframes/{SYMBOL}/{1m,5m,15m,1h,daily}.json                bars

**Format choice.** Every file is *JSON Lines*: one spec-schema JSON object per line, under the spec's
file name. A whole-document JSON array would have to be rewritten on every closed bar, which at
3 months of 1-minute bars (≈35,000 rows, several MB) costs tens of milliseconds; appending one line
and fsyncing it costs the same at any file size, which is what keeps a persisted bar under the
p99 ≤ 5 ms budget. Whole-file rewrites (retention, de-duplication, merges from downloads/imports) go
through an atomic temp+fsync+rename and then refresh a last-good copy (`<file>.good`).

**Corruption.** A torn last line (a crash mid-append) is moved to a quarantine file and the file is
cut back to its last complete line. A corrupt line anywhere else marks the file corrupt: the original
is quarantined whole (`<file>.corrupt-<utc>`), and the file is rebuilt from the last-good copy merged
with every valid line, so nothing that was stored is lost and nothing is silently truncated.
Duplicate bars (same start) are resolved last-write-wins on read and removed at compaction.

**Retention keeps imported history.** Retention (spec §2.3) counts back from the newest stored bar
and trims what the bot recorded or downloaded; the spans a user imported (`merge_bars(...,
imported=True)`) are remembered in `timeframes/{SYMBOL}/{tf}.imported` (JSON) and never trimmed. What
retention does remove is counted (`MergeResult.removed`, `retention_removed`) and logged, never silent.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from operator import lt
from pathlib import Path
from typing import Any

import orjson

from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.atomic import atomic_write_bytes
from optbot.core.clock import Clock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.events import Bar, Tick
from optbot.core.heap import cyclic_gc_paused
from optbot.core.timeutil import IST, iso_utc, parse_iso

log = logging.getLogger("optbot.data.store")

STORE_TIMEFRAMES = (Timeframe.M1, Timeframe.M3, Timeframe.M5, Timeframe.M15, Timeframe.H1, Timeframe.D1)
GOOD_SUFFIX = ".good"
_SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_&\-]{0,63}$")


def store_symbol(symbol: str) -> str:
    """File-safe upper-case symbol: spaces become underscores; anything path-like is refused."""
    cleaned = symbol.strip().upper().replace(" ", "_")
    if not _SYMBOL_PATTERN.match(cleaned):
        raise ValueError(f"symbol {symbol!r} cannot be used as a file name (letters, digits, _ & - only)")
    return cleaned


def _iso_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bar_to_record(bar: Bar) -> dict[str, Any]:
    """Spec §2.1.1 `bar_1m` schema, plus exchange time, token and quality flags."""
    record: dict[str, Any] = {
        "start_ts_utc": _iso_seconds(bar.start_utc),
        "end_ts_utc": _iso_seconds(bar.end_utc),
        "start_ts_exchange": bar.start_utc.astimezone(IST).isoformat(),
        "token": bar.token,
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": bar.volume,
    }
    if bar.open_interest is not None:
        record["oi"] = bar.open_interest
    if bar.tick_count:
        record["n"] = bar.tick_count
    if bar.interpolated:
        record["interpolated"] = True
    if not bar.complete:
        record["complete"] = False
    return record


def _parse_stamp(text: str) -> datetime:
    """`parse_iso` of a stored bar time: the store writes UTC with a trailing Z, which
    `datetime.fromisoformat` reads as UTC itself (a quarter of the cost); anything else, or
    anything it refuses, goes through `parse_iso`."""
    if type(text) is str and text[-1:] == "Z" and "Z" not in text[:-1]:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return parse_iso(text)


def record_to_bar(record: dict[str, Any], symbol: str, timeframe: Timeframe) -> Bar:
    """One stored record as a `Bar` (`records_to_bars`' rule); raises what refuses it."""
    bars, refusals = records_to_bars((record,), symbol, timeframe)
    if refusals:
        raise refusals[0]
    return bars[0]


def records_to_bars(
    records: Iterable[dict[str, Any]], symbol: str, timeframe: Timeframe, token: str | None = None
) -> tuple[list[Bar], list[Exception]]:
    """`record_to_bar` of each record (timestamps memoised across them), in one loop with every
    lookup bound once: a backtest's load turns a year of stored bars into `Bar`s here, and a call
    per record was a sixth of it. `token` replaces each record's own. Returns the bars and, in
    order, what refused each record that could not be read (skipped)."""
    bars: list[Bar] = []
    refusals: list[Exception] = []
    add = bars.append
    times: dict[str, datetime] = {}
    known = times.get
    parse = _parse_stamp
    for record in records:
        try:
            start_text, end_text = record["start_ts_utc"], record["end_ts_utc"]
            start = known(start_text)
            if start is None:
                start = times[start_text] = parse(start_text)
            end = known(end_text)
            if end is None:
                end = times[end_text] = parse(end_text)
            get = record.get
            if token is None:
                own = get("token", "")
                own = own if type(own) is str else str(own)
            else:
                own = token
            add(
                Bar(
                    end,
                    own,
                    symbol,
                    timeframe,
                    start,
                    end,
                    float(record["o"]),
                    float(record["h"]),
                    float(record["l"]),
                    float(record["c"]),
                    int(get("v") or 0),
                    get("oi"),
                    int(get("n") or 0),
                    bool(get("interpolated", False)),
                    bool(get("complete", True)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            refusals.append(exc)
    return bars, refusals


def _unique_by_start(records: list[dict[str, Any]], report: LoadReport) -> list[dict[str, Any]]:
    """One record per start time (the last written wins), in start order. Records written in order
    (what appends and rewrites produce) are taken as they are."""
    keys: list[Any] = [record.get("start_ts_utc") for record in records]
    # (map over C functions: a year of minute bars is ~94,000 keys, and two generators cost 15 ms)
    if set(map(type, keys)) <= {str} and all(map(lt, keys, islice(keys, 1, None))):
        return records
    by_start: dict[str, dict[str, Any]] = {}
    for record, key in zip(records, keys, strict=True):
        if not isinstance(key, str):
            continue
        if key in by_start:
            report.duplicates += 1
        by_start[key] = record
    return [by_start[key] for key in sorted(by_start)]


def tick_to_record(tick: Tick) -> dict[str, Any]:
    """Spec §2.1.1 `raw_tick` schema."""
    record: dict[str, Any] = {
        "ts_exchange": tick.ts_exchange.astimezone(IST).isoformat(timespec="milliseconds")
        if tick.ts_exchange
        else None,
        "ts_utc": iso_utc(tick.ts_utc),
        "symbol": tick.symbol,
        "token": int(tick.token) if tick.token.isdigit() else tick.token,
        "exchange": tick.exchange.value,
        "ltp": tick.ltp,
        "bid": tick.bid,
        "ask": tick.ask,
        "volume": tick.volume,
    }
    if tick.open_interest is not None:
        record["oi"] = tick.open_interest
    return record


def record_to_tick(record: dict[str, Any]) -> Tick:
    return Tick(
        ts_utc=parse_iso(record["ts_utc"]),
        token=str(record["token"]),
        exchange=Exchange(record.get("exchange", "NSE")),
        symbol=record["symbol"],
        ltp=float(record["ltp"]),
        ts_exchange=parse_iso(record["ts_exchange"]) if record.get("ts_exchange") else None,
        bid=record.get("bid"),
        ask=record.get("ask"),
        volume=record.get("volume"),
        open_interest=record.get("oi"),
        source="replay",
    )


@dataclass
class LoadReport:
    """What reading a file found; `repaired` says what was done about problems."""

    path: Path
    lines: int = 0
    valid: int = 0
    duplicates: int = 0
    bad_lines: list[int] = field(default_factory=list)
    torn_tail: bool = False
    restored_from_good_copy: bool = False
    quarantined: Path | None = None

    @property
    def healthy(self) -> bool:
        return not self.bad_lines and not self.torn_tail


@dataclass(frozen=True, slots=True)
class MergeResult:
    added: int
    replaced: int
    unchanged: int
    total: int
    removed: int = 0  # older bars retention removed in the same rewrite (never imported ones)


def _parse_lines(payload: bytes, report: LoadReport) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    lines = payload.split(b"\n")
    complete_tail = payload.endswith(b"\n") or not payload
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():  # (strip would copy every line)
            continue
        report.lines += 1
        try:
            record = orjson.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except (orjson.JSONDecodeError, ValueError):
            if number == len(lines) and not complete_tail:
                report.torn_tail = True
            else:
                report.bad_lines.append(number)
            continue
        records.append(record)
    report.valid = len(records)
    return records


class JsonStore:
    def __init__(self, paths: PathsSettings, settings: DataSettings, clock: Clock) -> None:
        self.paths = paths
        self.settings = settings
        self.clock = clock
        self.raw_dir = paths.resolve(paths.raw_dir)
        self.timeframes_dir = paths.resolve(paths.timeframes_dir)
        self._tick_buffers: dict[str, list[bytes]] = {}
        self._checked: set[Path] = set()
        self.counters: Counter[str] = Counter()
        self.retention_removed: dict[str, int] = {}

    # -- paths ---------------------------------------------------------------------------------

    def bar_path(self, symbol: str, timeframe: Timeframe) -> Path:
        return self.timeframes_dir / store_symbol(symbol) / f"{timeframe.value}.json"

    def imported_spans_path(self, symbol: str, timeframe: Timeframe) -> Path:
        return self.timeframes_dir / store_symbol(symbol) / f"{timeframe.value}.imported"

    def raw_path(self, symbol: str, which: str = "today") -> Path:
        if which not in ("today", "yesterday"):
            raise ValueError(f"raw file must be 'today' or 'yesterday', got {which!r}")
        return self.raw_dir / f"{store_symbol(symbol)}_{which}.json"

    def symbols(self) -> list[str]:
        if not self.timeframes_dir.is_dir():
            return []
        return sorted(path.name for path in self.timeframes_dir.iterdir() if path.is_dir())

    def timeframes(self, symbol: str) -> list[Timeframe]:
        return [tf for tf in STORE_TIMEFRAMES if self.bar_path(symbol, tf).exists()]

    # -- low-level file handling -----------------------------------------------------------------

    def _quarantine(self, path: Path, payload: bytes, what: str) -> Path:
        stamp = self.clock.now_utc().strftime("%Y%m%dT%H%M%S%fZ")
        target = path.with_name(f"{path.name}.{what}-{stamp}")
        atomic_write_bytes(target, payload)
        self.counters[f"quarantined_{what}"] += 1
        log.error("data file %s: %s quarantined to %s", path, what, target.name)
        return target

    def _load_records(self, path: Path) -> tuple[list[dict[str, Any]], LoadReport]:
        """Read a JSONL file, repairing a torn tail or restoring from the good copy as described above."""
        report = LoadReport(path)
        try:
            payload = path.read_bytes()
        except FileNotFoundError:
            return [], report
        records = _parse_lines(payload, report)
        if report.healthy:
            return records, report
        if report.bad_lines:
            report.quarantined = self._quarantine(path, payload, "corrupt")
            good = path.with_name(path.name + GOOD_SUFFIX)
            good_records: list[dict[str, Any]] = []
            if good.exists():
                good_records = _parse_lines(good.read_bytes(), LoadReport(good))
                report.restored_from_good_copy = True
            log.error(
                "data file %s corrupt at lines %s: rebuilt from %s and %d valid lines",
                path,
                report.bad_lines[:10],
                good.name if good.exists() else "no good copy",
                len(records),
            )
            records = good_records + records
        else:
            tail = payload[payload.rfind(b"\n") + 1 :]
            report.quarantined = self._quarantine(path, tail, "torn")
        self._write_records(path, records, good_copy=False)
        return records, report

    def _write_records(self, path: Path, records: Iterable[dict[str, Any]], good_copy: bool) -> None:
        payload = b"".join(orjson.dumps(record) + b"\n" for record in records)
        atomic_write_bytes(path, payload)
        if good_copy:
            atomic_write_bytes(path.with_name(path.name + GOOD_SUFFIX), payload)
        self._checked.add(path)

    def _ensure_clean_tail(self, path: Path) -> None:
        """Before the first append in this process, make sure a torn line will not swallow it."""
        if path in self._checked:
            return
        if path.exists() and path.stat().st_size:
            with path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    self._load_records(path)
        self._checked.add(path)

    def _append(self, path: Path, payload: bytes, fsync: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._ensure_clean_tail(path)
        with path.open("ab") as handle:
            handle.write(payload)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())

    # -- bars ----------------------------------------------------------------------------------

    def append_bar(self, bar: Bar) -> None:
        """Persist one closed bar: one line appended (and fsynced), whatever the file's size."""
        self._append(
            self.bar_path(bar.symbol, bar.timeframe),
            orjson.dumps(bar_to_record(bar)) + b"\n",
            self.settings.fsync_appends,
        )
        self.counters["bars_appended"] += 1

    def read_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        """Bars in start order, one per start time (the last written wins)."""
        bars, _report = self.load(symbol, timeframe)
        if start is not None:
            bars = [bar for bar in bars if bar.start_utc >= start]
        if end is not None:
            bars = [bar for bar in bars if bar.start_utc < end]
        return bars

    def load(
        self, symbol: str, timeframe: Timeframe, label: tuple[str, str] | None = None
    ) -> tuple[list[Bar], LoadReport]:
        """The file's bars in start order, one per start time (the last written wins). With `label`
        (token, symbol), every bar carries that instrument's token and symbol instead of the stored
        ones: what `relabel_bar` would give each, without building every bar twice."""
        path = self.bar_path(symbol, timeframe)
        token, name = label if label is not None else (None, store_symbol(symbol))
        with cyclic_gc_paused():
            records, report = self._load_records(path)
            bars, refusals = records_to_bars(_unique_by_start(records, report), name, timeframe, token)
        for refusal in refusals:
            self.counters["unreadable_bar_records"] += 1
            log.warning("skipping unreadable bar record in %s: %s", path, refusal)
        return bars, report

    def _retention_cutoff(self, timeframe: Timeframe, newest: datetime | None) -> datetime:
        """Retention counts back from the newest stored bar (≈ now when live)."""
        days = (
            self.settings.daily_retention_days
            if timeframe is Timeframe.D1
            else self.settings.intraday_retention_days
        )
        anchor = min(newest, self.clock.now_utc()) if newest is not None else self.clock.now_utc()
        return anchor - timedelta(days=days)

    def imported_spans(self, symbol: str, timeframe: Timeframe) -> list[tuple[datetime, datetime]]:
        """Bar-start spans a user imported: retention never trims inside them."""
        try:
            payload = orjson.loads(self.imported_spans_path(symbol, timeframe).read_bytes())
            return [(parse_iso(first), parse_iso(last)) for first, last in payload["imported"]]
        except FileNotFoundError:
            return []
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.error("unreadable imported-span file for %s %s: keeping every bar", symbol, timeframe.value)
            return [(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))]

    def _remember_import(self, symbol: str, timeframe: Timeframe, first: datetime, last: datetime) -> None:
        spans = sorted([*self.imported_spans(symbol, timeframe), (first, last)])
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        payload = {"imported": [[_iso_seconds(start), _iso_seconds(end)] for start, end in merged]}
        atomic_write_bytes(self.imported_spans_path(symbol, timeframe), orjson.dumps(payload))

    def _retain(
        self, symbol: str, timeframe: Timeframe, starts: list[datetime]
    ) -> tuple[list[datetime], int]:
        """The starts retention keeps (sorted) and how many it removes; imported spans always stay."""
        if not starts:
            return [], 0
        ordered = sorted(starts)
        cutoff = self._retention_cutoff(timeframe, ordered[-1])
        spans = self.imported_spans(symbol, timeframe)
        kept = [
            start
            for start in ordered
            if start >= cutoff or any(first <= start <= last for first, last in spans)
        ]
        removed = len(ordered) - len(kept)
        if removed:
            setting = "daily_retention_days" if timeframe is Timeframe.D1 else "intraday_retention_days"
            log.info(
                "retention removed %d %s %s bars before %s (data.%s; imported history is kept)",
                removed, symbol, timeframe.value, cutoff.date(), setting,
            )  # fmt: skip
        return kept, removed

    def merge_bars(
        self, symbol: str, timeframe: Timeframe, bars: Iterable[Bar], imported: bool = False
    ) -> MergeResult:
        """Idempotent merge (downloads, imports): same start → replaced; rewritten atomically.
        `imported=True` marks the bars' span as user-imported history that retention keeps."""
        incoming = list(bars)
        if imported and incoming:
            starts = [bar.start_utc for bar in incoming]
            self._remember_import(symbol, timeframe, min(starts), max(starts))
        existing, _report = self.load(symbol, timeframe)
        by_start = {bar.start_utc: bar for bar in existing}
        added = replaced = unchanged = 0
        for bar in incoming:
            old = by_start.get(bar.start_utc)
            if old is None:
                added += 1
            elif bar_to_record(old) == bar_to_record(bar):
                unchanged += 1
                continue
            else:
                replaced += 1
            by_start[bar.start_utc] = bar
        kept_starts, removed = self._retain(symbol, timeframe, list(by_start))
        if added or replaced or removed or not self.bar_path(symbol, timeframe).exists():
            kept = (by_start[start] for start in kept_starts)
            self._write_records(self.bar_path(symbol, timeframe), map(bar_to_record, kept), good_copy=True)
        return MergeResult(added, replaced, unchanged, len(kept_starts), removed)

    def compact(self, symbol: str, timeframe: Timeframe) -> int:
        """Retention + de-duplication + refreshed good copy. Returns bars kept; what retention
        removed is in `retention_removed` (and logged)."""
        bars, _report = self.load(symbol, timeframe)
        by_start = {bar.start_utc: bar for bar in bars}
        kept_starts, removed = self._retain(symbol, timeframe, list(by_start))
        self.retention_removed[f"{store_symbol(symbol)}/{timeframe.value}"] = removed
        kept = [by_start[start] for start in kept_starts]
        self._write_records(self.bar_path(symbol, timeframe), map(bar_to_record, kept), good_copy=True)
        return len(kept)

    def verify(self, symbol: str, timeframe: Timeframe) -> LoadReport:
        return self.load(symbol, timeframe)[1]

    # -- raw ticks -----------------------------------------------------------------------------

    def append_tick(self, tick: Tick) -> None:
        buffer = self._tick_buffers.setdefault(tick.symbol, [])
        buffer.append(orjson.dumps(tick_to_record(tick)) + b"\n")
        if len(buffer) >= self.settings.raw_flush_ticks:
            self._flush_symbol(tick.symbol)

    def _flush_symbol(self, symbol: str) -> None:
        buffer = self._tick_buffers.get(symbol)
        if buffer:
            self._append(self.raw_path(symbol), b"".join(buffer), self.settings.fsync_appends)
            self.counters["ticks_written"] += len(buffer)
            buffer.clear()

    def flush_ticks(self) -> None:
        for symbol in list(self._tick_buffers):
            self._flush_symbol(symbol)

    def read_ticks(self, symbol: str, which: str = "today") -> list[Tick]:
        records, _report = self._load_records(self.raw_path(symbol, which))
        ticks: list[Tick] = []
        for record in records:
            try:
                ticks.append(record_to_tick(record))
            except (KeyError, TypeError, ValueError):
                self.counters["unreadable_tick_records"] += 1
        return ticks

    def _raw_day(self, path: Path) -> date | None:
        try:
            with path.open("rb") as handle:
                first = handle.readline()
            return parse_iso(orjson.loads(first)["ts_utc"]).astimezone(IST).date()
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def rotate_raw(self, today: date) -> list[str]:
        """Today's file from an earlier session becomes yesterday's, replacing (deleting) the older one.

        That is the spec's 2-day retention counted in sessions: today + the previous trading session,
        so Friday's ticks are still there on Monday morning.
        """
        self.flush_ticks()
        rotated: list[str] = []
        if not self.raw_dir.is_dir():
            return rotated
        for path in sorted(self.raw_dir.glob("*_today.json")):
            day = self._raw_day(path)
            if day is None or day >= today:
                continue
            symbol = path.name.removesuffix("_today.json")
            yesterday = self.raw_dir / f"{symbol}_yesterday.json"
            os.replace(path, yesterday)
            rotated.append(symbol)
            log.info("raw ticks rotated: %s (%s)", symbol, day)
        return rotated

    def maintain(self, today: date) -> dict[str, int]:
        """Daily upkeep: rotate raw ticks, apply retention and refresh good copies."""
        self.rotate_raw(today)
        kept: dict[str, int] = {}
        for symbol in self.symbols():
            for timeframe in self.timeframes(symbol):
                kept[f"{symbol}/{timeframe.value}"] = self.compact(symbol, timeframe)
        return kept

    def copy_tree_to(self, target: Path) -> None:
        """Used by backups: a consistent copy of both directories (ticks flushed first)."""
        self.flush_ticks()
        for directory in (self.raw_dir, self.timeframes_dir):
            if directory.is_dir():
                shutil.copytree(directory, target / directory.name, dirs_exist_ok=True)

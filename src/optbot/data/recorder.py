"""The live option-bar recorder: every subscribed contract's closed 1-minute bars into the archive.

The live pipeline hands each closed option bar to `OptionBarRecorder.record`; rows are buffered per
IST day and written to the option archive (source ``recorded``) in batches — every
`data.archive_flush_minutes`, when a new day's first bar arrives (the previous day is flushed), at
the F&O close and at shutdown. A batch is a merge into the day partition, so a flush costs one
partition rewrite however many bars it carries; a failed write keeps the rows buffered for the next
attempt, so nothing recorded is lost to a full disk for a minute.

`flush` may run in a worker thread (the pipeline does that, so a rewrite never stalls the event
loop); the buffer is swapped under a lock.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import date

from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.instrument import Instrument
from optbot.core.timeutil import IST
from optbot.data.archive import ArchiveWriteSummary, OptionArchive, OptionBarRow, rows_to_table

log = logging.getLogger("optbot.data.recorder")


class OptionBarRecorder:
    def __init__(self, archive: OptionArchive) -> None:
        self.archive = archive
        self._lock = threading.Lock()
        self._pending: dict[date, list[OptionBarRow]] = defaultdict(list)
        self.recorded = 0
        self.written = 0
        self.skipped = 0
        self.write_errors = 0

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(len(rows) for rows in self._pending.values())

    def pending_days(self) -> list[date]:
        with self._lock:
            return sorted(self._pending)

    def record(self, bar: Bar, instrument: Instrument) -> bool:
        """Buffer one closed bar of an option contract; False when it is not archive material
        (not 1m, incomplete or interpolated, no traded price, or not an option)."""
        if (
            bar.timeframe is not Timeframe.M1
            or not bar.complete
            or bar.interpolated
            or min(bar.open, bar.high, bar.low, bar.close) <= 0
            or instrument.expiry is None
            or instrument.strike is None
            or instrument.option_type is None
        ):
            self.skipped += 1
            return False
        row = OptionBarRow(
            ts=bar.start_utc,
            underlying=instrument.underlying.upper(),
            expiry=instrument.expiry,
            strike=float(instrument.strike),
            option_type=instrument.option_type.value,
            symbol=instrument.symbol,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=max(0, bar.volume),
            oi=max(0, bar.open_interest or 0),
            source="recorded",
        )
        with self._lock:
            self._pending[bar.start_utc.astimezone(IST).date()].append(row)
        self.recorded += 1
        return True

    def earlier_days_pending(self, today: date) -> bool:
        with self._lock:
            return any(day < today for day in self._pending)

    def flush(self) -> ArchiveWriteSummary | None:
        """Write everything buffered; on failure the rows go back into the buffer (and are counted)."""
        with self._lock:
            batch = [row for rows in self._pending.values() for row in rows]
            self._pending.clear()
        if not batch:
            return None
        try:
            summary = self.archive.write(rows_to_table(batch), Timeframe.M1.value)
        except (OSError, ValueError):
            self.write_errors += 1
            log.exception(
                "could not write %d recorded option bars to the archive; kept for the next flush", len(batch)
            )
            with self._lock:
                for row in batch:
                    self._pending[row.ts.astimezone(IST).date()].append(row)
            return None
        self.written += len(batch)
        return summary

"""The daily master artifact: download, validate, keep, and fall back to a cache (spec §3.1, §8.1, §13.7).

Artifacts are `instruments/scripmaster-YYYY-MM-DD.json`: one compact JSON document (column names once,
rows as arrays, SHA-256 of the source, the parse report). They are written atomically, so a crash
mid-refresh leaves yesterday's artifact intact. If today's download fails the newest artifact is used
when it is at most `stale_master_days` old; older than that, the master is marked stale and every one
of its tokens is refused for trading. With no usable artifact at all, the operator's own fallback file
(`instruments.fallback_master_file`, spec §8.1 'manual token list') is used under the same stale rule,
dated by its modification time. Missing tokens are appended to `missing-tokens.jsonl` for review.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from optbot.core.atomic import atomic_write_bytes
from optbot.core.clock import Clock
from optbot.core.timeutil import iso_utc, ist_date
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.instruments.scripmaster import (
    ARTIFACT_COLUMNS,
    ParseReport,
    instrument_to_row,
    parse_master,
    row_to_instrument,
)

if TYPE_CHECKING:
    from optbot.config import Settings

log = logging.getLogger("optbot.instruments.repository")

ARTIFACT_VERSION = 1
_ARTIFACT_NAME = re.compile(r"^scripmaster-(\d{4}-\d{2}-\d{2})\.json$")
MISSING_TOKENS_FILE = "missing-tokens.jsonl"


class MasterUnavailable(Exception):
    """No usable master: the download failed and there is no cached artifact."""


@dataclass(frozen=True, slots=True)
class RefreshResult:
    master: InstrumentMaster
    downloaded: bool
    artifact: Path
    report: ParseReport | None
    purged_expired: int = 0
    error: str = ""


class MasterRepository:
    def __init__(
        self,
        directory: Path,
        url: str,
        clock: Clock,
        stale_days: int = 7,
        keep_days: int = 10,
        timeout_seconds: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        fallback_file: Path | None = None,
    ) -> None:
        self.directory = directory
        self.url = url
        self.clock = clock
        self.stale_days = stale_days
        self.keep_days = keep_days
        self.timeout_seconds = timeout_seconds
        self._transport = transport
        self.fallback_file = fallback_file

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> MasterRepository:
        """The repository the configured paths, master URL and retention describe (CLI and live session)."""
        fallback = settings.instruments.fallback_master_file
        return cls(
            settings.paths.resolve(settings.paths.instruments_dir),
            settings.broker.scrip_master_url,
            clock,
            stale_days=settings.data.stale_master_days,
            keep_days=settings.instruments.master_keep_days,
            timeout_seconds=settings.instruments.download_timeout_seconds,
            fallback_file=settings.paths.resolve(fallback) if fallback is not None else None,
        )

    # -- artifacts -----------------------------------------------------------------------------

    def artifact_path(self, day: date) -> Path:
        return self.directory / f"scripmaster-{day.isoformat()}.json"

    def artifacts(self) -> list[tuple[date, Path]]:
        found: list[tuple[date, Path]] = []
        if not self.directory.is_dir():
            return found
        for path in self.directory.iterdir():
            match = _ARTIFACT_NAME.match(path.name)
            if match:
                found.append((date.fromisoformat(match.group(1)), path))
        return sorted(found)

    def write_artifact(
        self, day: date, master: InstrumentMaster, source_sha256: str, report: ParseReport | None
    ) -> Path:
        document = {
            "version": ARTIFACT_VERSION,
            "as_of": day.isoformat(),
            "source": self.url,
            "source_sha256": source_sha256,
            "written_utc": iso_utc(self.clock.now_utc()),
            "report": report.as_dict() if report else None,
            "columns": list(ARTIFACT_COLUMNS),
            "rows": [instrument_to_row(item) for item in master.instruments()],
        }
        path = self.artifact_path(day)
        atomic_write_bytes(path, orjson.dumps(document))
        return path

    def _missing_logger(self, what: str) -> None:
        record = {"ts_utc": iso_utc(self.clock.now_utc()), "missing": what}
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / MISSING_TOKENS_FILE).open("ab") as handle:
            handle.write(orjson.dumps(record) + b"\n")

    def load_artifact(self, path: Path, today: date) -> InstrumentMaster:
        try:
            document: dict[str, Any] = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise MasterUnavailable(f"cached master {path.name} is unreadable: {exc}") from None
        if document.get("version") != ARTIFACT_VERSION or document.get("columns") != list(ARTIFACT_COLUMNS):
            raise MasterUnavailable(f"cached master {path.name} has an unknown format")
        as_of = date.fromisoformat(document["as_of"])
        age = (today - as_of).days
        stale = age > self.stale_days
        if stale:
            log.error(
                "instrument master from %s is %d days old (> %d): its tokens will not be traded",
                as_of,
                age,
                self.stale_days,
            )
        cache: dict[str, date] = {}
        instruments = [row_to_instrument(row, cache) for row in document["rows"]]
        info = MasterInfo(as_of=as_of, source=str(path), stale=stale, age_days=age)
        # A cached master may predate expiries: contracts that expired since are dropped on load.
        return InstrumentMaster(instruments, info, on_missing=self._missing_logger).without_expired(today)

    def load_fallback(self, today: date) -> InstrumentMaster:
        """The operator's fallback master file, dated by its modification time (IST date), under the
        stale rule; contracts expired before `today` are dropped."""
        path = self.fallback_file
        assert path is not None
        try:
            payload = path.read_bytes()
            as_of = ist_date(datetime.fromtimestamp(path.stat().st_mtime, UTC))
            instruments, report = parse_master(payload)
        except (OSError, ValueError) as exc:
            raise MasterUnavailable(f"fallback master file {path} is unusable: {exc}") from None
        if not instruments:
            raise MasterUnavailable(
                f"fallback master file {path} has no usable rows ({dict(report.rejected)})"
            )
        age = (today - as_of).days
        stale = age > self.stale_days
        (log.error if stale else log.warning)(
            "instrument master from the fallback file %s (as of %s, %d days old%s)",
            path,
            as_of,
            age,
            ": its tokens will not be traded" if stale else "",
        )
        info = MasterInfo(as_of=as_of, source=str(path), stale=stale, age_days=age)
        return InstrumentMaster(instruments, info, on_missing=self._missing_logger).without_expired(today)

    def latest(self, today: date | None = None) -> InstrumentMaster:
        """The newest artifact on or before today, with the stale rule applied."""
        today = today or self.clock.now_ist().date()
        candidates = [(day, path) for day, path in self.artifacts() if day <= today]
        for _day, path in reversed(candidates):
            try:
                return self.load_artifact(path, today)
            except MasterUnavailable as exc:
                log.error("%s; trying an older artifact", exc)
        raise MasterUnavailable(f"no instrument master in {self.directory}; run `optbot instruments refresh`")

    def purge_old_artifacts(self) -> list[Path]:
        removed: list[Path] = []
        artifacts = self.artifacts()
        for _day, path in artifacts[: max(0, len(artifacts) - self.keep_days)]:
            path.unlink(missing_ok=True)
            removed.append(path)
        return removed

    # -- refresh -------------------------------------------------------------------------------

    async def download(self) -> bytes:
        async with httpx.AsyncClient(
            timeout=self.timeout_seconds, transport=self._transport, follow_redirects=True
        ) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            return response.content

    async def refresh(self, force: bool = False) -> RefreshResult:
        """Today's master: the existing artifact, a fresh download, or the cache fallback."""
        today = self.clock.now_ist().date()
        path = self.artifact_path(today)
        if path.exists() and not force:
            try:
                return RefreshResult(self.load_artifact(path, today), False, path, None)
            except MasterUnavailable as exc:
                log.error("%s; downloading again", exc)
        try:
            payload = await self.download()
            instruments, report = parse_master(payload)
        except (httpx.HTTPError, ValueError) as exc:
            error = f"scrip master download failed: {type(exc).__name__}: {exc}"
            log.error("%s; falling back to the cached master", error)
            try:
                master = self.latest(today)
            except MasterUnavailable as unavailable:
                if self.fallback_file is None:
                    raise
                log.error("%s; using the fallback master file %s", unavailable, self.fallback_file)
                return RefreshResult(self.load_fallback(today), False, self.fallback_file, None, error=error)
            artifact = self.artifact_path(master.info.as_of)
            return RefreshResult(master, False, artifact, None, error=error)
        info = MasterInfo(as_of=today, source=self.url)
        full = InstrumentMaster(instruments, info, on_missing=self._missing_logger)
        master = full.without_expired(today)
        purged = len(full) - len(master)
        artifact = self.write_artifact(today, master, hashlib.sha256(payload).hexdigest(), report)
        self.purge_old_artifacts()
        log.info(
            "instrument master refreshed: rows=%d kept=%d rejected=%d expired_purged=%d",
            report.total_rows,
            len(master),
            report.rejected_total,
            purged,
        )
        return RefreshResult(master, True, artifact, report, purged_expired=purged)

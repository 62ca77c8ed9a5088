"""Structured logging: JSON lines to a daily file, readable console output, secrets never leave.

Why one module: every event — structlog or stdlib (httpx, websockets, SmartApi) — goes through the
same chain: the Clock's UTC timestamp, the current trace id (intent -> order -> trade), then a
redaction step that masks registered secret values anywhere in the event and known credential fields.
The rendered line is scrubbed once more just before it is written, so a secret hidden inside a repr
or a traceback is still masked.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, cast

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from optbot.config import Settings
from optbot.core.clock import Clock
from optbot.core.timeutil import IST, iso_utc, to_ist

MASK = "***"

#: Secrets shorter than this are not masked by value (it would shred ordinary numbers in the logs);
#: their fields are still masked by name. A 4-digit PIN is long enough.
MIN_SECRET_LENGTH = 4

#: Field names (compared without case, '-' or '_') whose values are always masked.
SENSITIVE_FIELDS = frozenset(
    {
        "jwttoken",
        "refreshtoken",
        "feedtoken",
        "accesstoken",
        "password",
        "pin",
        "mpin",
        "totp",
        "totpsecret",
        "apikey",
        "xprivatekey",
        "authorization",
        "secret",
        "clientsecret",
        "operatortoken",
        "viewertoken",
        "cookie",
    }
)

#: Credential shapes masked even when nobody registered them: bearer headers and JWTs.
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"),
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secret_pattern: re.Pattern[str] | None = None

_trace_id: ContextVar[str | None] = ContextVar("optbot_trace_id", default=None)

_installed_handlers: list[logging.Handler] = []

#: Libraries that log one INFO line per request or frame (httpx: every REST call). The console shows
#: their warnings only; the JSON file keeps every line, demoted to DEBUG, for post-mortems.
CHATTY_LIBRARIES = ("httpx", "httpcore", "websockets", "hpack", "uvicorn")


def _is_chatty(record: logging.LogRecord) -> bool:
    return _is_chatty_logger(record.name)


@functools.lru_cache(maxsize=1024)
def _is_chatty_logger(name: str) -> bool:
    """Remembered per logger name: every record is asked about, and the names repeat."""
    return any(name == library or name.startswith(library + ".") for library in CHATTY_LIBRARIES)


class ConsoleSummaryFilter(logging.Filter):
    """The console is a human summary (stages, orders, fills, risk events, warnings): chatty
    libraries reach it only at WARNING and above."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not _is_chatty(record)


class ChattyLibrariesAsDebug(logging.Filter):
    """The JSON file keeps chatty libraries' per-request lines, marked DEBUG so a reader can skip them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and _is_chatty(record):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def register_secret(value: str | None) -> None:
    """Mask this value wherever it appears in any later log event."""
    global _secret_pattern
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if value in _secrets:
            return
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)  # longest first: no partial leftovers
        _secret_pattern = re.compile("|".join(re.escape(secret) for secret in ordered))


def clear_secrets() -> None:
    """Forget registered secrets (tests, or after a logout wipes credentials)."""
    global _secret_pattern
    with _secrets_lock:
        _secrets.clear()
        _secret_pattern = None


def _may_hold_shape(text: str) -> bool:
    """Whether `text` may hold a credential shape of `_PATTERNS`: each starts with "eyJ" or a
    case-insensitive "bearer", so a text with neither cannot match them and most values (and most
    rendered lines) are passed after two substring tests instead of two substitutions. (No character
    but b, e, a, r in either case matches those letters case-insensitively, and `lower` maps each of
    them to its small letter, so the test never misses a match.)"""
    return "eyJ" in text or "bearer" in text.lower()


def redact_text(text: str) -> str:
    """Mask registered secrets and credential-shaped substrings in a string."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    if not _may_hold_shape(text):  # as a substitution would, give a str subclass as plain str
        return text if type(text) is str else str.__str__(text)
    text = _PATTERNS[0].sub(lambda match: match.group(1) + MASK, text)
    return _PATTERNS[1].sub(MASK, text)


@functools.lru_cache(maxsize=4096)
def _is_sensitive(key: object) -> bool:
    """Remembered per key: every field of every log event is asked about, and the names repeat."""
    return isinstance(key, str) and key.lower().replace("-", "").replace("_", "") in SENSITIVE_FIELDS


def redact_value(value: Any) -> Any:
    """Recursively mask secrets; unknown objects are rendered to text first so their repr is scrubbed."""
    if type(value) is str:  # most values: one type check before the general ones
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: MASK if _is_sensitive(key) else redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    return redact_text(repr(value))


#: The value types whose text `redact_value` would give back unchanged when it holds no secret or
#: credential shape (an exact `str`; a list or tuple of them renders to the same JSON array).
_SCALARS = (type(None), bool, int, float)


def _plain_texts(event_dict: EventDict) -> list[str] | None:
    """Every text of an event whose values are all scalars, exact strings or lists/tuples of those;
    None when any value needs `redact_value`'s general path (a mapping, a set, bytes, an object, a
    str subclass) or any key is a sensitive field name."""
    texts: list[str] = []
    for key, value in event_dict.items():
        if _is_sensitive(key):
            return None
        kind = type(value)
        if kind is str:
            texts.append(value)
        elif kind in _SCALARS:
            continue
        elif kind is list or kind is tuple:
            for item in value:
                if type(item) is str:
                    texts.append(item)
                elif type(item) not in _SCALARS:
                    return None
        else:
            return None
    return texts


def redact_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Mask sensitive fields and secrets in every value. Most events hold neither: one search over
    all their texts together proves it and the event is passed on as it is (a text of the joined
    whole holds every value's text, so a value holding a secret or a credential shape cannot be
    missed; a match across two values only sends the event down the per-value path)."""
    texts = _plain_texts(event_dict)
    if texts is not None:
        joined = "\n".join(texts)
        pattern = _secret_pattern
        if not _may_hold_shape(joined) and (pattern is None or pattern.search(joined) is None):
            return event_dict
    return {key: MASK if _is_sensitive(key) else redact_value(value) for key, value in event_dict.items()}


@functools.lru_cache(maxsize=8)
def _sorted_json_encoder(default: Callable[[Any], Any]) -> json.JSONEncoder:
    return json.JSONEncoder(sort_keys=True, default=default)


def _dumps_sorted(payload: Any, *, default: Callable[[Any], Any], sort_keys: bool) -> str:
    """`json.dumps(payload, sort_keys=True, default=default)`, with the encoder built once instead of
    for every line (the same text: `json.dumps` builds this very encoder from these arguments)."""
    if not sort_keys:
        return json.dumps(payload, default=default)
    return _sorted_json_encoder(default).encode(payload)


@contextmanager
def bind_trace(trace_id: str) -> Iterator[str]:
    """Tag every log event inside the block (and tasks it starts) with `trace_id`."""
    token = _trace_id.set(trace_id)
    try:
        yield trace_id
    finally:
        _trace_id.reset(token)


def current_trace_id() -> str | None:
    return _trace_id.get()


def _add_trace_id(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    trace_id = _trace_id.get()
    if trace_id is not None:
        event_dict.setdefault("trace_id", trace_id)
    return event_dict


class _ClockTimestamper:
    """Stamp events with the engine's Clock, so simulated runs log simulated time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        #: The last instant stamped and its text: a replay logs many events at one clock reading.
        self._last: tuple[datetime, str] | None = None

    def __call__(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        now = self.clock.now_utc()
        last = self._last
        if last is None or last[0] != now:
            last = self._last = (now, iso_utc(now))
        event_dict["timestamp"] = last[1]
        return event_dict


#: `ProcessorFormatter`'s mark of a record that did not come from a structlog logger.
_NOT_STRUCTLOG = object()


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """Final scrub of the rendered line: catches secrets inside reprs and tracebacks.

    Renders as `ProcessorFormatter.format` does (the same processors on the same event dict) without
    its two detours that change nothing in the line: the copy of the record (no processor here writes
    to the record) and the base `logging.Formatter` pass over the rendered text ("%(message)s" with the
    record's exception and stack cleared, i.e. the text itself). A backtest logs thousands of lines."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(self._render(record))

    def _render(self, record: logging.LogRecord) -> str:
        logger: Any = getattr(record, "_logger", _NOT_STRUCTLOG)
        method: str | None = getattr(record, "_name", None)
        event: Any
        if logger is not _NOT_STRUCTLOG and method is not None:  # wrapped by wrap_for_formatter
            if self.logger is not None:
                logger = self.logger
            event = dict(cast(EventDict, record.msg))
            event["_record"] = record
            event["_from_structlog"] = True
        else:
            logger = self.logger
            method = record.levelname.lower()
            event = {"event": record.getMessage(), "_record": record, "_from_structlog": False}
            if record.exc_info:
                event["exc_info"] = record.exc_info
            if record.stack_info:
                event["stack_info"] = record.stack_info
            for processor in self.foreign_pre_chain or ():
                event = processor(logger, method, event)
        for processor in self.processors:
            event = processor(logger, method, event)
        if not isinstance(event, str):
            raise TypeError(f"the last log processor returned {type(event).__name__}, not the line")
        return event


class DailyJsonFileHandler(logging.Handler):
    """Appends to `<dir>/optbot-YYYYMMDD.jsonl`, the date being the Clock's IST date; rolls over daily.

    `flush_each_record`: a live session's line is on disk as soon as it is logged (a crash loses
    nothing said before it). A replay's file may be written through the stream's buffer instead: the
    same lines, flushed when the file rolls over or closes (`shutdown_logging`, or `logging.shutdown` at
    interpreter exit); a replay that is killed outright is run again, not recovered from its log."""

    def __init__(self, directory: Path, clock: Clock, *, flush_each_record: bool = True) -> None:
        super().__init__()
        self.directory = directory
        self.clock = clock
        self.flush_each_record = flush_each_record
        self._path: Path | None = None
        self._stream: IO[str] | None = None
        self._day_path: tuple[datetime, datetime, Path] | None = None  # [IST midnight, next), its file

    def current_path(self) -> Path:
        """The file of the clock's IST day, derived again only when the clock leaves that day (a
        backtest logs thousands of records a replayed year)."""
        now = self.clock.now_utc()
        cached = self._day_path
        if cached is not None and cached[0] <= now < cached[1]:
            return cached[2]
        day = to_ist(now).date()
        start = datetime.combine(day, time(), tzinfo=IST)
        path = self.directory / f"optbot-{day:%Y%m%d}.jsonl"
        self._day_path = (start, start + timedelta(days=1), path)
        return path

    def _open(self, path: Path) -> IO[str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(descriptor, "a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            path = self.current_path()
            self.acquire()
            try:
                if path is not self._path or self._stream is None:  # `current_path` keeps the day's Path
                    if self._stream is not None:
                        self._stream.close()
                    self._stream = self._open(path)
                    self._path = path
                self._stream.write(line + "\n")
                if self.flush_each_record:
                    self._stream.flush()
            finally:
                self.release()
        except Exception:  # a logging failure must never take the engine down
            self.handleError(record)

    def flush(self) -> None:
        self.acquire()
        try:
            if self._stream is not None:
                self._stream.flush()
        finally:
            self.release()

    def close(self) -> None:
        self.acquire()
        try:
            if self._stream is not None:
                self._stream.close()
                self._stream = None
        finally:
            self.release()
        super().close()


def _pre_chain(clock: Clock) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        _add_trace_id,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        _ClockTimestamper(clock),
    ]


def _formatter(renderer: Processor, clock: Clock) -> RedactingFormatter:
    return RedactingFormatter(
        foreign_pre_chain=_pre_chain(clock),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
    )


def configure_logging(
    settings: Settings,
    clock: Clock,
    log_dir: Path | None = None,
    console_stream: IO[str] | None = None,
    *,
    flush_each_record: bool = True,
) -> Path | None:
    """Configure structlog and stdlib logging; calling it again replaces the previous setup.

    Returns the JSON log file in use (None when the file sink is off). `flush_each_record=False` (a
    replay's log, see `JsonLogInFolder`) buffers the JSON file's writes; a live session flushes each line.
    """
    shutdown_logging()
    level = logging.getLevelName(settings.logging.level)
    root = logging.getLogger()
    root.setLevel(level)
    json_path: Path | None = None
    if settings.logging.json_file:
        directory = log_dir if log_dir is not None else settings.paths.resolve(settings.paths.logs_dir)
        file_handler = DailyJsonFileHandler(directory, clock, flush_each_record=flush_each_record)
        json_lines = structlog.processors.JSONRenderer(_dumps_sorted, sort_keys=True)
        file_handler.setFormatter(_formatter(json_lines, clock))
        file_handler.addFilter(ChattyLibrariesAsDebug())
        _installed_handlers.append(file_handler)
        json_path = file_handler.current_path()
    if settings.logging.console:
        stream = console_stream if console_stream is not None else sys.stderr
        console_handler = logging.StreamHandler(stream)
        colors = bool(getattr(stream, "isatty", lambda: False)())
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback, sort_keys=False
        )
        console_handler.setFormatter(_formatter(renderer, clock))
        console_handler.addFilter(ConsoleSummaryFilter())
        _installed_handlers.append(console_handler)
    for handler in _installed_handlers:
        handler.setLevel(level)
        root.addHandler(handler)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_pre_chain(clock),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return json_path


def _flush_before_fork() -> None:
    """A forked process (the backtest's worker pool) must not inherit a buffered file's unwritten
    lines: it would write them a second time when it closes its copy of the handler."""
    for handler in _installed_handlers:
        handler.flush()


os.register_at_fork(before=_flush_before_fork)


def shutdown_logging() -> None:
    """Detach and close the handlers `configure_logging` installed (flushes the JSON file)."""
    for handler in _installed_handlers:
        logging.getLogger().removeHandler(handler)
        handler.close()
    _installed_handlers.clear()


@dataclass(frozen=True)
class JsonLogInFolder:
    """An `on_clock` hook that sends a replay's log to the JSON files in `folder`, on the replay's
    clock, with the console off. A plain object, not a closure, so a backtest split over processes
    hands it to every worker: each logs where the one-process run does, never to the terminal. The
    file is written through a buffer (the same lines; flushed at roll-over, `shutdown_logging` and exit):
    a replay's log is read after the run, not tailed during it."""

    settings: Settings
    folder: Path

    def __call__(self, clock: Clock) -> None:
        logging_settings = self.settings.logging.model_copy(update={"console": False})
        configure_logging(
            self.settings.model_copy(update={"logging": logging_settings}),
            clock,
            self.folder,
            flush_each_record=False,
        )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structured logger; `name` is usually the module's `__name__`."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


__all__ = [
    "MASK",
    "DailyJsonFileHandler",
    "JsonLogInFolder",
    "bind_trace",
    "clear_secrets",
    "configure_logging",
    "current_trace_id",
    "get_logger",
    "redact_text",
    "redact_value",
    "register_secret",
    "shutdown_logging",
]

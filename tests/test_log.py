"""Logging: clock timestamps, daily JSON file, trace ids, and secrets never reaching any sink."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.config import load_settings
from optbot.core.clock import SimClock
from optbot.core.enums import OrderStatus, Side
from optbot.log import (
    MASK,
    DailyJsonFileHandler,
    JsonLogInFolder,
    RedactingFormatter,
    bind_trace,
    clear_secrets,
    configure_logging,
    current_trace_id,
    get_logger,
    redact_processor,
    redact_text,
    redact_value,
    register_secret,
    shutdown_logging,
)

START = datetime(2026, 8, 3, 3, 45, 0, 123000, tzinfo=UTC)  # 09:15:00.123 IST


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[SimClock, Path, io.StringIO]]:
    clock = SimClock(START)
    console = io.StringIO()
    settings_ = load_settings(None, {"paths": {"data_root": str(tmp_path)}, "logging": {"level": "DEBUG"}})
    configure_logging(settings_, clock, console_stream=console)
    yield clock, tmp_path / "logs", console
    clear_secrets()
    shutdown_logging()
    structlog.reset_defaults()
    logging.getLogger().setLevel(logging.WARNING)


def _lines(log_dir: Path, day: str = "20260803") -> list[dict[str, object]]:
    path = log_dir / f"optbot-{day}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_json_line_with_clock_timestamp(setup: tuple[SimClock, Path, io.StringIO]) -> None:
    clock, log_dir, console = setup
    get_logger("optbot.test").info("order_sent", order_id="A1", qty=75)
    (record,) = _lines(log_dir)
    assert record["event"] == "order_sent"
    assert record["timestamp"] == "2026-08-03T03:45:00.123Z"
    assert record["level"] == "info" and record["logger"] == "optbot.test" and record["qty"] == 75
    assert "order_sent" in console.getvalue()


def test_file_rolls_over_on_the_clock_date(setup: tuple[SimClock, Path, io.StringIO]) -> None:
    clock, log_dir, _ = setup
    get_logger("t").info("day_one")
    clock.advance_to(START + timedelta(days=1))
    get_logger("t").info("day_two")
    assert [line["event"] for line in _lines(log_dir, "20260803")] == ["day_one"]
    assert [line["event"] for line in _lines(log_dir, "20260804")] == ["day_two"]
    assert (log_dir / "optbot-20260804.jsonl").stat().st_mode & 0o077 == 0


def test_stdlib_logging_is_routed(setup: tuple[SimClock, Path, io.StringIO]) -> None:
    _, log_dir, console = setup
    logging.getLogger("httpx").warning("request to %s failed", "host")
    (record,) = _lines(log_dir)
    assert record["event"] == "request to host failed" and record["logger"] == "httpx"
    assert record["timestamp"] == "2026-08-03T03:45:00.123Z"
    assert "request to host failed" in console.getvalue()


def test_trace_id_binding(setup: tuple[SimClock, Path, io.StringIO]) -> None:
    _, log_dir, _ = setup
    assert current_trace_id() is None
    with bind_trace("trace-123"):
        assert current_trace_id() == "trace-123"
        get_logger("t").info("inside")
        logging.getLogger("lib").info("stdlib inside")
    get_logger("t").info("outside")
    assert current_trace_id() is None
    records = _lines(log_dir)
    assert [record.get("trace_id") for record in records] == ["trace-123", "trace-123", None]


async def test_trace_id_follows_tasks(setup: tuple[SimClock, Path, io.StringIO]) -> None:
    import asyncio

    async def child() -> str | None:
        return current_trace_id()

    with bind_trace("t-async"):
        task = asyncio.create_task(child())
    assert await task == "t-async"


SECRET = "S3cr3t-TOTP-BASE32XYZ"
PIN = "4821"
JWT = "eyJhbGciOiJIUzUxMiJ9.eyJ1c2VybmFtZSI6IkExMjMifQ.c2lnbmF0dXJlLXZhbHVl"


def test_secrets_never_reach_file_or_console(setup: tuple[SimClock, Path, io.StringIO]) -> None:
    _, log_dir, console = setup
    register_secret(SECRET)
    register_secret(PIN)
    log = get_logger("auth")
    log.info("login", detail=f"using totp {SECRET}", nested={"deep": [SECRET, {"x": f"pin={PIN}"}]})
    log.info("session", jwtToken=JWT, refreshToken="refresh-abcdef", feedToken="feed-123456", clientcode="A1")
    log.info("headers", headers={"Authorization": f"Bearer {JWT}", "X-PrivateKey": "k-987654"})
    log.info("free text with bearer", text="Authorization: Bearer abc.def.ghi")
    logging.getLogger("SmartApi").error("stdlib leak attempt %s", SECRET)

    class Leaky:
        def __repr__(self) -> str:
            return f"Leaky({SECRET})"

    log.info("object", obj=Leaky())
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError:
        log.exception("failed")
    text = (log_dir / "optbot-20260803.jsonl").read_text() + console.getvalue()
    for leaked in (SECRET, PIN, JWT, "refresh-abcdef", "feed-123456", "k-987654", "abc.def.ghi"):
        assert leaked not in text, leaked
    assert MASK in text
    assert "A1" in text  # ordinary values survive


def test_unregistered_short_value_is_not_masked_by_value() -> None:
    register_secret("12")
    try:
        assert redact_value("order 12 lots") == "order 12 lots"
        assert redact_value({"pin": "12"}) == {"pin": MASK}
    finally:
        clear_secrets()


SECRET_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="*")


@settings(max_examples=100, deadline=None)
@given(
    secret=st.text(alphabet=SECRET_ALPHABET, min_size=4, max_size=30),
    prefix=st.text(max_size=10),
    suffix=st.text(max_size=10),
)
def test_registered_secret_is_masked_anywhere(secret: str, prefix: str, suffix: str) -> None:
    register_secret(secret)
    try:
        event = {"a": f"{prefix}{secret}{suffix}", "b": [{"c": (secret,)}]}
        assert all(secret not in text for text in _strings(redact_value(event)))
    finally:
        clear_secrets()


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


def test_console_is_a_summary_and_the_file_keeps_library_requests_as_debug(tmp_path: Path) -> None:
    """One httpx line per REST call buried a paper run's console (20,866 of 21,059 lines)."""
    console = io.StringIO()
    settings_ = load_settings(None, {"paths": {"data_root": str(tmp_path)}})  # level INFO, the default
    configure_logging(settings_, SimClock(START), console_stream=console)
    try:
        logging.getLogger("httpx").info('HTTP Request: GET http://127.0.0.1/x "HTTP/1.1 200 OK"')
        logging.getLogger("httpcore.connection").info("connect_tcp.started")
        logging.getLogger("httpx").warning("HTTP retry budget exhausted")
        get_logger("optbot.engine").info("engine_order: BUY 75 NIFTY (ENTRY) sent")
    finally:
        shutdown_logging()
        structlog.reset_defaults()
        logging.getLogger().setLevel(logging.WARNING)
    shown = console.getvalue()
    assert "HTTP Request" not in shown and "connect_tcp" not in shown
    assert "retry budget exhausted" in shown and "engine_order" in shown
    records = _lines(tmp_path / "logs")
    levels = {str(record["event"])[:12]: record["level"] for record in records}
    assert levels["HTTP Request"] == "debug" and levels["connect_tcp."] == "debug"
    assert levels["HTTP retry b"] == "warning" and levels["engine_order"] == "info"


def test_the_file_changes_exactly_at_ist_midnight(setup: tuple[SimClock, Path, io.StringIO]) -> None:
    clock, log_dir, _ = setup
    midnight_utc = datetime(2026, 8, 3, 18, 30, tzinfo=UTC)  # 00:00 IST on 4 August
    clock.advance_to(midnight_utc - timedelta(microseconds=1))
    get_logger("t").info("last_of_day_one")
    clock.advance_to(midnight_utc)
    get_logger("t").info("first_of_day_two")
    assert [line["event"] for line in _lines(log_dir, "20260803")] == ["last_of_day_one"]
    assert [line["event"] for line in _lines(log_dir, "20260804")] == ["first_of_day_two"]


class _BothWays(logging.Handler):
    """Formats each record with the installed formatter and with structlog's own
    `ProcessorFormatter.format` (plus the final scrub) over the same processors: the reference."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.formatter_ = formatter
        self.pairs: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        reference = redact_text(structlog.stdlib.ProcessorFormatter.format(self.formatter_, record))  # type: ignore[arg-type]
        self.pairs.append((self.formatter_.format(record), reference))


def test_the_formatters_render_exactly_what_structlogs_processor_formatter_renders(
    setup: tuple[SimClock, Path, io.StringIO],
) -> None:
    """The JSON file's and the console's formatters skip the record copy and the base formatter pass
    of `ProcessorFormatter.format`: every line stays byte-identical to what it rendered."""
    clock, _, _ = setup
    handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, RedactingFormatter)]
    assert len(handlers) == 2  # the JSON file and the console
    checks = [_BothWays(handler.formatter) for handler in handlers if handler.formatter is not None]
    for check in checks:
        logging.getLogger().addHandler(check)
    register_secret(SECRET)
    try:
        structured = get_logger("optbot.risk")
        structured.info("risk_decision", approved=True, reasons=["a", "ü ☃"], requested=75, price=1.5)
        structured.info("enums", side=Side.BUY, sides=[Side.SELL], mapping={"to": OrderStatus.OPEN})
        with bind_trace("trace-9"):
            structured.warning("with %s args", "positional", nested={"deep": [1, None, {"pin": "4821"}]})
            logging.getLogger("optbot.engine").info("engine_%s: %s", "order", f"sent {SECRET}")
        structlog.contextvars.bind_contextvars(session="s1")
        logging.getLogger("httpx").info("HTTP Request: GET %s", "http://127.0.0.1/x")
        logging.getLogger("lib").info("extra fields", extra={"custom": 5, "token": JWT})
        structlog.contextvars.clear_contextvars()
        clock.advance_to(START + timedelta(milliseconds=7))
        try:
            raise ValueError(f"bad {SECRET}")
        except ValueError:
            structured.exception("failed", value=float("nan"))
            logging.getLogger("lib").exception("stdlib failed")
        logging.getLogger("lib").info("stack", stack_info=True)
    finally:
        for check in checks:
            logging.getLogger().removeHandler(check)
    pairs = [pair for check in checks for pair in check.pairs]
    assert len(pairs) == 2 * 9
    for rendered, reference in pairs:
        assert rendered == reference


def test_redaction_gives_str_subclasses_back_as_plain_str() -> None:
    """A substitution returns a plain str, so an enum value reached the renderers as its text (the
    console would show an enum's repr otherwise); a text no credential shape can match keeps that."""
    for text in (Side.BUY, OrderStatus.OPEN):
        redacted = redact_text(text)
        assert type(redacted) is str and redacted == text.value
    assert type(redact_value({"side": Side.SELL})["side"]) is str


def _log_two_days(clock: SimClock) -> None:
    structured = get_logger("optbot.risk")
    for index in range(50):
        structured.info("risk_decision", approved=index % 2 == 0, requested=index)
        logging.getLogger("optbot.engine").info("engine_%s: %s", "order", f"sent {index}")
    clock.advance_to(START + timedelta(days=1))
    structured.info("next_day", index=1)


def test_a_replays_buffered_file_holds_the_same_lines_as_a_flushed_one(tmp_path: Path) -> None:
    """The replay's buffered JSON file ends byte-identical to the live, flushed-per-line one."""
    files: dict[bool, list[bytes]] = {}
    for flush_each_record in (True, False):
        clock = SimClock(START)
        settings_ = load_settings(None, {"logging": {"console": False}})
        folder = tmp_path / str(flush_each_record)
        try:
            configure_logging(settings_, clock, folder, flush_each_record=flush_each_record)
            _log_two_days(clock)
        finally:
            shutdown_logging()
            structlog.reset_defaults()
        files[flush_each_record] = [path.read_bytes() for path in sorted(folder.iterdir())]
    assert len(files[True]) == 2 and files[True][0].count(b"\n") == 100
    assert files[False] == files[True]


def test_a_live_line_is_on_disk_when_logged_and_a_replays_when_flushed(tmp_path: Path) -> None:
    clock = SimClock(START)
    settings_ = load_settings(None, {"logging": {"console": False}})
    path = tmp_path / "live" / "optbot-20260803.jsonl"
    try:
        configure_logging(settings_, clock, tmp_path / "live")
        get_logger("optbot.test").info("live_line")
        assert b"live_line" in path.read_bytes()  # no flush or close needed
        JsonLogInFolder(settings_, tmp_path / "replay")(clock)  # the backtest's hook: buffered
        get_logger("optbot.test").info("replay_line")
        replay = tmp_path / "replay" / "optbot-20260803.jsonl"
        assert b"replay_line" not in replay.read_bytes()  # still in the stream's buffer
        for handler in logging.getLogger().handlers:  # what logging.shutdown does at interpreter exit
            if isinstance(handler, DailyJsonFileHandler):
                handler.flush()
        assert b"replay_line" in replay.read_bytes()
    finally:
        shutdown_logging()
        structlog.reset_defaults()


def test_a_forked_worker_never_writes_the_parents_buffered_lines_again(tmp_path: Path) -> None:
    """The pool's workers are forked: a buffered line still in the parent's stream would be written
    again by the child when it closes its copy of the handler; it is flushed before every fork."""
    clock = SimClock(START)
    settings_ = load_settings(None, {"logging": {"console": False}})
    try:
        JsonLogInFolder(settings_, tmp_path)(clock)
        get_logger("optbot.test").info("parent_line")
        child = os.fork()
        if child == 0:  # the worker: drops the inherited handlers (closing them), as configure_logging does
            shutdown_logging()
            os._exit(0)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        shutdown_logging()
        structlog.reset_defaults()
    assert (tmp_path / "optbot-20260803.jsonl").read_bytes().count(b"parent_line") == 1


def _per_value(event: dict[str, object]) -> dict[str, object]:
    """What `redact_processor` gives, value by value (its general path)."""
    return {key: MASK if key == "pin" else redact_value(value) for key, value in event.items()}


EVENT_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["BeArEr\tabc.def", "eyJhbGciOi.eyJzdWIiOi.sig", "x-bearer y", "4821"]),
)


@settings(max_examples=200, deadline=None)
@given(
    values=st.dictionaries(
        st.sampled_from(["event", "pin", "reason", "reasons", "count", "price", "flag", "none"]),
        st.one_of(
            EVENT_TEXT,
            st.lists(st.one_of(EVENT_TEXT, st.integers(), st.none()), max_size=3),
            st.tuples(EVENT_TEXT, st.floats(allow_nan=False)),
            st.integers(),
            st.booleans(),
            st.none(),
        ),
    ),
    secret=st.sampled_from([None, "4821", "c.def", "Bearer"]),
)
def test_an_event_passed_as_it_is_would_not_have_been_changed_value_by_value(
    values: dict[str, object], secret: str | None
) -> None:
    """`redact_processor` passes an event whose joined texts hold no secret and no credential shape
    untouched; whatever it passes or rewrites is what masking each value on its own gives."""
    register_secret(secret)
    try:
        redacted = redact_processor(None, "info", dict(values))
        assert json.dumps(redacted, sort_keys=True) == json.dumps(_per_value(values), sort_keys=True)
    finally:
        clear_secrets()

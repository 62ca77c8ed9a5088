"""A stand-in for NSE's holiday-list endpoint on 127.0.0.1, for calendar-sync tests.

It behaves like nseindia.com where it matters: the JSON API answers 403 unless the client first got
the cookie the home page sets, and the body is NSE's shape (rows per segment key, "DD-Mon-YYYY").
The 2026 rows are the packaged calendar's 2026 holidays; the 2027 rows are a made-up but plausible
list for tests (not NSE's published 2027 list).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from optbot.calendar import Segment, get_calendar

COOKIE = "nsit=fixture-cookie"
API_PATH = "/api/holiday-master"

#: Test-only 2027 holidays (weekdays), both segments.
FIXTURE_2027: Mapping[date, str] = {
    date(2027, 1, 26): "Republic Day",
    date(2027, 3, 8): "Mahashivratri (fixture)",
    date(2027, 3, 22): "Holi (fixture)",
    date(2027, 3, 26): "Good Friday (fixture)",
    date(2027, 4, 14): "Dr. Baba Saheb Ambedkar Jayanti",
    date(2027, 5, 3): "Maharashtra Day observed (fixture)",
    date(2027, 8, 16): "Parsi New Year (fixture)",
    date(2027, 9, 6): "Ganesh Chaturthi (fixture)",
    date(2027, 10, 29): "Diwali Balipratipada (fixture)",
    date(2027, 11, 15): "Guru Nanak Jayanti (fixture)",
}
#: Weekend rows NSE sometimes lists (a holiday falling on a Saturday/Sunday); they close nothing.
FIXTURE_2027_WEEKEND: Mapping[date, str] = {
    date(2027, 8, 15): "Independence Day",
    date(2027, 12, 25): "Christmas",
}


def nse_row(day: date, name: str, number: int) -> dict[str, Any]:
    return {
        "tradingDate": f"{day.day:02d}-{day:%b}-{day.year}",
        "weekDay": f"{day:%A}",
        "description": name,
        "Sr_no": number,
    }


def packaged_2026() -> dict[date, str]:
    calendar = get_calendar()
    days = calendar.holidays(date(2026, 1, 1), date(2026, 12, 31), Segment.FO)
    return {day: calendar.holiday_name(day, Segment.FO) or "holiday" for day in days}


def nse_payload(days: Mapping[date, str] | None = None) -> dict[str, Any]:
    """NSE's shape for `days` (default: packaged 2026 + fixture 2027, weekend rows included)."""
    chosen = dict(days) if days is not None else {**packaged_2026(), **FIXTURE_2027, **FIXTURE_2027_WEEKEND}
    rows = [nse_row(day, name, number) for number, (day, name) in enumerate(sorted(chosen.items()), 1)]
    return {"CM": rows, "FO": rows, "CD": rows[:3], "COM": []}


@dataclass
class NseHolidayServer:
    """Serves `body` (bytes) at API_PATH with `status`; the API needs the home page's cookie first."""

    body: bytes = b""
    status: int = 200
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def serve_json(self, payload: object) -> None:
        self.body, self.status = json.dumps(payload).encode(), 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PATH}?type=trading"


@contextmanager
def nse_holiday_server() -> Iterator[NseHolidayServer]:
    """A running server on 127.0.0.1, port chosen by the OS; stopped on exit."""
    state = NseHolidayServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if self.path == "/":
                self._answer(200, b"<html>NSE</html>", "text/html", {"Set-Cookie": f"{COOKIE}; Path=/"})
            elif not self.path.startswith(API_PATH):
                self._answer(404, b"not found", "text/plain")
            elif COOKIE not in (self.headers.get("Cookie") or "") or "Mozilla" not in (
                self.headers.get("User-Agent") or ""
            ):
                self._answer(403, b'{"error":"Access Denied"}', "application/json")
            else:
                self._answer(state.status, state.body, "application/json")

        def _answer(self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

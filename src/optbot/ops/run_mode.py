"""What a session is, in the words its daily report, dashboard badge and status file use.

"live" alone means orders went to Angel One. The live adapter pointed anywhere else (the local
simulator on loopback, as `optbot demo` and the soak campaigns run it, or some other host) says so, and
the demo says it is the demo: a report that read "live" for a simulated day would be a false record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from optbot.broker.angelone.rest import is_loopback_host
from optbot.broker.paper.broker import PaperBroker

if TYPE_CHECKING:
    from optbot.engine.core import TradingEngine

#: Hosts under these domains are Angel One's own (SmartAPI's REST root is apiconnect.angelone.in).
ANGEL_ONE_DOMAINS = ("angelone.in", "angelbroking.com")
#: `optbot demo`: the live path against the local simulator replaying a sample session.
DEMO_MODE = "demo (simulator)"


def session_mode(paper: bool, rest_base_url: str) -> str:
    """The session's kind, paper or live, with the endpoint named when it is not Angel One's: "live"
    against Angel One, "live (loopback simulator 127.0.0.1:8123)", "live (endpoint example.net,
    not Angel One)"."""
    kind = "paper" if paper else "live"
    parts = urlsplit(rest_base_url)
    host = (parts.hostname or "").lower()
    if _is_angel_one(host):
        return kind
    where = f"{host}:{parts.port}" if parts.port is not None else host or rest_base_url
    if is_loopback_host(host):
        return f"{kind} (loopback simulator {where})"
    return f"{kind} (endpoint {where}, not Angel One)"


def engine_mode(engine: TradingEngine) -> str:
    """`session_mode` of an engine: paper when its broker is the paper broker, else live, against the
    REST endpoint its settings name (the caller that knows better, e.g. the demo, passes its own)."""
    return session_mode(isinstance(engine.broker, PaperBroker), engine.settings.broker.rest_base_url)


def _is_angel_one(host: str) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in ANGEL_ONE_DOMAINS)


__all__ = ["ANGEL_ONE_DOMAINS", "DEMO_MODE", "engine_mode", "session_mode"]

"""Listening sockets for the dashboard and /metrics: a port in use is a start-up error, never silence.

A second optbot (or anything else) on the dashboard's port used to leave the bot trading without its
dashboard and kill switch. `ensure_ports_free` is checked before a session starts and `bind_listener`
binds the real socket, both raising `PortUnavailable` with one line naming the port and the setting.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from optbot.config import Settings
from optbot.core.errors import UserError

LISTEN_BACKLOG = 128


class PortUnavailable(UserError):
    """A configured listening port cannot be bound (in use, or not permitted)."""


@dataclass(frozen=True, slots=True)
class ListenSetting:
    setting: str  # e.g. "dashboard.port"
    host: str
    port: int

    @property
    def env_name(self) -> str:
        section, key = self.setting.split(".")
        return f"OPTBOT__{section.upper()}__{key.upper()}"


def configured_listeners(settings: Settings) -> list[ListenSetting]:
    """The ports `optbot run` will listen on (enabled servers only)."""
    listeners: list[ListenSetting] = []
    if settings.dashboard.enabled:
        listeners.append(ListenSetting("dashboard.port", settings.dashboard.host, settings.dashboard.port))
    if settings.metrics.enabled:
        listeners.append(ListenSetting("metrics.port", settings.metrics.host, settings.metrics.port))
    return listeners


def unavailable(listener: ListenSetting, exc: OSError) -> PortUnavailable:
    return PortUnavailable(
        f"{listener.setting} {listener.port} on {listener.host} is unavailable ({exc.strerror or exc}): "
        f"stop whatever listens there or set {listener.setting} (env {listener.env_name}) to a free port"
    )


def bind_listener(listener: ListenSetting) -> socket.socket:
    """A bound, listening TCP socket for `listener` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine; a listener is not
        sock.bind((listener.host, listener.port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise unavailable(listener, exc) from None
    return sock


def ensure_ports_free(settings: Settings) -> None:
    """Refuse to start when a configured port is taken (checked again when the servers bind)."""
    for listener in configured_listeners(settings):
        if listener.port != 0:
            bind_listener(listener).close()


__all__ = [
    "ListenSetting",
    "PortUnavailable",
    "bind_listener",
    "configured_listeners",
    "ensure_ports_free",
    "unavailable",
]

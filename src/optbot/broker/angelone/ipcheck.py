"""Startup check: will orders leave from the static IP registered with the API key? (reference §1)

Since 2025 the broker rejects order and GTT writes from any other source address for static-IP API
keys. The outbound local address toward the REST host is found with a connected UDP socket (no
packet is sent). Behind NAT the public address is not visible locally, so the configured
`broker.client_public_ip` is the operator's statement of it.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from optbot.config.sections.broker import BrokerSettings

log = logging.getLogger("optbot.broker.angelone.ipcheck")

SourceAddressProbe = Callable[[str, int], str | None]


def outbound_address(host: str, port: int) -> str | None:
    """The local address the kernel would use to reach host:port (UDP connect sends nothing)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError:
        return None
    for family, kind, proto, _, address in infos:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.connect(address)
                return str(probe.getsockname()[0])
        except OSError:
            continue
    return None


def _is_private(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return parsed.is_private or parsed.is_loopback or parsed.is_link_local


def static_ip_warning(settings: BrokerSettings, probe: SourceAddressProbe = outbound_address) -> str | None:
    """A warning text when orders would leave from an address other than `broker.static_ip`."""
    if not settings.warn_on_ip_mismatch or not settings.static_ip.strip():
        return None
    registered = settings.static_ip.strip()
    parts = urlsplit(settings.rest_base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    source = probe(host, port)
    if source is None:
        return (
            f"could not determine the address orders leave from (toward {host}); "
            f"registered static IP {registered}"
        )
    if source == registered:
        return None
    if _is_private(source):
        declared = settings.client_public_ip.strip()
        if declared == registered:
            return None
        if declared:
            return (
                f"orders would leave through NAT from public IP {declared} (broker.client_public_ip), "
                f"but the API key is registered for {registered}: the broker will reject orders"
            )
        return (
            f"orders leave from private address {source} behind NAT; set broker.client_public_ip to the "
            f"public address to confirm it matches the registered static IP {registered}"
        )
    return (
        f"orders would leave from {source}, but the API key is registered for static IP {registered}: "
        "the broker will reject order and GTT writes"
    )


def warn_if_ip_mismatch(settings: BrokerSettings, probe: SourceAddressProbe = outbound_address) -> str | None:
    """Log the warning (if any) at WARNING level and return it for the startup report."""
    warning = static_ip_warning(settings, probe)
    if warning:
        log.warning("static IP check: %s", warning)
    return warning

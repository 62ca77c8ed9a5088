"""Is this machine sending orders from a static IP registered with the API key? (reference §1)

SEBI / Angel One reject order and GTT writes from any other source address. The check gathers:
- every address on every interface (`psutil.net_if_addrs`);
- the local address the kernel picks toward the broker's REST host (a connected UDP socket, no
  packet sent);
- optionally, the public address seen from outside, from `broker.public_ip_echo_url` (never
  queried when empty, which is the default).

Verdict: PASS when the address orders leave from (the echoed public address, else the outbound
local address) is registered; FAIL when it is known and is not; UNKNOWN when it cannot be known
(behind NAT with no echo URL, or the echo failed) and when no registered IP is configured (then
nothing is probed or fetched). Every message names the addresses involved. Health checks call
`check_static_ip` (or `check_static_ip_async` on an event loop); `optbot auth status` prints it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

import httpx
import orjson
import psutil

from optbot.broker.angelone.ipcheck import SourceAddressProbe, outbound_address
from optbot.config.sections.broker import BrokerSettings

InterfaceLister = Callable[[], list[tuple[str, str]]]
PublicIpFetcher = Callable[[str, float], str]


class StaticIpVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StaticIpCheck:
    verdict: StaticIpVerdict
    message: str
    registered: tuple[str, ...]
    interface_addresses: tuple[tuple[str, str], ...]  # (interface, address)
    outbound_address: str | None
    public_address: str | None

    @property
    def passed(self) -> bool:
        return self.verdict is StaticIpVerdict.PASS

    def line(self) -> str:
        return f"static IP: {self.verdict.value.upper()} - {self.message}"


class PublicIpEchoError(Exception):
    """The echo URL did not answer with an IP address."""


def _normalise(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.split("%", 1)[0].strip()))
    except ValueError:
        return None


#: Addresses that only exist behind NAT (RFC 1918, carrier-grade NAT, IPv6 unique-local).
NAT_NETWORKS = tuple(
    ipaddress.ip_network(text)
    for text in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _is_private(address: str) -> bool:
    """Behind NAT or not routable (so not what the broker sees); documentation ranges count as public."""
    parsed = ipaddress.ip_address(address)
    in_nat_range = any(parsed.version == network.version and parsed in network for network in NAT_NETWORKS)
    return in_nat_range or parsed.is_loopback or parsed.is_link_local


def local_interface_addresses() -> list[tuple[str, str]]:
    """(interface, address) for every IPv4/IPv6 address on this machine."""
    found = []
    for interface, addresses in psutil.net_if_addrs().items():
        for entry in addresses:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                address = _normalise(entry.address)
                if address is not None:
                    found.append((interface, address))
    return found


def fetch_public_ip(url: str, timeout_seconds: float) -> str:
    """GET the echo URL (TLS verified); the body is the address as text, or JSON {"ip": ...}."""
    try:
        response = httpx.get(url, timeout=timeout_seconds, verify=True, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise PublicIpEchoError(f"{url} could not be reached ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise PublicIpEchoError(f"{url} answered HTTP {response.status_code}")
    text = response.text.strip()
    if text.startswith("{"):
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise PublicIpEchoError(f"{url} answered malformed JSON") from None
        text = str(body.get("ip", "")) if isinstance(body, dict) else ""
    address = _normalise(text)
    if address is None:
        raise PublicIpEchoError(f"{url} answered {text[:60]!r}, which is not an IP address")
    return address


def registered_addresses(settings: BrokerSettings) -> tuple[str, ...]:
    """`broker.registered_static_ips` plus the older single `broker.static_ip`, de-duplicated."""
    candidates = [*settings.registered_static_ips, settings.static_ip]
    normalised = (_normalise(text) for text in candidates if text.strip())
    return tuple(dict.fromkeys(address for address in normalised if address is not None))


def _broker_endpoint(settings: BrokerSettings) -> tuple[str, int]:
    parts = urlsplit(settings.rest_base_url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _verdict_from_public(public: str, registered: tuple[str, ...], url: str) -> tuple[StaticIpVerdict, str]:
    listed = ", ".join(registered)
    if public in registered:
        return StaticIpVerdict.PASS, f"public address {public} (from {url}) is registered ({listed})"
    return (
        StaticIpVerdict.FAIL,
        f"public address {public} (from {url}) is not a registered static IP ({listed}): "
        "the broker will reject order and GTT writes",
    )


def _verdict_from_local(
    outbound: str | None,
    interfaces: list[tuple[str, str]],
    registered: tuple[str, ...],
    host: str,
) -> tuple[StaticIpVerdict, str]:
    listed = ", ".join(registered)
    if outbound is not None and outbound in registered:
        return StaticIpVerdict.PASS, f"orders to {host} leave from {outbound}, a registered static IP"
    on_interfaces = [f"{address} on {name}" for name, address in interfaces if address in registered]
    if outbound is None:
        where = f"; registered {', '.join(on_interfaces)}" if on_interfaces else ""
        return (
            StaticIpVerdict.UNKNOWN,
            f"could not find the address orders to {host} leave from (registered {listed}{where})",
        )
    if on_interfaces:
        return (
            StaticIpVerdict.FAIL,
            f"registered {', '.join(on_interfaces)}, but orders to {host} leave from {outbound}: "
            "fix the route or source address, or the broker rejects order writes",
        )
    if not _is_private(outbound):
        return (
            StaticIpVerdict.FAIL,
            f"orders to {host} leave from public address {outbound}, not a registered static IP ({listed})",
        )
    return (
        StaticIpVerdict.UNKNOWN,
        f"orders to {host} leave from private address {outbound} behind NAT and no registered IP "
        f"({listed}) is on this machine; set broker.public_ip_echo_url to verify the public address",
    )


def check_static_ip(
    settings: BrokerSettings,
    *,
    interfaces: InterfaceLister = local_interface_addresses,
    probe: SourceAddressProbe = outbound_address,
    fetch_public: PublicIpFetcher = fetch_public_ip,
) -> StaticIpCheck:
    """Blocking (a UDP connect and, only if configured, one HTTP GET); see the module docstring."""
    registered = registered_addresses(settings)
    if not registered:
        message = "not checked: no registered static IP configured (broker.registered_static_ips)"
        return StaticIpCheck(StaticIpVerdict.UNKNOWN, message, (), (), None, None)
    host, port = _broker_endpoint(settings)
    local = interfaces()
    outbound_raw = probe(host, port)
    outbound = _normalise(outbound_raw) if outbound_raw else None
    public: str | None = None
    echo_problem = ""
    if settings.public_ip_echo_url:
        try:
            public = fetch_public(settings.public_ip_echo_url, settings.public_ip_echo_timeout_seconds)
        except PublicIpEchoError as exc:
            echo_problem = f"; public-IP echo failed: {exc}"
    if public is not None:
        verdict, message = _verdict_from_public(public, registered, settings.public_ip_echo_url)
    else:
        verdict, message = _verdict_from_local(outbound, local, registered, host)
        message += echo_problem
    return StaticIpCheck(verdict, message, registered, tuple(local), outbound, public)


async def check_static_ip_async(
    settings: BrokerSettings,
    *,
    interfaces: InterfaceLister = local_interface_addresses,
    probe: SourceAddressProbe = outbound_address,
    fetch_public: PublicIpFetcher = fetch_public_ip,
) -> StaticIpCheck:
    """`check_static_ip` off the event loop (the echo request may take up to its timeout)."""
    return await asyncio.to_thread(
        check_static_ip, settings, interfaces=interfaces, probe=probe, fetch_public=fetch_public
    )

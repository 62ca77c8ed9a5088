"""The static-IP check: registered IPs vs interfaces, the outbound address and a loopback echo server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pydantic
import pytest

from optbot.broker.angelone.static_ip import (
    StaticIpVerdict,
    check_static_ip,
    check_static_ip_async,
    fetch_public_ip,
)
from optbot.config.sections.broker import BrokerSettings

REGISTERED = "203.0.113.7"
INTERFACES = [("lo", "127.0.0.1"), ("eth0", "192.168.1.5"), ("eth0", "fe80::1")]


def settings(**overrides: object) -> BrokerSettings:
    return BrokerSettings(
        rest_base_url="https://broker.example", registered_static_ips=[REGISTERED], **overrides
    )


def never_called(*_: object) -> str:
    raise AssertionError("must not be called")


def no_interfaces_expected() -> list[tuple[str, str]]:
    raise AssertionError("must not be called")


class EchoHandler(BaseHTTPRequestHandler):
    replies: dict[str, tuple[int, bytes]] = {
        "/text": (200, f"{REGISTERED}\n".encode()),
        "/json-other": (200, b'{"ip": "198.51.100.9"}'),
        "/garbage": (200, b"<html>hello</html>"),
        "/broken": (500, b"oops"),
        "/ipv6": (200, b"2001:DB8:0::1"),
    }

    def do_GET(self) -> None:
        status, body = self.replies.get(self.path, (404, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(5)


def test_not_configured_probes_nothing() -> None:
    check = check_static_ip(
        BrokerSettings(public_ip_echo_url="http://127.0.0.1:9/x"),
        interfaces=no_interfaces_expected,
        probe=never_called,
        fetch_public=never_called,
    )
    assert check.verdict is StaticIpVerdict.UNKNOWN and "registered_static_ips" in check.message


def test_outbound_address_registered_passes() -> None:
    check = check_static_ip(
        settings(), interfaces=lambda: [("eth0", REGISTERED)], probe=lambda h, p: REGISTERED
    )
    assert check.passed and REGISTERED in check.message and "broker.example" in check.message


def test_registered_ip_on_another_interface_fails_naming_both() -> None:
    check = check_static_ip(
        settings(), interfaces=lambda: [*INTERFACES, ("eth1", REGISTERED)], probe=lambda h, p: "192.168.1.5"
    )
    assert check.verdict is StaticIpVerdict.FAIL
    assert f"{REGISTERED} on eth1" in check.message and "leave from 192.168.1.5" in check.message


def test_unregistered_public_outbound_fails() -> None:
    check = check_static_ip(settings(), interfaces=lambda: INTERFACES, probe=lambda h, p: "198.51.100.9")
    assert check.verdict is StaticIpVerdict.FAIL and "198.51.100.9" in check.message


def test_behind_nat_without_echo_is_unknown() -> None:
    check = check_static_ip(settings(), interfaces=lambda: INTERFACES, probe=lambda h, p: "192.168.1.5")
    assert check.verdict is StaticIpVerdict.UNKNOWN
    assert "behind NAT" in check.message and "public_ip_echo_url" in check.message
    nowhere = check_static_ip(settings(), interfaces=lambda: INTERFACES, probe=lambda h, p: None)
    assert nowhere.verdict is StaticIpVerdict.UNKNOWN and "could not find" in nowhere.message


def test_legacy_static_ip_and_ipv6_are_normalised() -> None:
    legacy = BrokerSettings(rest_base_url="https://broker.example", static_ip="2001:db8:0:0::1")
    check = check_static_ip(legacy, interfaces=lambda: [], probe=lambda h, p: "2001:DB8::1")
    assert check.passed and check.registered == ("2001:db8::1",)


@pytest.mark.parametrize(
    ("path", "verdict", "fragment"),
    [
        ("/text", StaticIpVerdict.PASS, f"public address {REGISTERED}"),
        ("/json-other", StaticIpVerdict.FAIL, "198.51.100.9"),
        ("/garbage", StaticIpVerdict.UNKNOWN, "not an IP address"),
        ("/broken", StaticIpVerdict.UNKNOWN, "HTTP 500"),
    ],
)
def test_public_ip_echo_on_loopback(
    echo_url: str, path: str, verdict: StaticIpVerdict, fragment: str
) -> None:
    check = check_static_ip(
        settings(public_ip_echo_url=f"{echo_url}{path}"),
        interfaces=lambda: INTERFACES,
        probe=lambda h, p: "192.168.1.5",
    )
    assert check.verdict is verdict and fragment in check.message, check.message


def test_fetch_public_ip_normalises_ipv6(echo_url: str) -> None:
    assert fetch_public_ip(f"{echo_url}/ipv6", 2.0) == "2001:db8::1"


async def test_async_variant() -> None:
    check = await check_static_ip_async(settings(), interfaces=lambda: [], probe=lambda h, p: REGISTERED)
    assert check.passed


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(pydantic.ValidationError, match="'10.0.0' is not an IPv4 or IPv6 address"):
        BrokerSettings(registered_static_ips=["10.0.0"])
    with pytest.raises(pydantic.ValidationError, match="must be an http:// or https:// URL"):
        BrokerSettings(public_ip_echo_url="ftp://x")

"""REST client: headers, envelope dialects, error mapping, retries of reads, never of order writes."""

from __future__ import annotations

import re

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.broker.angelone.endpoints import ENDPOINTS, SendKind
from optbot.broker.angelone.rest import AngelOneRestClient, check_base_url, interpret_response, mac_address
from optbot.broker.errors import (
    AuthenticationFailed,
    BrokerError,
    BrokerRejected,
    RateLimited,
    TokenExpired,
    TransientError,
    UnresolvedOrder,
)
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock
from optbot.core.errors import UserError
from optbot.test_kit.broker import RATE_LIMIT_BODY, business_failure, gateway_failure, success

from .helpers import START, drive, make_client

PLACE_BODY = {"variety": "NORMAL", "ordertag": "t1"}


def _reply(status: int, content: bytes) -> httpx.Response:
    return httpx.Response(status, content=content)


async def test_every_reference_header_is_sent() -> None:
    client, recorder, _ = make_client(
        lambda r: _reply(200, success({"x": 1})), client_public_ip="203.0.113.7"
    )
    assert await client.call("profile") == {"x": 1}
    headers = recorder.requests[0].headers
    assert headers["X-PrivateKey"] == "api-key-123"
    assert headers["Authorization"] == "Bearer jwt-abc"
    assert headers["X-UserType"] == "USER" and headers["X-SourceID"] == "WEB"
    assert headers["X-ClientLocalIP"] == "127.0.0.1" and headers["X-ClientPublicIP"] == "203.0.113.7"
    assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", headers["X-MACAddress"])
    assert headers["Content-Type"] == "application/json" and headers["Accept"] == "application/json"
    assert recorder.requests[0].method == "GET"
    assert recorder.requests[0].url.path == "/rest/secure/angelbroking/user/v1/getProfile"
    assert not recorder.requests[0].url.query
    await client.aclose()


async def test_login_sends_no_authorization_and_bearer_prefix_is_normalised() -> None:
    client, recorder, _ = make_client(lambda r: _reply(200, success({})), token="Bearer jwt-xyz")
    assert client.access_token == "jwt-xyz"
    await client.call("login", {"clientcode": "A1"})
    assert "Authorization" not in recorder.requests[0].headers
    await client.aclose()


def _as_httpx_builds_it(
    client: AngelOneRestClient, endpoint_name: str, body: dict[str, str] | None, suffix: str = ""
) -> httpx.Request:
    endpoint = ENDPOINTS[endpoint_name]
    path = endpoint.path + (f"/{suffix}" if suffix else "")
    content = orjson.dumps(body) if endpoint.method == "POST" else None
    return client._http.build_request(  # the general path the prepared request stands in for
        endpoint.method, path, content=content, headers=client.headers_for(endpoint)
    )


def _same_request(ours: httpx.Request, theirs: httpx.Request) -> None:
    assert ours.method == theirs.method
    assert ours.url == theirs.url
    assert ours.headers.multi_items() == theirs.headers.multi_items()
    assert ours.content == theirs.content
    assert ours.extensions == theirs.extensions


@pytest.mark.parametrize(
    ("endpoint_name", "body", "suffix"),
    [
        ("place_order", PLACE_BODY, ""),
        ("login", {"clientcode": "A1"}, ""),
        ("order_book", None, ""),
        ("order_details", None, "250105000000001"),
    ],
)
async def test_prepared_request_is_the_one_httpx_would_build(
    endpoint_name: str, body: dict[str, str] | None, suffix: str
) -> None:
    client, _, _ = make_client(lambda r: _reply(200, success({})))
    for _ in range(2):  # built from parts prepared on first use, then from the kept parts
        ours = client.build_request(ENDPOINTS[endpoint_name], body, suffix)
        _same_request(ours, _as_httpx_builds_it(client, endpoint_name, body, suffix))
    await client.aclose()


async def test_prepared_headers_follow_a_new_session_token_and_api_key() -> None:
    client, recorder, _ = make_client(lambda r: _reply(200, success({"orderid": "1"})))
    await client.call("place_order", PLACE_BODY)
    client.set_access_token("jwt-renewed")
    client.set_api_key("api-key-rotated")
    await client.call("place_order", PLACE_BODY)
    client.set_access_token(None)
    await client.call("login", {"clientcode": "A1"})
    first, renewed, login = (request.headers for request in recorder.requests)
    assert first["Authorization"] == "Bearer jwt-abc" and first["X-PrivateKey"] == "api-key-123"
    assert renewed["Authorization"] == "Bearer jwt-renewed" and renewed["X-PrivateKey"] == "api-key-rotated"
    assert "Authorization" not in login and login["X-PrivateKey"] == "api-key-rotated"
    await client.aclose()


async def test_cookies_the_broker_sets_are_sent_back_like_httpx_does() -> None:
    cookie = {"set-cookie": "AWSALB=affinity-1; Path=/"}
    client, recorder, _ = make_client(lambda r: httpx.Response(200, content=success({}), headers=cookie))
    await client.call("profile")
    await client.call("place_order", PLACE_BODY)
    assert "cookie" not in recorder.requests[0].headers
    assert recorder.requests[1].headers["cookie"] == "AWSALB=affinity-1"
    _same_request(
        client.build_request(ENDPOINTS["place_order"], PLACE_BODY),
        _as_httpx_builds_it(client, "place_order", PLACE_BODY),
    )
    await client.aclose()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (gateway_failure("AG8001", "Invalid Token"), TokenExpired),
        (gateway_failure("AG8002", "Token Expired"), TokenExpired),
        (gateway_failure("AG8003", "Token missing"), TokenExpired),
        (business_failure("AB1010", "AMX Session Expired"), TokenExpired),
        (business_failure("AB8050", "Invalid refresh token"), TokenExpired),
        (business_failure("AB8051", "Refresh token expired"), TokenExpired),
        (business_failure("AB4008", "ordertag length should be less than 20 characters"), BrokerRejected),
        (business_failure("AB1009", "Symbol Not Found"), BrokerRejected),
    ],
)
async def test_error_dialects(content: bytes, error: type[Exception]) -> None:
    client, recorder, _ = make_client(lambda r: _reply(200, content))
    with pytest.raises(error):
        await client.call("order_book")
    assert len(recorder.requests) == 1  # none of these are retried
    await client.aclose()


async def test_business_failure_keeps_code_and_message() -> None:
    client, _, _ = make_client(lambda r: _reply(200, business_failure("AB1009", "Symbol Not Found")))
    with pytest.raises(BrokerRejected) as info:
        await client.call("quote", {"mode": "LTP"})
    assert (info.value.code, info.value.message) == ("AB1009", "Symbol Not Found")
    await client.aclose()


async def test_docs_style_string_status_is_understood() -> None:
    body = b'{"status":"false","message":"Symbol Not Found","errorcode":"AB1009","data":"null"}'
    client, _, _ = make_client(lambda r: _reply(200, body))
    with pytest.raises(BrokerRejected, match="AB1009"):
        await client.call("ltp", {})
    await client.aclose()


@pytest.mark.parametrize(
    ("status", "content", "error"),
    [
        (403, RATE_LIMIT_BODY, RateLimited),
        (500, b"oops", TransientError),
        (502, b"", TransientError),
        (200, business_failure("AB1004", "Something Went Wrong"), TransientError),
        (200, business_failure("AB2001", "Internal Error"), TransientError),
        (200, b"<html>not json</html>", TransientError),
    ],
)
async def test_reads_are_retried_with_backoff_then_raise(
    status: int, content: bytes, error: type[Exception]
) -> None:
    client, recorder, clock = make_client(lambda r: _reply(status, content), read_retry_attempts=3)
    with pytest.raises(error):
        await drive(clock, client.call("order_book"))
    assert len(recorder.requests) == 4
    # Backoff took simulated time (the clock, never the wall clock).
    assert clock.monotonic() > 0.5
    await client.aclose()


async def test_read_recovers_after_transient_failures() -> None:
    answers = iter([_reply(403, RATE_LIMIT_BODY), _reply(503, b""), _reply(200, success([]))])
    client, recorder, clock = make_client(lambda r: next(answers))
    assert await drive(clock, client.call("position")) == []
    assert len(recorder.requests) == 3
    await client.aclose()


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (500, b"oops"),
        (504, b""),
        (200, b"garbage"),
        (200, b'{"unexpected": true}'),
        (200, business_failure("AB1004", "Something Went Wrong")),
    ],
)
async def test_order_writes_become_unresolved_and_are_never_retried(status: int, content: bytes) -> None:
    client, recorder, clock = make_client(lambda r: _reply(status, content), read_retry_attempts=5)
    for endpoint in ("place_order", "modify_order", "cancel_order"):
        with pytest.raises(UnresolvedOrder) as info:
            await drive(clock, client.call(endpoint, PLACE_BODY, ordertag="t1"))
        assert info.value.ordertag == "t1"
    assert len(recorder.requests) == 3
    await client.aclose()


async def test_timeout_after_send_is_unresolved_for_orders_transient_for_reads() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client, recorder, clock = make_client(timeout, read_retry_attempts=1)
    with pytest.raises(UnresolvedOrder, match="ReadTimeout"):
        await drive(clock, client.call("place_order", PLACE_BODY, ordertag="t1"))
    assert len(recorder.requests) == 1
    with pytest.raises(TransientError):
        await drive(clock, client.call("order_book"))
    assert len(recorder.requests) == 3
    await client.aclose()


async def test_connect_error_before_send_is_transient_even_for_orders() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, recorder, clock = make_client(refuse)
    with pytest.raises(TransientError, match="cannot connect"):
        await drive(clock, client.call("place_order", PLACE_BODY, ordertag="t1"))
    assert len(recorder.requests) == 1
    await client.aclose()


async def test_rate_limited_order_is_definitely_not_placed() -> None:
    client, recorder, clock = make_client(lambda r: _reply(403, RATE_LIMIT_BODY))
    with pytest.raises(RateLimited):
        await drive(clock, client.call("place_order", PLACE_BODY, ordertag="t1"))
    assert len(recorder.requests) == 1
    await client.aclose()


async def test_http_400_empty_body_is_a_rejection_not_retried() -> None:
    client, recorder, _ = make_client(lambda r: _reply(400, b""))
    with pytest.raises(BrokerRejected, match="HTTP400"):
        await client.call("candles", {"interval": "BOGUS"})
    assert len(recorder.requests) == 1
    await client.aclose()


async def test_wrong_login_is_authentication_failed_without_secrets() -> None:
    client, _, _ = make_client(
        lambda r: _reply(200, business_failure("AB1050", "Invalid totp and client combination")), token=None
    )
    with pytest.raises(AuthenticationFailed) as info:
        await client.call("login", {"clientcode": "A1", "password": "4321", "totp": "987654"})
    assert info.value.code == "AB1050"
    assert "4321" not in str(info.value) and "987654" not in str(info.value)
    await client.aclose()


async def test_secure_call_without_session_is_token_expired_and_nothing_is_sent() -> None:
    client, recorder, _ = make_client(lambda r: _reply(200, success({})), token=None)
    with pytest.raises(TokenExpired):
        await client.call("profile")
    assert recorder.requests == []
    await client.aclose()


def test_base_url_policy() -> None:
    assert check_base_url("https://apiconnect.angelone.in/") == "https://apiconnect.angelone.in"
    assert check_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert check_base_url("http://localhost:1") == "http://localhost:1"
    assert check_base_url("ws://[::1]:9000") == "ws://[::1]:9000"
    with pytest.raises(UserError, match="only allowed for loopback"):
        check_base_url("http://apiconnect.angelone.in")
    with pytest.raises(UserError, match="unsupported scheme"):
        check_base_url("ftp://127.0.0.1")
    with pytest.raises(UserError, match="no host"):
        check_base_url("https://")
    with pytest.raises(UserError):
        AngelOneRestClient(BrokerSettings(rest_base_url="http://10.0.0.1:80"), SimClock(START), "k")


def test_mac_address_is_stable() -> None:
    assert mac_address() == mac_address()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    status=st.sampled_from([200, 201, 400, 401, 403, 404, 429, 500, 502, 503]),
    body=st.one_of(
        st.binary(max_size=64),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["status", "success", "data", "errorcode", "errorCode", "message"]),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=8,
        ).map(lambda value: orjson.dumps(value)),
    ),
    endpoint=st.sampled_from(sorted(ENDPOINTS)),
)
def test_any_reply_maps_to_data_or_a_broker_error(status: int, body: bytes, endpoint: str) -> None:
    """Bad input never escapes as a KeyError/TypeError; order writes never become 'transient'."""
    spec = ENDPOINTS[endpoint]
    try:
        interpret_response(spec, status, body, "tag")
    except BrokerError as exc:
        if spec.kind is SendKind.ORDER_WRITE:
            assert not isinstance(exc, TransientError)


async def test_the_servers_date_header_is_kept_for_the_clock_check() -> None:
    """Spec §1.4/§13.8: the startup health check compares the host clock with the server's."""
    stamp = "Mon, 07 Dec 2026 03:40:12 GMT"
    client, _, _ = make_client(
        lambda r: httpx.Response(200, content=success({"x": 1}), headers={"Date": stamp})
    )
    assert client.last_date_header is None
    await client.call("profile")
    assert client.last_date_header == stamp
    await client.aclose()

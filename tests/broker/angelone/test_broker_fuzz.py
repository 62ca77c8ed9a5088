"""Malformed broker replies become broker errors, never bare exceptions (issue 18: a bare ValueError
escaped `AngelOneBroker.ltp()` after 2 x 10^5 fuzzed replies). The replies go through the real REST
client (HTTP status, envelope, mapping) over an in-memory transport."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.errors import BrokerError
from optbot.config.sections.broker import BrokerSettings
from optbot.core.enums import Exchange

from .helpers import make_client

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)  # what JSON encoders carry
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "-", "NA", "null", "1,234.5", "- 12.5", "1e400", "NaN", "Infinity", "12..5"])
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def ltp_replies(draw: st.DrawFn) -> tuple[int, bytes]:
    """An HTTP status and body: mostly envelopes of the right shape with a hostile `data`/`ltp`."""
    status = draw(st.sampled_from([200] * 8 + [400, 403, 500, 503]))
    shape = draw(st.sampled_from(["ltp", "data", "envelope", "bytes"]))
    if shape == "bytes":
        return status, draw(st.binary(max_size=64))
    if shape == "envelope":
        return status, orjson.dumps(draw(JSON))
    flag = draw(st.sampled_from([True, "true", "TRUE", False, None, 1]))
    if shape == "data":
        body: dict[str, Any] = {"status": flag, "message": "SUCCESS", "errorcode": "", "data": draw(JSON)}
    else:
        data = {"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "ltp": draw(JSON)}
        body = {"status": flag, "message": "SUCCESS", "errorcode": "", "data": data}
    return status, orjson.dumps(body)


def _ltp_once(status: int, content: bytes) -> None:
    client, _, clock = make_client(
        lambda request: httpx.Response(status, content=content), read_retry_attempts=0
    )
    broker = AngelOneBroker(client, clock, BrokerSettings())

    async def ask() -> None:
        try:
            price = await broker.ltp(Exchange.NSE, "SBIN-EQ", "3045")
        except BrokerError:
            return  # the typed failure the engine handles
        finally:
            await client.aclose()
        assert isinstance(price, float) and math.isfinite(price) and price > 0, price

    asyncio.run(ask())


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(ltp_replies())
def test_every_malformed_ltp_reply_is_a_broker_error(reply: tuple[int, bytes]) -> None:
    _ltp_once(*reply)


@pytest.mark.parametrize(
    "ltp", ["abc", "1e400", [], {"x": 1}, True, "NaN", None, 0, -3.5, "", "- 0"], ids=repr
)
def test_known_bad_ltp_values_are_broker_errors(ltp: object) -> None:
    body = {"status": True, "message": "SUCCESS", "errorcode": "", "data": {"ltp": ltp}}
    with pytest.raises(BrokerError):
        client, _, clock = make_client(
            lambda request: httpx.Response(200, content=orjson.dumps(body)), read_retry_attempts=0
        )
        asyncio.run(AngelOneBroker(client, clock, BrokerSettings()).ltp(Exchange.NSE, "SBIN-EQ", "3045"))

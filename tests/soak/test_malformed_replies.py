"""10^5 malformed REST replies through the production client and broker adapter.

Every call must return a value or raise a `BrokerError` (which the engine knows how to handle); any
other exception escaping (a bare ValueError, KeyError, TypeError) is a defect the figures count.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.errors import BrokerError
from optbot.config.sections.broker import BrokerSettings
from optbot.core.enums import Exchange
from tests.broker.angelone.helpers import drive, make_client
from tests.soak.figures import CampaignRow, record, record_campaign

REPLIES = 100_000

SCALARS: list[Any] = [None, "", "x", "NaN", "1e999", -1, 0, 3.5, True, [], {}, "2026-13-45", "null"]
KEYS = [
    "ltp",
    "orderid",
    "status",
    "orderstatus",
    "filledshares",
    "averageprice",
    "price",
    "quantity",
    "tradingsymbol",
    "symboltoken",
    "exchange",
    "fillid",
    "fillsize",
    "netqty",
    "availablecash",
    "utiliseddebits",
    "fetched",
    "unfetched",
    "data",
    "net",
    "transactiontype",
    "uniqueorderid",
]


def _garbage(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 2 or roll < 0.4:
        return rng.choice(SCALARS)
    if roll < 0.7:
        return {rng.choice(KEYS): _garbage(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    return [_garbage(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def _reply(rng: random.Random) -> httpx.Response:
    kind = rng.randrange(8)
    if kind == 0:
        return httpx.Response(rng.choice([200, 400, 403, 404, 429, 500, 502, 503]), text="<html>oops</html>")
    if kind == 1:
        return httpx.Response(
            200, text=json.dumps({"status": True, "data": _garbage(rng)})[: rng.randint(0, 60)]
        )
    if kind == 2:
        return httpx.Response(200, json=_garbage(rng))
    envelope: dict[str, Any] = {
        "status": rng.choice([True, False, None, "true"]),
        "message": rng.choice(["SUCCESS", "", None, 7]),
        "errorcode": rng.choice(["", "AB1004", "AG8001", "AB2001", None, 5]),
        "data": _garbage(rng),
    }
    if rng.random() < 0.3:
        del envelope[rng.choice(list(envelope))]
    return httpx.Response(rng.choice([200, 200, 200, 400, 500]), json=envelope)


def _calls(broker: AngelOneBroker) -> list[Callable[[], Awaitable[Any]]]:
    return [
        lambda: broker.ltp(Exchange.NFO, "NIFTY26AUG2624800CE", "43210"),
        lambda: broker.quotes("FULL", {Exchange.NFO: ["43210"]}),
        broker.order_book,
        broker.trade_book,
        broker.positions,
        broker.funds,
        lambda: broker.order_details("6f1c3a8e-0000-4000-8000-000000000000"),
    ]


@pytest.mark.soak
async def test_a_hundred_thousand_malformed_replies_raise_only_broker_errors() -> None:
    rng = random.Random(18)
    client, _recorder, clock = make_client(lambda request: _reply(rng), read_retry_attempts=0)
    broker = AngelOneBroker(client, clock, BrokerSettings(read_retry_attempts=0))
    calls = _calls(broker)
    outcomes: Counter[str] = Counter()
    escaped: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for number in range(REPLIES):
        call = calls[number % len(calls)]
        try:
            await drive(clock, call())
            outcomes["value"] += 1
        except BrokerError:
            outcomes["broker error"] += 1
        except Exception as exc:
            key = f"{type(exc).__name__} from call {number % len(calls)}"
            escaped[key] += 1
            examples.setdefault(key, str(exc)[:200])
        clock.advance(1.0)  # past every per-second rate window
    await asyncio.sleep(0)
    record("malformed REST replies", "replies", REPLIES, ">= 100,000")
    record("malformed REST replies", "parsed to a value", outcomes["value"])
    record("malformed REST replies", "refused as a BrokerError", outcomes["broker error"])
    record("malformed REST replies", "other exceptions escaping", sum(escaped.values()), "0")
    record_campaign(
        CampaignRow(
            "malformed REST replies",
            runs=REPLIES,
            faults=REPLIES,
            met=not escaped,
            note=f"{sum(escaped.values())} non-BrokerError exceptions escaped",
        )
    )
    assert not escaped, {key: (count, examples[key]) for key, count in escaped.items()}

"""httpx helpers shared by the simulator's REST tests."""

from __future__ import annotations

from typing import Any

import httpx

from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT, StaticMarket
from tests.sim.conftest import totp_now

LOGIN = "/rest/auth/angelbroking/user/v1/loginByPassword"
SECURE = "/rest/secure/angelbroking"


def headers(
    jwt: str | None = None, api_key: str = TEST_ACCOUNT.api_key, bearer: bool = True
) -> dict[str, str]:
    result = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-UserType": "USER",
        "X-SourceID": "WEB",
        "X-ClientLocalIP": "127.0.0.1",
        "X-ClientPublicIP": "106.193.147.98",
        "X-MACAddress": "00:00:00:00:00:00",
        "X-PrivateKey": api_key,
    }
    if jwt is not None:
        result["Authorization"] = f"Bearer {jwt}" if bearer else jwt
    return result


async def login(client: httpx.AsyncClient, clock: SimClock) -> dict[str, Any]:
    reply = await client.post(
        LOGIN,
        headers=headers(),
        json={"clientcode": TEST_ACCOUNT.client_code, "password": TEST_ACCOUNT.pin, "totp": totp_now(clock)},
    )
    body = reply.json()
    assert body["status"] is True, body
    return dict(body["data"])


def option_order(market: StaticMarket, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "variety": "NORMAL",
        "tradingsymbol": market.symbol("NFO", NIFTY_CE_TOKEN),
        "symboltoken": NIFTY_CE_TOKEN,
        "exchange": "NFO",
        "transactiontype": "BUY",
        "ordertype": "LIMIT",
        "producttype": "CARRYFORWARD",
        "duration": "DAY",
        "quantity": "75",
        "price": "150.05",
        "ordertag": "test1",
    }
    body.update(overrides)
    return body


def client_for(sim: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=sim.base_url, timeout=5.0)
